"""Calls as structured scopes: ``rt.originate()`` / ``rt.attach()`` and what they yield or raise."""

from __future__ import annotations

from ._call import Call as Call
from ._call_values import ENDED_WHILE_DISCONNECTED as ENDED_WHILE_DISCONNECTED
from ._call_values import CallEndedError as CallEndedError
from ._call_values import CallState as CallState
from ._call_values import Hangup as Hangup
from ._call_values import OriginateError as OriginateError
from ._errors import CallError as CallError

__all__ = [
    "Call",
    "CallEndedError",
    "CallError",
    "CallState",
    "ENDED_WHILE_DISCONNECTED",
    "Hangup",
    "OriginateError",
]
