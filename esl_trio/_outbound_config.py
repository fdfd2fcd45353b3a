"""Configuration of the outbound server: one frozen attrs class, validated at construction.

Where to listen is an argument of :func:`~esl_trio.open_outbound_server`, not configuration:
the same behaviour (limits, deadlines, hangup causes) serves any address.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import attrs

from .protocol import EventFormat
from .protocol._frames import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES

__all__ = ["OutboundConfig"]

_CAUSE: Final = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def _seconds(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _grace(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be >= 0 seconds, got {value!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value!r}")


def _cause(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _CAUSE.match(value):
        raise ValueError(
            f"{attribute.name} must be a FreeSWITCH hangup cause like NORMAL_CLEARING, got"
            f" {value!r}"
        )


def _linger(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 1 <= value <= 86_400:
        raise ValueError(f"{attribute.name} must be None or 1..86400 seconds, got {value!r}")


@attrs.frozen(kw_only=True)
class OutboundConfig:
    """How :func:`~esl_trio.open_outbound_server` treats each call FreeSWITCH sends it.

    Change a value with :func:`attrs.evolve`, or pass them as keywords.
    """

    #: Calls handled at once. Beyond it a call is refused: connected, hung up with
    #: :attr:`refuse_cause`, logged.
    max_calls: int = attrs.field(default=1000, validator=_at_least_one)
    #: The hangup cause of a refused call (FreeSWITCH maps SWITCH_CONGESTION to SIP 503).
    refuse_cause: str = attrs.field(default="SWITCH_CONGESTION", validator=_cause)
    #: The hangup cause when the handler raised.
    error_cause: str = attrs.field(default="NORMAL_TEMPORARY_FAILURE", validator=_cause)
    #: The hangup cause when the server shut down under a running handler.
    shutdown_cause: str = attrs.field(default="SYSTEM_SHUTDOWN", validator=_cause)
    #: Seconds the handler still runs after the channel hung up (the disconnect notice) or the
    #: socket closed, before it is cancelled: time to write a record, not to keep the call.
    hangup_grace: float = attrs.field(default=5.0, validator=_grace)
    #: Seconds leaving the server block waits for running handlers before cancelling them.
    drain_timeout: float = attrs.field(default=10.0, validator=_seconds)
    #: The reply to ``connect`` (the channel data), and to each setup command.
    connect_timeout: float = attrs.field(default=5.0, validator=_seconds)
    #: One command's reply. Expiry means the socket is stuck: the connection is closed.
    #: (In static mode a ``sendmsg`` execute is answered when its application ends, so it
    #: has no reply deadline there.)
    command_timeout: float = attrs.field(default=10.0, validator=_seconds)
    #: One socket write (a peer that stops reading must not stall the handler forever).
    write_timeout: float = attrs.field(default=10.0, validator=_seconds)
    #: Send ``myevents``: the socket receives this channel's events (the Call needs them).
    myevents: bool = True
    #: Seconds FreeSWITCH keeps the socket open after the hangup (``linger N``), so the last
    #: events still arrive; None sends no ``linger``. Needs ``full`` control; on a
    #: single-channel socket it is skipped.
    linger: int | None = attrs.field(default=30, validator=_linger)
    #: Encoding of the events (``myevents json``, ``myevents xml``; plain is the cheapest).
    event_format: EventFormat = attrs.field(default=EventFormat.PLAIN, converter=EventFormat)
    #: Commands waiting for the socket writer, per call; beyond it callers wait.
    queue_size: int = attrs.field(default=64, validator=_at_least_one)
    #: Bounds against a hostile peer, as for inbound connections.
    max_header_bytes: int = attrs.field(default=DEFAULT_MAX_HEADER_BYTES, validator=_at_least_one)
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_at_least_one)
    #: Bytes asked of the socket per read (one call's events are small).
    receive_size: int = attrs.field(default=64 * 1024, validator=_at_least_one)
