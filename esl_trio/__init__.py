"""esl-trio: a Trio-native runtime for FreeSWITCH's inbound Event Socket.

::

    import trio
    from esl_trio import RuntimeConfig, open_esl_runtime

    async def main() -> None:
        config = RuntimeConfig(host="127.0.0.1", password="ClueCon")
        async with open_esl_runtime(config) as rt:
            print((await rt.api("status")).text)

    trio.run(main)

The public API is what ``__all__`` lists (pinned by a test); modules starting with ``_`` are
private. See ``docs/`` for the stability policy.
"""

import logging as _logging

from ._call import Call as Call
from ._call_values import ENDED_WHILE_DISCONNECTED as ENDED_WHILE_DISCONNECTED
from ._call_values import CallEndedError as CallEndedError
from ._call_values import CallState as CallState
from ._call_values import Hangup as Hangup
from ._call_values import OriginateError as OriginateError
from ._config import BackpressureConfig as BackpressureConfig
from ._config import HeartbeatConfig as HeartbeatConfig
from ._config import Limits as Limits
from ._config import ReplayConfig as ReplayConfig
from ._config import RetryPolicy as RetryPolicy
from ._config import RuntimeConfig as RuntimeConfig
from ._config import SubscriptionConfig as SubscriptionConfig
from ._config import Timeouts as Timeouts
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BackpressureError as BackpressureError
from ._errors import CallError as CallError
from ._errors import CommandError as CommandError
from ._errors import CommandTimeoutError as CommandTimeoutError
from ._errors import ConnectError as ConnectError
from ._errors import ConnectionLostError as ConnectionLostError
from ._errors import ConnectionSetupError as ConnectionSetupError
from ._errors import DrainCutError as DrainCutError
from ._errors import DrainError as DrainError
from ._errors import DrainRefusedError as DrainRefusedError
from ._errors import EslError as EslError
from ._errors import EslTimeoutError as EslTimeoutError
from ._errors import EventDecodeError as EventDecodeError
from ._errors import HandshakeError as HandshakeError
from ._errors import InvalidArgumentError as InvalidArgumentError
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import NotReadyError as NotReadyError
from ._errors import ProtocolError as ProtocolError
from ._errors import RefusedError as RefusedError
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import ServerError as ServerError
from ._errors import TruncatedFrameError as TruncatedFrameError
from ._errors import UnknownEventNameError as UnknownEventNameError
from ._errors import WorkInterruptedError as WorkInterruptedError
from ._health import ErrorRecord as ErrorRecord
from ._health import HealthSnapshot as HealthSnapshot
from ._health import Permissions as Permissions
from ._health import ReconnectStatus as ReconnectStatus
from ._hub import EventReceiver as EventReceiver
from ._jobs import BackgroundJob as BackgroundJob
from ._logs import LogStream as LogStream
from ._receivers import GapReason as GapReason
from ._receivers import Overflow as Overflow
from ._receivers import Receiver as Receiver
from ._receivers import ReceiverStatistics as ReceiverStatistics
from ._receivers import StreamGap as StreamGap
from ._replay import JsonLinesSink as JsonLinesSink
from ._replay import ReplayArtifact as ReplayArtifact
from ._replay import ReplaySink as ReplaySink
from ._replay import load_capture as load_capture
from ._runtime import EslRuntime as EslRuntime
from ._runtime import EventStream as EventStream
from ._runtime import open_esl_runtime as open_esl_runtime
from ._state import ReconnectPhase as ReconnectPhase
from ._state import RuntimeState as RuntimeState
from ._state import StopReason as StopReason
from ._subscriptions import Subscriptions as Subscriptions
from ._subscriptions import SubscriptionState as SubscriptionState
from ._transport import Connector as Connector
from ._transport import tcp_connector as tcp_connector
from ._version import __version__ as __version__
from .protocol import ApiReply as ApiReply
from .protocol import BackgroundJobEvent as BackgroundJobEvent
from .protocol import ChannelEvent as ChannelEvent
from .protocol import CommandReply as CommandReply
from .protocol import CustomEvent as CustomEvent
from .protocol import Event as Event
from .protocol import EventEnvelope as EventEnvelope
from .protocol import EventFormat as EventFormat
from .protocol import HeartbeatEvent as HeartbeatEvent
from .protocol import LogLine as LogLine
from .protocol import SendMsg as SendMsg

# A library logs, the application decides where it goes: without this, Python's last-resort
# handler would print our warnings on stderr (e.g. over the CLI's own one-line messages).
_logging.getLogger("esl_trio").addHandler(_logging.NullHandler())

__all__ = [
    "ENDED_WHILE_DISCONNECTED",
    "ApiReply",
    "AuthenticationError",
    "BackgroundJob",
    "BackgroundJobEvent",
    "BackpressureConfig",
    "BackpressureError",
    "CallError",
    "Call",
    "CallEndedError",
    "CallState",
    "ChannelEvent",
    "CommandError",
    "CommandReply",
    "CommandTimeoutError",
    "ConnectError",
    "ConnectionLostError",
    "ConnectionSetupError",
    "Connector",
    "CustomEvent",
    "DrainCutError",
    "DrainError",
    "DrainRefusedError",
    "ErrorRecord",
    "EslError",
    "EslRuntime",
    "EslTimeoutError",
    "Event",
    "EventDecodeError",
    "EventEnvelope",
    "EventFormat",
    "EventReceiver",
    "EventStream",
    "GapReason",
    "HandshakeError",
    "Hangup",
    "HealthSnapshot",
    "HeartbeatConfig",
    "HeartbeatEvent",
    "InvalidArgumentError",
    "JsonLinesSink",
    "Limits",
    "LocalProtocolError",
    "LogLine",
    "LogStream",
    "NotReadyError",
    "OriginateError",
    "Overflow",
    "Permissions",
    "ProtocolError",
    "Receiver",
    "ReceiverStatistics",
    "ReconnectPhase",
    "ReconnectStatus",
    "RefusedError",
    "RemoteProtocolError",
    "ReplayArtifact",
    "ReplayConfig",
    "ReplaySink",
    "RetryPolicy",
    "RuntimeConfig",
    "RuntimeState",
    "SendMsg",
    "ServerError",
    "StopReason",
    "StreamGap",
    "SubscriptionConfig",
    "SubscriptionState",
    "Subscriptions",
    "Timeouts",
    "TruncatedFrameError",
    "UnknownEventNameError",
    "WorkInterruptedError",
    "__version__",
    "load_capture",
    "open_esl_runtime",
    "tcp_connector",
]
