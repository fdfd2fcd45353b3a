"""The runtime and what it hands out: ``rt.events``, ``rt.logs``, ``rt.subscriptions``,
receivers and bgapi jobs."""

from __future__ import annotations

from ._hub import EventReceiver as EventReceiver
from ._jobs import BackgroundJob as BackgroundJob
from ._logs import LogStream as LogStream
from ._receivers import GapReason as GapReason
from ._receivers import Overflow as Overflow
from ._receivers import Receiver as Receiver
from ._receivers import StreamGap as StreamGap
from ._runtime import EslRuntime as EslRuntime
from ._runtime import EventStream as EventStream
from ._runtime import open_esl_runtime as open_esl_runtime
from ._subscriptions import Subscriptions as Subscriptions
from ._subscriptions import SubscriptionState as SubscriptionState

__all__ = [
    "BackgroundJob",
    "EslRuntime",
    "EventReceiver",
    "EventStream",
    "GapReason",
    "LogStream",
    "Overflow",
    "Receiver",
    "StreamGap",
    "SubscriptionState",
    "Subscriptions",
    "open_esl_runtime",
]
