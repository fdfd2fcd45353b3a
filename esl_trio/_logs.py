"""``rt.logs``: FreeSWITCH log lines (``log <level>`` → ``log/data`` frames, B-CMD-5).

The log level is one setting per connection, so the runtime sends the most verbose level any
open receiver asked for, filters per receiver, and re-sends it after every reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ._errors import ConnectionLostError, DrainError, NotReadyError
from ._receivers import GapReason, Overflow, Receiver, ReceiverStatistics
from .protocol import Command, Log, LogLine, NoLog

if TYPE_CHECKING:
    from ._runtime import EslRuntime

__all__ = ["LogStream"]

LogReceiver = Receiver[LogLine]


class LogStream:
    """``rt.logs``: open log receivers (``async with rt.logs.receiver(level=6) as lines``)."""

    def __init__(self, runtime: EslRuntime) -> None:
        self._rt = runtime
        self._levels: dict[LogReceiver, int] = {}
        self._active_level: int | None = None
        self._dropped_by_closed = 0

    @asynccontextmanager
    async def receiver(
        self, level: int = 7, *, max_buffer: int = 1000, overflow: Overflow | str = "drop-newest"
    ) -> AsyncIterator[LogReceiver]:
        """Receive log lines at ``level`` (0 = console … 7 = debug) or more severe."""
        Log(level)  # validate first
        receiver = LogReceiver(f"log<={level}", max_buffer, Overflow(overflow), self._forget)
        self._levels[receiver] = level
        try:
            await self._apply()
            yield receiver
        finally:
            receiver.close()
            await self._apply_quietly()

    def _forget(self, receiver: LogReceiver) -> None:
        if self._levels.pop(receiver, None) is not None:
            self._dropped_by_closed += receiver.statistics().dropped

    def dropped_total(self) -> int:
        return self._dropped_by_closed + sum(r.statistics().dropped for r in self._levels)

    def _wanted(self) -> int | None:
        return max(self._levels.values(), default=None)

    async def _apply(self) -> None:
        wanted = self._wanted()
        if wanted == self._active_level:
            return
        command: Command = NoLog() if wanted is None else Log(wanted)
        await self._rt.command(command)
        self._active_level = wanted

    async def _apply_quietly(self) -> None:
        try:
            await self._apply()
        except (NotReadyError, ConnectionLostError, DrainError):
            self._active_level = self._wanted()  # the next connection starts without logs

    def restore_commands(self) -> list[Command]:
        wanted = self._wanted()
        self._active_level = wanted
        return [] if wanted is None else [Log(wanted)]

    def deliver(self, line: LogLine, generation: int) -> None:
        level = line.level if line.level is not None else 7
        for receiver, wanted in self._levels.items():
            if level <= wanted:
                receiver.offer(line, generation)

    def mark_gap(self, generation: int) -> None:
        for receiver in self._levels:
            receiver.mark_gap(GapReason.RECONNECT, generation)

    def stats(self) -> tuple[ReceiverStatistics, ...]:
        return tuple(r.statistics() for r in self._levels)

    def close_all(self) -> None:
        for receiver in list(self._levels):
            receiver.close()
