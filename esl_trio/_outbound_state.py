"""The lifecycle of one outbound connection: one transition table, like the runtime's.

::

    CONNECTING ──connected──▶ HANDLING ──hung_up / lost──▶ ENDING
        │ │                      │                           │
        │ └─over_limit─▶ REFUSING│handler_done               │handler_done
        │                  │     ▼                           ▼
        └──lost──▶ CLOSED ◀┴── FINISHING ◀───────────────────┘
                              (hang up if owed, close)

``hung_up`` is the disconnect notice (FreeSWITCH says the channel is gone); ``lost`` is the
socket ending without one (EOF, garbage, a reply or write deadline). Either starts the
handler's grace period. Triggers that arrive after they stopped mattering (a notice during
FINISHING) leave the state as it is; anything else not in the table is a bug.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["OutboundLifecycle", "OutboundState", "OutboundTrigger"]


class OutboundState(enum.Enum):
    CONNECTING = "connecting"  #: accepted; ``connect`` sent, the channel data not yet read
    REFUSING = "refusing"  #: over ``max_calls``: hanging the call up with the refuse cause
    HANDLING = "handling"  #: the handler runs; the channel is up
    ENDING = "ending"  #: the channel or the socket is gone; the handler is in its grace
    FINISHING = "finishing"  #: the handler is done: the owed hangup, then the socket closes
    CLOSED = "closed"


class OutboundTrigger(enum.Enum):
    CONNECTED = "connected"
    OVER_LIMIT = "over_limit"
    HUNG_UP = "hung_up"
    LOST = "lost"
    HANDLER_DONE = "handler_done"
    CLOSED = "closed"


S, T = OutboundState, OutboundTrigger

_TABLE: Final[dict[tuple[OutboundState, OutboundTrigger], OutboundState]] = {
    (S.CONNECTING, T.CONNECTED): S.HANDLING,
    (S.CONNECTING, T.OVER_LIMIT): S.REFUSING,
    (S.CONNECTING, T.LOST): S.CLOSED,
    (S.CONNECTING, T.CLOSED): S.CLOSED,
    (S.REFUSING, T.CLOSED): S.CLOSED,
    (S.HANDLING, T.HUNG_UP): S.ENDING,
    (S.HANDLING, T.LOST): S.ENDING,
    (S.HANDLING, T.HANDLER_DONE): S.FINISHING,
    (S.ENDING, T.HANDLER_DONE): S.FINISHING,
    (S.FINISHING, T.CLOSED): S.CLOSED,
    # Cancelled from outside (the server's nursery): the socket closes wherever it stood.
    (S.HANDLING, T.CLOSED): S.CLOSED,
    (S.ENDING, T.CLOSED): S.CLOSED,
}

#: Late news: the state already accounts for it.
_IGNORED: Final = frozenset(
    {
        (S.REFUSING, T.HUNG_UP),
        (S.REFUSING, T.LOST),
        (S.ENDING, T.HUNG_UP),
        (S.ENDING, T.LOST),
        (S.FINISHING, T.HUNG_UP),
        (S.FINISHING, T.LOST),
        (S.CLOSED, T.HUNG_UP),
        (S.CLOSED, T.LOST),
        (S.CLOSED, T.CLOSED),
    }
)


class OutboundLifecycle:
    """Where one connection stands; :meth:`fire` is the only way to move it."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = OutboundState.CONNECTING

    def fire(self, trigger: OutboundTrigger) -> bool:
        """Apply ``trigger``; True when the state changed."""
        key = (self.state, trigger)
        new = _TABLE.get(key)
        if new is None:
            if key in _IGNORED:
                return False
            raise RuntimeError(f"outbound connection: {trigger.value} while {self.state.value}")
        self.state = new
        return True
