"""The runtime's lifecycle: one transition table, the only place states change.

Like h11's ``_state.py``: the runtime's condition is a pair (:class:`RuntimeState`,
:class:`ReconnectPhase`), and every change is one named :class:`Transition` looked up in
``_TABLE``. A transition the table does not list is a bug in esl-trio and raises
:class:`LifecycleError` (tested exhaustively over every pair and every transition).

::

    CONNECTING ──ready──▶ READY ──lost──▶ RECONNECTING ──ready──▶ READY …
        │                   │                  │
        └──stop──▶ FAILED ◀─┴──────stop────────┘
    READY / RECONNECTING ──drain──▶ DRAINING ──stop──▶ (DRAINING, STOPPED) ──close──▶ CLOSED

Within CONNECTING and RECONNECTING the phase walks ``attempt`` → CONNECTING,
``authenticated`` → RESTORING, then ``ready`` — or ``attempt-failed`` → IDLE and
``back-off`` → WAITING before the next ``attempt``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

import attrs
import trio

__all__ = [
    "Lifecycle",
    "LifecycleError",
    "ReconnectPhase",
    "RuntimeState",
    "StateChange",
    "StopReason",
    "Transition",
]


class RuntimeState(enum.Enum):
    """Where the runtime stands (``rt.health().state``)."""

    CONNECTING = "connecting"  #: first connection attempt in progress
    READY = "ready"  #: authenticated and restored: work is accepted
    RECONNECTING = "reconnecting"  #: the connection was lost; new work is refused
    DRAINING = "draining"  #: shutting down: accepted work settles, new work is refused
    CLOSED = "closed"  #: shut down on request
    FAILED = "failed"  #: stopped for good (see the stop reason)


class ReconnectPhase(enum.Enum):
    """What the supervisor is doing about the connection (``rt.health().reconnect.phase``)."""

    IDLE = "idle"  #: connected, or between an attempt and its back-off
    WAITING = "waiting-to-retry"  #: backing off before the next attempt
    CONNECTING = "connecting"  #: TCP connect, greeting, authentication
    RESTORING = "restoring"  #: re-applying subscriptions, filters and log level
    STOPPED = "stopped"  #: no more attempts (see the stop reason)


class StopReason(enum.Enum):
    """Why the runtime stopped supervising its connection."""

    EXPLICIT_SHUTDOWN = "explicit-shutdown"
    RETRIES_EXHAUSTED = "retries-exhausted"
    RETRY_DISABLED = "retry-disabled"
    AUTH_REJECTED = "auth-rejected"
    HANDSHAKE_TIMEOUT = "handshake-timeout"
    PROTOCOL_FAILURE = "protocol-failure"


class Transition(enum.Enum):
    """The named inputs of the lifecycle table."""

    ATTEMPT = "attempt"  #: start a connection attempt
    AUTHENTICATED = "authenticated"  #: credentials accepted; restoring subscriptions
    READY = "ready"  #: restored: work is accepted
    LOST = "lost"  #: the READY connection ended
    ATTEMPT_FAILED = "attempt-failed"  #: an attempt ended before READY
    BACK_OFF = "back-off"  #: waiting before the next attempt
    DRAIN = "drain"  #: shutdown requested
    STOP = "stop"  #: no more attempts
    CLOSE = "close"  #: shutdown finished


class LifecycleError(RuntimeError):
    """An illegal lifecycle transition: a bug in esl-trio, never a user error."""


S, P, T = RuntimeState, ReconnectPhase, Transition
Pair = tuple[RuntimeState, ReconnectPhase]
_SUPERVISED = (S.CONNECTING, S.RECONNECTING)
_LIVE_PHASES = (P.IDLE, P.WAITING, P.CONNECTING, P.RESTORING)


def _build_table() -> dict[tuple[RuntimeState, ReconnectPhase, Transition], Pair]:
    table: dict[tuple[RuntimeState, ReconnectPhase, Transition], Pair] = {}

    def add(
        sources: Iterable[Pair], transition: Transition, target: Callable[[Pair], Pair]
    ) -> None:
        for source in sources:
            table[(*source, transition)] = target(source)

    add([(S.CONNECTING, P.IDLE), *((s, P.WAITING) for s in _SUPERVISED)], T.ATTEMPT,
        lambda p: (p[0], P.CONNECTING))  # fmt: skip
    connecting = ((s, P.CONNECTING) for s in (*_SUPERVISED, S.DRAINING))
    add(connecting, T.AUTHENTICATED, lambda p: (p[0], P.RESTORING))
    add(((s, P.RESTORING) for s in _SUPERVISED), T.READY, lambda p: (S.READY, P.IDLE))
    attempting = [(s, p) for s in (*_SUPERVISED, S.DRAINING) for p in (P.CONNECTING, P.RESTORING)]
    add(attempting, T.ATTEMPT_FAILED, lambda p: (p[0], P.IDLE))
    # A loss while draining keeps draining: it never reconnects (B-DRAIN-4).
    add([(S.READY, P.IDLE), (S.DRAINING, P.IDLE)], T.LOST,
        lambda p: (S.RECONNECTING, P.IDLE) if p[0] is S.READY else p)  # fmt: skip
    add(((s, P.IDLE) for s in _SUPERVISED), T.BACK_OFF, lambda p: (p[0], P.WAITING))
    add([(S.READY, P.IDLE), *((S.RECONNECTING, p) for p in _LIVE_PHASES)], T.DRAIN,
        lambda p: (S.DRAINING, p[1]))  # fmt: skip
    stoppable = [(S.READY, P.IDLE), *((s, p) for s in _SUPERVISED for p in _LIVE_PHASES)]
    add(stoppable, T.STOP, lambda p: (S.FAILED, P.STOPPED))
    add(((S.DRAINING, p) for p in _LIVE_PHASES), T.STOP, lambda p: (S.DRAINING, P.STOPPED))
    add([(S.DRAINING, P.STOPPED)], T.CLOSE, lambda p: (S.CLOSED, P.STOPPED))
    return table


_TABLE = _build_table()


def next_pair(state: RuntimeState, phase: ReconnectPhase, transition: Transition) -> Pair:
    """The pair ``transition`` leads to from ``(state, phase)``; LifecycleError if illegal."""
    try:
        return _TABLE[(state, phase, transition)]
    except KeyError:
        raise LifecycleError(
            f"illegal lifecycle transition {transition.value!r} from ({state.value}, {phase.value})"
        ) from None


@attrs.frozen
class StateChange:
    """One lifecycle transition, as ``rt.state_changes()`` yields it."""

    transition: Transition
    previous: RuntimeState
    state: RuntimeState
    phase: ReconnectPhase
    #: trio time of the transition.
    at: float
    #: The reconnect attempt this transition belongs to (0 when connected).
    attempt: int = 0
    #: The back-off before the next attempt (``back-off`` only).
    delay: float | None = None
    #: Why the runtime stopped (``stop`` only).
    stop_reason: StopReason | None = None
    #: What went wrong (``lost``, ``attempt-failed``, ``stop``), as a message.
    error: str | None = None


class Lifecycle:
    """The current pair, the stop reason, waiters, and whoever listens to transitions."""

    def __init__(self) -> None:
        self.state = RuntimeState.CONNECTING
        self.phase = ReconnectPhase.IDLE
        self.stop_reason: StopReason | None = None
        self._changed = trio.Event()
        self._listeners: list[Callable[[StateChange], None]] = []

    def apply(
        self,
        transition: Transition,
        *,
        attempt: int = 0,
        delay: float | None = None,
        stop_reason: StopReason | None = None,
        error: BaseException | None = None,
    ) -> StateChange:
        """Make ``transition`` (LifecycleError if the table forbids it) and tell listeners."""
        previous = self.state
        self.state, self.phase = next_pair(previous, self.phase, transition)
        if transition is Transition.STOP:
            self.stop_reason = stop_reason
        change = StateChange(
            transition,
            previous,
            self.state,
            self.phase,
            trio.current_time(),
            attempt=attempt,
            delay=delay,
            stop_reason=stop_reason,
            error=None if error is None else str(error) or type(error).__name__,
        )
        self._changed.set()
        self._changed = trio.Event()
        for listener in self._listeners:
            listener(change)
        return change

    def listen(self, listener: Callable[[StateChange], None]) -> Callable[[], None]:
        """Call ``listener`` synchronously on every transition; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def wait_state(self, states: Iterable[RuntimeState]) -> RuntimeState:
        """Return as soon as the state is one of ``states`` (checks the current one first)."""
        wanted = frozenset(states)
        while self.state not in wanted:
            await self._changed.wait()
        return self.state
