"""``rt.logs``: FreeSWITCH log lines (``log <level>`` → ``log/data`` frames, B-CMD-5).

The log level is one setting per connection, so the router sends the most verbose level any
open receiver asked for, filters per receiver, and re-sends it after every reconnect. Leaving a
receiver — also by cancellation — lowers the level again (or sends ``nolog``), shielded and
bounded by the command timeout, so a cancelled consumer never leaves ``log 7`` running.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import trio

from ._errors import ConnectionLostError, DrainError, EslError, NotReadyError
from ._receivers import Feed, GapReason, Overflow, Receiver, ReceiverStatistics, open_receiver
from .protocol import Command, Log, LogLine, NoLog

__all__ = ["LogRouter", "LogStream"]

_LogFeed = Feed[LogLine]

#: ``_active`` when the server's level is unknown (a change failed half-way): never equal to
#: a wanted level, so the next change or restore sends it again.
_UNKNOWN = -1


class LogRouter:
    """The runtime side: one feed per receiver, the connection's level, and its restore."""

    def __init__(
        self, send: Callable[[Command], Awaitable[object]], *, command_timeout: float
    ) -> None:
        self._send = send
        self._command_timeout = command_timeout
        self._levels: dict[_LogFeed, int] = {}
        self._active: int | None = None  # what the server has now (None: no logs)
        self._lock = trio.Lock()  # one level change at a time, in the order they were asked
        self._dropped_by_closed = 0
        self._ended = False
        self._end_error: BaseException | None = None

    # -- used by LogStream -------------------------------------------------------------

    def open(self, level: int, max_buffer: int, overflow: Overflow) -> Receiver[LogLine]:
        receiver, feed = open_receiver(f"log<={level}", max_buffer, overflow, self._forget)
        if self._ended:
            feed.close(self._end_error)
        else:
            self._levels[feed] = level
        return receiver

    async def apply(self) -> None:
        """Send the level the open receivers need, if the server does not have it yet."""
        async with self._lock:
            while (wanted := self._wanted()) != self._active:
                self._active = _UNKNOWN  # until the reply says otherwise
                try:
                    await self._send(NoLog() if wanted is None else Log(wanted))
                except (NotReadyError, ConnectionLostError, DrainError):
                    self._active = None  # the next connection starts without logs
                    raise
                self._active = wanted

    async def settle(self) -> None:
        """:meth:`apply` for cleanup: shielded, bounded by the command timeout, never raises
        an :class:`EslError` (a failed change leaves the level unknown, so the next change or
        restore sends it again)."""
        # NotReady & co: no connection has logs on; other errors: the level stays unknown.
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(self._command_timeout),
            contextlib.suppress(EslError),
        ):
            await self.apply()

    def _forget(self, feed: _LogFeed) -> None:
        if self._levels.pop(feed, None) is not None:
            self._dropped_by_closed += feed.statistics().dropped

    def _wanted(self) -> int | None:
        return max(self._levels.values(), default=None)

    # -- the runtime's side ------------------------------------------------------------

    def deliver(self, line: LogLine, generation: int) -> None:
        level = line.level if line.level is not None else 7
        for feed, wanted in self._levels.items():
            if level <= wanted:
                feed.offer(line, generation)

    def restore_commands(self) -> list[Command]:
        """For a new connection's restore (after subscriptions and filters)."""
        wanted = self._wanted()
        self._active = wanted
        return [] if wanted is None else [Log(wanted)]

    def mark_gap(self, generation: int) -> None:
        for feed in self._levels:
            feed.mark_gap(GapReason.RECONNECT, generation)

    def flush_gaps(self) -> None:
        for feed in self._levels:
            feed.flush_gap()

    def close_all(self, error: BaseException | None = None) -> None:
        """End every log receiver (see ``EventHub.close_all``); later opens are born ended."""
        if not self._ended:
            self._ended = True
            self._end_error = error
        for feed in list(self._levels):
            feed.close(error)

    def dropped_total(self) -> int:
        return self._dropped_by_closed + sum(f.statistics().dropped for f in self._levels)

    def statistics(self) -> tuple[ReceiverStatistics, ...]:
        return tuple(feed.statistics() for feed in self._levels)


class LogStream:
    """``rt.logs``: open log receivers (``async with rt.logs.receiver(level=6) as lines``)."""

    def __init__(self, router: LogRouter) -> None:
        self._router = router

    def receiver(
        self, level: int = 7, *, max_buffer: int = 1000, overflow: Overflow | str = "drop-newest"
    ) -> AbstractAsyncContextManager[Receiver[LogLine]]:
        """Receive log lines at ``level`` (0 = console … 7 = debug) or more severe.

        Entering sends ``log <level>`` if no open receiver needs as much (errors propagate);
        leaving — normally, by an error or by cancellation — lowers it again or sends
        ``nolog``, shielded and bounded by ``timeouts.command``.
        """
        Log(level)  # validate now, not on entry
        return self._open(level, max_buffer, Overflow(overflow))

    @asynccontextmanager
    async def _open(
        self, level: int, max_buffer: int, overflow: Overflow
    ) -> AsyncIterator[Receiver[LogLine]]:
        router = self._router
        receiver = router.open(level, max_buffer, overflow)
        try:
            await router.apply()
            yield receiver
        finally:
            receiver.close()
            await router.settle()

    def statistics(self) -> tuple[ReceiverStatistics, ...]:
        """One snapshot per open log receiver."""
        return self._router.statistics()
