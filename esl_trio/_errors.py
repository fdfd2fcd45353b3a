"""The runtime's exception tree (the protocol errors are re-exported from the core).

Every exception esl-trio raises on purpose derives from :class:`EslError`. Under it, one
base per *category*, so a handler can say what it means ("was anything sent?") instead of
listing classes; the leaves say exactly what happened::

    EslError
     ├─ RefusedError                              refused before anything was written
     │   ├─ InvalidArgumentError (also ValueError) the request is invalid: fix it, never retry
     │   │   ├─ LocalProtocolError                 an argument would break the protocol
     │   │   └─ UnknownEventNameError              FreeSWITCH has no event by that name
     │   ├─ NotReadyError                          no authenticated connection right now
     │   ├─ BackpressureError                      too much accepted work; retry later
     │   └─ DrainRefusedError (also DrainError)    shutting down: new work is refused
     ├─ WorkInterruptedError                       accepted work was cut; see ``written``
     │   ├─ ConnectionLostError                    the socket died with this work in flight
     │   └─ DrainCutError (also DrainError)        the drain deadline cut this work
     ├─ DrainError                                 the runtime is shutting down (either way)
     ├─ EslTimeoutError (also TimeoutError)        one of the runtime's deadlines expired
     │   └─ CommandTimeoutError                    ... waiting for a reply or a handshake step
     ├─ ServerError                                FreeSWITCH answered ``-ERR``
     │   └─ CommandError                           ... to this command
     ├─ ConnectionSetupError                       no authenticated session could be made
     │   ├─ ConnectError (also OSError)            TCP connect failed (retryable)
     │   ├─ AuthenticationError                    the credentials were refused (terminal)
     │   └─ HandshakeError                         not FreeSWITCH, or an ACL refusal (terminal)
     ├─ CallError                                  a call did not go as asked
     │   ├─ OriginateError                         not set up; ``cause`` is the hangup cause
     │   └─ CallEndedError                         hung up before what was awaited
     ├─ ProtocolError (abstract)
     │   ├─ LocalProtocolError                     (also InvalidArgumentError, above)
     │   └─ RemoteProtocolError                    the server sent an invalid stream
     │       └─ TruncatedFrameError                the stream ended inside a frame
     └─ EventDecodeError (also ValueError)         one event payload could not be decoded

Every :class:`RefusedError` and :class:`WorkInterruptedError` (and every :class:`DrainError`)
has ``written``: ``False`` means FreeSWITCH never received the command, so a retry is safe;
``True`` means it may have run it (an ``originate`` may have dialled).
"""

from __future__ import annotations

from .protocol._errors import (
    EslError,
    EventDecodeError,
    InvalidArgumentError,
    LocalProtocolError,
    ProtocolError,
    RefusedError,
    RemoteProtocolError,
    TruncatedFrameError,
)

__all__ = [
    "AuthenticationError",
    "CallError",
    "BackpressureError",
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
    "ProtocolError",
    "RefusedError",
    "RemoteProtocolError",
    "ServerError",
    "TruncatedFrameError",
    "UnknownEventNameError",
    "WorkInterruptedError",
]


# -- refused, nothing written ---------------------------------------------------------


class UnknownEventNameError(InvalidArgumentError):
    """FreeSWITCH knows no event by this name (nothing was written).

    FreeSWITCH itself would answer ``-ERR`` or, worse, silently subscribe to nothing.
    :attr:`suggestions` holds the closest known names; an event of your own is
    ``CUSTOM`` with a subclass name.
    """

    def __init__(self, name: str, suggestions: tuple[str, ...], *, hint: str = "") -> None:
        if not hint:
            hint = f"did you mean {' or '.join(suggestions)}?" if suggestions else "no close match"
        super().__init__(
            f"unknown FreeSWITCH event name {name!r} ({hint}); "
            "an event of your own is subscribed as CUSTOM <subclass>"
        )
        self.name = name
        self.suggestions = suggestions


class NotReadyError(RefusedError):
    """No authenticated connection right now (connecting, reconnecting, or closed)."""


class BackpressureError(RefusedError):
    """Accepted work is at the configured limit; nothing was queued. Retry later."""


# -- accepted work that was cut -------------------------------------------------------


class WorkInterruptedError(EslError):
    """Work was accepted, then cut before its answer arrived.

    :attr:`written` tells whether the command reached the socket: if it did, FreeSWITCH may
    have executed it, so retrying is not always safe.
    """

    def __init__(self, message: str, *, written: bool) -> None:
        super().__init__(message)
        self.written = written


class ConnectionLostError(WorkInterruptedError):
    """The connection ended while this work was queued or in flight (see :attr:`written`)."""


class DrainError(EslError):
    """The runtime is shutting down: new work is refused, unfinished work is cut at the deadline.

    Raised as :class:`DrainRefusedError` (nothing written) or :class:`DrainCutError`
    (:attr:`written` says whether the command had reached the socket); catch this class for
    both.
    """

    def __init__(self, message: str, *, written: bool = False) -> None:
        super().__init__(message)
        self.written = written


class DrainRefusedError(DrainError, RefusedError):
    """The runtime is draining: this new work was refused before anything was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, written=False)


class DrainCutError(DrainError, WorkInterruptedError):
    """The drain deadline expired with this work unfinished (see :attr:`written`)."""

    def __init__(self, message: str, *, written: bool) -> None:
        # Skip DrainError's __init__: its super() call would reach WorkInterruptedError
        # without ``written``. WorkInterruptedError sets the same attribute.
        WorkInterruptedError.__init__(self, message, written=written)


# -- deadlines ------------------------------------------------------------------------


class EslTimeoutError(EslError, TimeoutError):
    """One of the runtime's own deadlines (config ``timeouts``) expired."""


class CommandTimeoutError(EslTimeoutError):
    """No answer to ``command`` within ``timeout`` seconds (config ``timeouts``)."""

    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"{command}: no answer within {timeout:g} s")
        self.command = command
        self.timeout = timeout


# -- the server said no ---------------------------------------------------------------


class ServerError(EslError):
    """FreeSWITCH received the request and answered ``-ERR``: a real answer, not a fault."""


class CommandError(ServerError):
    """FreeSWITCH answered a command with ``-ERR`` (the reply text is in :attr:`reply_text`)."""

    def __init__(self, command: str, reply_text: str) -> None:
        super().__init__(f"{command}: {reply_text}")
        self.command = command
        self.reply_text = reply_text

    @property
    def reason(self) -> str:
        """The text after ``-ERR``."""
        return self.reply_text.removeprefix("-ERR").strip()


# -- no session -----------------------------------------------------------------------


class CallError(EslError):
    """A call (``rt.originate`` / ``rt.attach``) did not go as asked; see the subclasses."""


class ConnectionSetupError(EslError):
    """No authenticated session could be established (connect, greeting or auth failed)."""


class ConnectError(ConnectionSetupError, OSError):
    """Could not open the TCP connection (refused, unreachable, DNS). Retryable."""


class AuthenticationError(ConnectionSetupError):
    """FreeSWITCH rejected the password (``-ERR invalid``). Not retried: fix the credentials."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"authentication rejected by FreeSWITCH: -ERR {reason}".rstrip())
        self.reason = reason


class HandshakeError(ConnectionSetupError):
    """The server did not behave like FreeSWITCH during the handshake (or refused us by ACL)."""
