"""Runtime states, stop reasons, and an observable cell to wait on transitions."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

__all__ = ["ReconnectPhase", "RuntimeState", "StateCell", "StopReason"]

T = TypeVar("T")


class RuntimeState(enum.Enum):
    """Where the runtime stands (``rt.health().state``)."""

    CONNECTING = "connecting"  #: first connection attempt in progress
    READY = "ready"  #: authenticated and restored: work is accepted
    RECONNECTING = "reconnecting"  #: the connection was lost; new work is refused
    DRAINING = "draining"  #: shutting down: accepted work settles, new work is refused
    CLOSED = "closed"  #: shut down on request
    FAILED = "failed"  #: stopped for good (see the stop reason)


class ReconnectPhase(enum.Enum):
    IDLE = "idle"  #: connected, or never disconnected
    WAITING = "waiting-to-retry"  #: backing off before the next attempt
    CONNECTING = "connecting"  #: TCP connect, greeting, authentication
    RESTORING = "restoring"  #: re-applying subscriptions, filters and log level
    STOPPED = "stopped"  #: no more attempts (see the stop reason)


class StopReason(enum.Enum):
    EXPLICIT_SHUTDOWN = "explicit-shutdown"
    RETRIES_EXHAUSTED = "retries-exhausted"
    RETRY_DISABLED = "retry-disabled"
    AUTH_REJECTED = "auth-rejected"
    HANDSHAKE_TIMEOUT = "handshake-timeout"
    PROTOCOL_FAILURE = "protocol-failure"


class StateCell(Generic[T]):
    """A value plus ``wait_value`` (the trio-util ``AsyncValue`` idea, minimal)."""

    def __init__(self, value: T) -> None:
        self._value = value
        self._changed = trio.Event()

    @property
    def value(self) -> T:
        return self._value

    def set(self, value: T) -> None:
        if value != self._value:
            self._value = value
            self._changed.set()
            self._changed = trio.Event()

    async def wait_value(self, predicate: Callable[[T], bool]) -> T:
        """Return as soon as ``predicate(value)`` holds (checks the current value first)."""
        while not predicate(self._value):
            await self._changed.wait()
        return self._value
