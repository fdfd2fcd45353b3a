"""Errors of the sans-I/O core.

The tree follows h11: an abstract :class:`ProtocolError` with one branch for "you did it"
(:class:`LocalProtocolError`: we were asked to produce bytes that would break the protocol)
and one for "they did it" (:class:`RemoteProtocolError`: the peer sent bytes we cannot accept).
Remote errors are sticky: once a parser raised one, every later call raises it again, because
an ESL stream has no resynchronisation point (replies carry no ids).

::

    EslError
     ├─ RefusedError                                 refused before anything was written
     │   └─ InvalidArgumentError (also a ValueError) the request itself is invalid
     ├─ ProtocolError (abstract)
     │   ├─ LocalProtocolError (also InvalidArgumentError)  invalid field, CR/LF injection
     │   └─ RemoteProtocolError                      malformed frame, limit exceeded, truncation
     │       └─ TruncatedFrameError                  EOF in the middle of a frame
     └─ EventDecodeError (also a ValueError)         framing sound, event payload undecodable
"""

from __future__ import annotations

__all__ = [
    "EslError",
    "EventDecodeError",
    "InvalidArgumentError",
    "LocalProtocolError",
    "ProtocolError",
    "RefusedError",
    "RemoteProtocolError",
    "TruncatedFrameError",
]


class EslError(Exception):
    """Root of every exception esl-trio raises on purpose."""


class RefusedError(EslError):
    """The request was refused before anything was written: FreeSWITCH never saw it.

    The runtime's gating errors (not ready, backpressure, shutting down) and invalid arguments
    derive from it. :attr:`written` is always ``False``, so it reads like the errors for work
    that was cut after it was accepted.
    """

    written = False


class InvalidArgumentError(RefusedError, ValueError):
    """An argument can never be sent as given (nothing was written). Fix it; never retry as is."""


class ProtocolError(EslError):
    """Abstract: the Event Socket protocol was violated. Catch this, raise a subclass."""

    def __init__(self, *args: object) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise a subclass")
        super().__init__(*args)


class LocalProtocolError(ProtocolError, InvalidArgumentError):
    """We were asked to send something the protocol cannot carry (nothing was written).

    Typical cause: a CR or LF inside a command argument, which would otherwise inject a second
    command, or whitespace inside a token such as an api command name.
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not a valid Event Socket stream.

    The connection cannot be trusted any more and must be closed.
    """


class TruncatedFrameError(RemoteProtocolError):
    """The stream ended in the middle of a frame."""


class EventDecodeError(EslError, ValueError):
    """An event frame arrived intact, but its payload could not be decoded.

    This is not a protocol error: the connection stays usable. FreeSWITCH itself emits
    ill-formed XML for some bodies. The raw bytes stay available on the event.
    """
