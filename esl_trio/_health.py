"""``rt.health()``: a cheap, frozen, JSON-exportable snapshot (B-HEALTH-*)."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from ._receivers import ReceiverStatistics
from ._state import ReconnectPhase, RuntimeState, StopReason
from .protocol import CommandReply

__all__ = ["ErrorRecord", "HealthSnapshot", "Permissions", "ReconnectStatus"]


@attrs.frozen
class ErrorRecord:
    """A failure and when it happened (wall clock, for humans; G-31: compare timestamps)."""

    type: str
    message: str
    at: float

    @classmethod
    def of(cls, error: BaseException, at: float) -> ErrorRecord:
        return cls(type(error).__name__, str(error), at)


def _names(value: str | None) -> frozenset[str] | None:
    """``all`` (or absent) means unrestricted (None); else the listed names."""
    if value is None or value.strip().lower() == "all":
        return None
    return frozenset(v.strip() for v in value.replace(",", " ").split() if v.strip())


@attrs.frozen
class Permissions:
    """What a ``userauth`` login may do, from the ``Allowed-*`` reply headers (B-AUTH-5).

    None means unrestricted. The runtime does not enforce these (FreeSWITCH does, with
    ``-ERR permission denied``); they are kept so callers can check before asking.
    """

    events: frozenset[str] | None
    api: frozenset[str] | None
    log: bool

    @classmethod
    def from_reply(cls, reply: CommandReply) -> Permissions:
        log = (reply.headers.get("Allowed-LOG") or "true").strip().lower() != "false"
        events = _names(reply.headers.get("Allowed-Events"))
        return cls(events=events, api=_names(reply.headers.get("Allowed-API")), log=log)


@attrs.frozen
class ReconnectStatus:
    phase: ReconnectPhase
    #: The attempt in progress or scheduled (0 when connected).
    attempt: int
    #: Backoff before the scheduled attempt, and when it is due (trio time); None if none.
    delay: float | None
    next_attempt_at: float | None
    stop_reason: StopReason | None
    #: Reconnects that succeeded over the runtime's life.
    reconnects: int


@attrs.frozen
class HealthSnapshot:
    """Everything an operator needs to judge the runtime, in one immutable value."""

    state: RuntimeState
    #: Inbound traffic seen within the liveness interval.
    live: bool
    address: str
    generation: int
    inflight_commands: int
    #: Commands written whose caller left (cancelled): FreeSWITCH still runs them and their
    #: replies are read and dropped. They count against ``max_inflight``.
    abandoned_commands: int
    pending_jobs: int
    max_inflight: int
    events_received: int
    events_undecodable: int
    #: Events receivers had to drop, over the runtime's life (closed receivers included).
    events_dropped: int
    replies_received: int
    jobs_completed: int
    jobs_timed_out: int
    receivers: tuple[ReceiverStatistics, ...]
    reconnect: ReconnectStatus
    connected_at: float | None
    disconnected_at: float | None
    last_disconnect: ErrorRecord | None
    #: The most recent failure; None once a later recovery succeeded (G-31).
    last_error: ErrorRecord | None
    replay_sink_errors: int
    snapshot_at: float

    @property
    def overloaded(self) -> bool:
        busy = self.inflight_commands + self.abandoned_commands + self.pending_jobs
        return busy >= self.max_inflight

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (enums as their string values)."""
        data = attrs.asdict(self, value_serializer=_plain)
        data["overloaded"] = self.overloaded
        return data


def _plain(_: object, __: object, value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
