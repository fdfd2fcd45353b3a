"""Every exception esl-trio raises on purpose: one tree under :class:`EslError`.

The tree, with one base per category, is drawn in docs/errors.md.
"""

from __future__ import annotations

from ._call_values import CallEndedError as CallEndedError
from ._call_values import OriginateError as OriginateError
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

__all__ = [
    "AuthenticationError",
    "BackpressureError",
    "CallEndedError",
    "CallError",
    "CommandError",
    "CommandTimeoutError",
    "ConnectError",
    "ConnectionLostError",
    "ConnectionSetupError",
    "DrainCutError",
    "DrainError",
    "DrainRefusedError",
    "EslError",
    "EslTimeoutError",
    "EventDecodeError",
    "HandshakeError",
    "InvalidArgumentError",
    "LocalProtocolError",
    "NotReadyError",
    "OriginateError",
    "ProtocolError",
    "RefusedError",
    "RemoteProtocolError",
    "ServerError",
    "TruncatedFrameError",
    "UnknownEventNameError",
    "WorkInterruptedError",
]
