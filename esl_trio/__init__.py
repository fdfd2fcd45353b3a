"""esl-trio: a Trio-native runtime for FreeSWITCH's Event Socket, inbound and outbound.

::

    import trio
    from esl_trio import RuntimeConfig, open_esl_runtime

    async def main() -> None:
        config = RuntimeConfig(host="127.0.0.1", password="ClueCon")
        async with open_esl_runtime(config) as rt:
            print((await rt.api("status")).text)

    trio.run(main)

The top level holds what almost every program uses; the rest lives in public modules:
``esl_trio.config`` (configuration groups), ``esl_trio.errors`` (every exception),
``esl_trio.health`` (snapshots, states, transitions), ``esl_trio.calls``, ``esl_trio.outbound``
(the server FreeSWITCH's dialplan ``socket`` connects to), ``esl_trio.replay``,
``esl_trio.runtime``, ``esl_trio.protocol`` (the sans-I/O core and its types) and
``esl_trio.testing``. Each module's ``__all__`` is its public API (pinned by a test); modules
starting with ``_`` are private. See docs/stability.md for the stability policy.
"""

import logging as _logging
import warnings as _warnings
from typing import Any as _Any

from ._call import Call as Call
from ._call_values import OriginateError as OriginateError
from ._config import RuntimeConfig as RuntimeConfig
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BackpressureError as BackpressureError
from ._errors import CallError as CallError
from ._errors import CommandError as CommandError
from ._errors import CommandTimeoutError as CommandTimeoutError
from ._errors import ConnectError as ConnectError
from ._errors import ConnectionLostError as ConnectionLostError
from ._errors import ConnectionSetupError as ConnectionSetupError
from ._errors import DrainError as DrainError
from ._errors import EslError as EslError
from ._errors import EslTimeoutError as EslTimeoutError
from ._errors import InvalidArgumentError as InvalidArgumentError
from ._errors import NotReadyError as NotReadyError
from ._errors import RefusedError as RefusedError
from ._errors import ServerError as ServerError
from ._errors import WorkInterruptedError as WorkInterruptedError
from ._health import HealthSnapshot as HealthSnapshot
from ._jobs import BackgroundJob as BackgroundJob
from ._outbound_call import OutboundCall as OutboundCall
from ._outbound_server import open_outbound_server as open_outbound_server
from ._outbound_server import serve_outbound as serve_outbound
from ._receivers import GapReason as GapReason
from ._receivers import Overflow as Overflow
from ._receivers import Receiver as Receiver
from ._receivers import StreamGap as StreamGap
from ._runtime import EslRuntime as EslRuntime
from ._runtime import open_esl_runtime as open_esl_runtime
from ._state import RuntimeState as RuntimeState
from ._state import StateChange as StateChange
from ._version import __version__ as __version__

# A library logs, the application decides where it goes: without this, Python's last-resort
# handler would print our warnings on stderr (e.g. over the CLI's own one-line messages).
_logging.getLogger("esl_trio").addHandler(_logging.NullHandler())

__all__ = [
    "AuthenticationError",
    "BackgroundJob",
    "BackpressureError",
    "Call",
    "CallError",
    "CommandError",
    "CommandTimeoutError",
    "ConnectError",
    "ConnectionLostError",
    "ConnectionSetupError",
    "DrainError",
    "EslError",
    "EslRuntime",
    "EslTimeoutError",
    "GapReason",
    "HealthSnapshot",
    "InvalidArgumentError",
    "NotReadyError",
    "OriginateError",
    "OutboundCall",
    "Overflow",
    "Receiver",
    "RefusedError",
    "RuntimeConfig",
    "RuntimeState",
    "ServerError",
    "StateChange",
    "StreamGap",
    "WorkInterruptedError",
    "__version__",
    "open_esl_runtime",
    "open_outbound_server",
    "serve_outbound",
]

#: Names the top level exported before 0.2, and where they live now (see CHANGELOG.md).
_MOVED = {
    "ApiReply": "esl_trio.protocol",
    "BackgroundJobEvent": "esl_trio.protocol",
    "BackpressureConfig": "esl_trio.config",
    "CallEndedError": "esl_trio.errors",
    "CallState": "esl_trio.calls",
    "ChannelEvent": "esl_trio.protocol",
    "CommandReply": "esl_trio.protocol",
    "Connector": "esl_trio.config",
    "CustomEvent": "esl_trio.protocol",
    "DrainCutError": "esl_trio.errors",
    "DrainRefusedError": "esl_trio.errors",
    "ENDED_WHILE_DISCONNECTED": "esl_trio.calls",
    "ErrorRecord": "esl_trio.health",
    "Event": "esl_trio.protocol",
    "EventDecodeError": "esl_trio.errors",
    "EventEnvelope": "esl_trio.protocol",
    "EventFormat": "esl_trio.protocol",
    "EventReceiver": "esl_trio.runtime",
    "EventStream": "esl_trio.runtime",
    "HandshakeError": "esl_trio.errors",
    "Hangup": "esl_trio.calls",
    "HeartbeatConfig": "esl_trio.config",
    "HeartbeatEvent": "esl_trio.protocol",
    "JsonLinesSink": "esl_trio.replay",
    "Limits": "esl_trio.config",
    "LocalProtocolError": "esl_trio.errors",
    "LogLine": "esl_trio.protocol",
    "LogStream": "esl_trio.runtime",
    "Permissions": "esl_trio.health",
    "ProtocolError": "esl_trio.errors",
    "ReceiverStatistics": "esl_trio.health",
    "ReconnectPhase": "esl_trio.health",
    "ReconnectStatus": "esl_trio.health",
    "RemoteProtocolError": "esl_trio.errors",
    "ReplayArtifact": "esl_trio.replay",
    "ReplayConfig": "esl_trio.config",
    "ReplaySink": "esl_trio.replay",
    "RetryPolicy": "esl_trio.config",
    "SendMsg": "esl_trio.protocol",
    "StopReason": "esl_trio.health",
    "SubscriptionConfig": "esl_trio.config",
    "SubscriptionState": "esl_trio.runtime",
    "Subscriptions": "esl_trio.runtime",
    "Timeouts": "esl_trio.config",
    "TruncatedFrameError": "esl_trio.errors",
    "UnknownEventNameError": "esl_trio.errors",
    "load_capture": "esl_trio.replay",
    "tcp_connector": "esl_trio.config",
}


def __getattr__(name: str) -> _Any:
    """The old top-level names still work for one release, with a DeprecationWarning."""
    module_name = _MOVED.get(name)
    if module_name is None:
        raise AttributeError(f"module 'esl_trio' has no attribute {name!r}")
    import importlib

    _warnings.warn(
        f"esl_trio.{name} moved to {module_name}.{name}; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module_name), name)
