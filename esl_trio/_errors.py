"""The runtime's exception tree (the protocol errors are re-exported from the core).

Every exception esl-trio raises on purpose derives from :class:`EslError`::

    EslError
     ├─ ProtocolError (abstract)
     │   ├─ LocalProtocolError (also ValueError)  a command argument would break the protocol
     │   └─ RemoteProtocolError                   the server sent an invalid stream
     │       └─ TruncatedFrameError
     ├─ EventDecodeError (also ValueError)        one event payload could not be decoded
     ├─ ConnectError (also OSError)               TCP connect failed (retryable)
     ├─ AuthenticationError                       the server refused the credentials (terminal)
     ├─ HandshakeError                            unexpected greeting, rude rejection (terminal)
     ├─ ConnectionLostError                       the socket died with this work in flight
     ├─ CommandError                              the server answered -ERR
     ├─ CommandTimeoutError (also TimeoutError)   a runtime deadline expired
     ├─ NotReadyError                             no authenticated connection right now
     ├─ BackpressureError                         too much accepted work; retry later
     └─ DrainError                                the runtime is shutting down

Gating errors (:class:`NotReadyError`, :class:`BackpressureError`, :class:`DrainError`) are
raised by the awaited call itself, before anything is written.
"""

from __future__ import annotations

from .protocol._errors import (
    EslError,
    EventDecodeError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    TruncatedFrameError,
)

__all__ = [
    "AuthenticationError",
    "BackpressureError",
    "CommandError",
    "CommandTimeoutError",
    "ConnectError",
    "ConnectionLostError",
    "DrainError",
    "EslError",
    "EventDecodeError",
    "HandshakeError",
    "LocalProtocolError",
    "NotReadyError",
    "ProtocolError",
    "RemoteProtocolError",
    "TruncatedFrameError",
]


class ConnectError(EslError, OSError):
    """Could not open the TCP connection (refused, unreachable, DNS). Retryable."""


class AuthenticationError(EslError):
    """FreeSWITCH rejected the password (``-ERR invalid``). Not retried: fix the credentials."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"authentication rejected by FreeSWITCH: -ERR {reason}".rstrip())
        self.reason = reason


class HandshakeError(EslError):
    """The server did not behave like FreeSWITCH during the handshake (or refused us by ACL)."""


class ConnectionLostError(EslError):
    """The connection ended while this work was queued or in flight.

    :attr:`written` tells whether the command reached the socket: if it did, FreeSWITCH may
    have executed it (an ``originate`` may have dialled), so retrying is not always safe.
    """

    def __init__(self, message: str, *, written: bool) -> None:
        super().__init__(message)
        self.written = written


class CommandError(EslError):
    """FreeSWITCH answered a command with ``-ERR`` (the reply text is in :attr:`reply_text`)."""

    def __init__(self, command: str, reply_text: str) -> None:
        super().__init__(f"{command}: {reply_text}")
        self.command = command
        self.reply_text = reply_text

    @property
    def reason(self) -> str:
        """The text after ``-ERR``."""
        return self.reply_text.removeprefix("-ERR").strip()


class CommandTimeoutError(EslError, TimeoutError):
    """One of the runtime's own deadlines (config ``timeouts``) expired."""

    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"{command}: no answer within {timeout:g} s")
        self.command = command
        self.timeout = timeout


class NotReadyError(EslError):
    """No authenticated connection right now (connecting, reconnecting, or closed)."""


class BackpressureError(EslError):
    """Accepted work is at the configured limit; nothing was queued. Retry later."""


class DrainError(EslError):
    """The runtime is shutting down: new work is refused, unfinished work is cut at the deadline."""
