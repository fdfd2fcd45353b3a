"""The values a call reports: its channel state, how it ended, and the call errors."""

from __future__ import annotations

from typing import Final

import attrs

from ._errors import CallError
from .protocol import Event

__all__ = [
    "ENDED_WHILE_DISCONNECTED",
    "CallEndedError",
    "CallState",
    "Hangup",
    "OriginateError",
]

#: The cause :meth:`Call.wait_hangup` reports for a channel that ended while the runtime was
#: disconnected: FreeSWITCH's real cause went out in events nobody received.
ENDED_WHILE_DISCONNECTED: Final = "ENDED_WHILE_DISCONNECTED"


@attrs.frozen
class CallState:
    """The last channel state seen in the call's events ("" until one said so).

    Attributes:
        channel_state: ``Channel-State`` (``CS_EXECUTE``, ``CS_HANGUP``...).
        call_state: ``Channel-Call-State`` (``RINGING``, ``EARLY``, ``ACTIVE``, ``HANGUP``...).
        answer_state: ``Answer-State`` (``ringing``, ``early``, ``answered``, ``hangup``).
    """

    channel_state: str = ""
    call_state: str = ""
    answer_state: str = ""


@attrs.frozen
class Hangup:
    """How a call ended.

    Attributes:
        cause: FreeSWITCH's hangup cause (``NORMAL_CLEARING``, ``USER_BUSY``...), or
            :data:`ENDED_WHILE_DISCONNECTED`.
        while_disconnected: the channel was gone when the runtime reconnected; its events
            (and its real cause) were lost.
        event: the CHANNEL_HANGUP (or originate result) that said so; None when inferred.
    """

    cause: str
    while_disconnected: bool = False
    event: Event | None = attrs.field(default=None, eq=False, repr=False)


class OriginateError(CallError):
    """The call was not set up; :attr:`cause` is FreeSWITCH's hangup cause.

    ``NO_ANSWER``, ``USER_BUSY``, ``NO_ROUTE_DESTINATION``, ``CALL_REJECTED``..., or
    :data:`ENDED_WHILE_DISCONNECTED` when the connection was lost during the originate and the
    channel did not exist afterwards (it was not dialled again).
    """

    def __init__(self, destination: str, cause: str, *, while_disconnected: bool = False) -> None:
        hint = (
            " (the connection was lost meanwhile; not dialled again)" if while_disconnected else ""
        )
        super().__init__(f"originate {destination}: {cause}{hint}")
        self.destination = destination
        self.cause = cause
        self.while_disconnected = while_disconnected


class CallEndedError(CallError):
    """The channel hung up before what was awaited happened; :attr:`hangup` says how."""

    def __init__(self, uuid: str, what: str, hangup: Hangup) -> None:
        super().__init__(f"call {uuid} ended ({hangup.cause}) before {what}")
        self.uuid = uuid
        self.hangup = hangup
