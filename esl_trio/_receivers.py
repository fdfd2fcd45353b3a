"""Bounded, non-blocking delivery to consumers (B-LIM-2).

The reader hands each item to every matching receiver with :meth:`Receiver.offer`, which never
awaits: FreeSWITCH kills a listener whose queue overflows, so a slow consumer must lose its own
items (and be told so), never stall the socket. After any loss the receiver yields a
:class:`StreamGap` before its next item, so loss is never silent.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs
import trio

__all__ = ["GapReason", "Overflow", "Receiver", "ReceiverStatistics", "StreamGap"]

T = TypeVar("T")


class Overflow(enum.Enum):
    """What a full receiver does with a new item."""

    #: Drop the new item and count it (default: the oldest items keep their order).
    DROP_NEWEST = "drop-newest"
    #: Drop the oldest buffered item to make room (freshest data wins).
    DROP_OLDEST = "drop-oldest"
    #: Make the socket reader wait for space. DANGEROUS: while it waits nothing is read —
    #: no replies, no other receivers — and FreeSWITCH kills a listener whose 100 000-event
    #: queue overflows (B-LIM-2). Only for consumers that must not lose anything and are
    #: known to keep up.
    BLOCK = "block"


class GapReason(enum.Enum):
    OVERFLOW = "overflow"  #: this receiver's buffer was full
    RECONNECT = "reconnect"  #: the connection was lost; events in between were never seen


@attrs.frozen
class StreamGap:
    """Marks lost items: yielded before the first item after the loss."""

    reason: GapReason
    #: Items this receiver dropped (overflow); 0 for a reconnect (the count is unknowable).
    dropped: int = 0
    #: Connection generation after the gap (reconnect), else the current one.
    generation: int = 0


@attrs.frozen
class ReceiverStatistics:
    """A snapshot of one receiver (trio naming: ``statistics()``)."""

    name: str
    buffered: int
    max_buffer: int
    delivered: int
    dropped: int
    gaps: int
    overflow: Overflow


class Receiver(Generic[T]):
    """An async-iterable, bounded buffer fed synchronously by the reader."""

    def __init__(
        self,
        name: str,
        max_buffer: int,
        overflow: Overflow,
        on_close: Callable[[Receiver[T]], None],
    ) -> None:
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be at least 1, got {max_buffer!r}")
        self.name = name
        self.max_buffer = max_buffer
        self.overflow = Overflow(overflow)
        self._on_close = on_close
        self._buffer: deque[T | StreamGap] = deque()
        self._item_count = 0  # buffered items, gap markers excluded
        self._readable = trio.Event()
        self._writable = trio.Event()
        self._closed = False
        self._pending_gap: StreamGap | None = None
        self._delivered = 0
        self._dropped = 0
        self._gaps = 0

    # -- producer side (the reader; never awaits) --------------------------------------

    def offer(self, item: T, generation: int) -> bool:
        """Buffer ``item``; False only when the policy is BLOCK and the buffer is full."""
        if self._closed:
            return True
        if self._item_count >= self.max_buffer:
            if self.overflow is Overflow.BLOCK:
                self._writable = trio.Event() if self._writable.is_set() else self._writable
                return False
            if self.overflow is Overflow.DROP_NEWEST:
                self._count_drop(generation)
                return True
            self._drop_oldest(generation)
        if self._pending_gap is not None:
            self._buffer.append(self._pending_gap)
            self._pending_gap = None
        self._buffer.append(item)
        self._item_count += 1
        self._readable.set()
        return True

    def _count_drop(self, generation: int) -> None:
        self._dropped += 1
        gap = self._pending_gap
        if gap is None:
            self._gaps += 1
            self._pending_gap = StreamGap(GapReason.OVERFLOW, 1, generation)
        else:  # one marker for one stretch of loss; a reconnect in it stays visible
            self._pending_gap = attrs.evolve(gap, dropped=gap.dropped + 1, generation=generation)

    def _drop_oldest(self, generation: int) -> None:
        merged: StreamGap | None = None
        while isinstance(head := self._buffer[0], StreamGap):
            merged = head  # an earlier marker merges into this one (its reason is kept)
            self._buffer.popleft()
        self._buffer.popleft()
        self._item_count -= 1
        self._dropped += 1
        if merged is None:
            self._gaps += 1
            merged = StreamGap(GapReason.OVERFLOW, 0, generation)
        # The loss happened at the front, so the marker goes there, before the survivors.
        self._buffer.appendleft(attrs.evolve(merged, dropped=merged.dropped + 1))

    def mark_gap(self, reason: GapReason, generation: int) -> None:
        """Announce a loss the receiver could not see (a reconnect)."""
        if self._closed:
            return
        gap = self._pending_gap
        if gap is None:
            self._gaps += 1
            self._pending_gap = StreamGap(reason, 0, generation)
        else:  # keep the drop count of a pending overflow marker
            self._pending_gap = StreamGap(reason, gap.dropped, generation)

    async def wait_writable(self) -> None:
        """For the BLOCK policy: until there is room (or the receiver closed)."""
        while not self._closed and self._item_count >= self.max_buffer:
            await self._writable.wait()

    # -- consumer side -----------------------------------------------------------------

    async def receive(self) -> T | StreamGap:
        """The next item or gap marker; raises :class:`trio.EndOfChannel` once closed.

        Always a cancellation point; a full scheduling point when it has to wait, and every
        64 items otherwise (a full checkpoint per item would cost ~40% of throughput).
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if not self._buffer:
            while not self._buffer:
                if self._closed:
                    raise trio.EndOfChannel
                self._readable = trio.Event()
                await self._readable.wait()
        elif self._delivered % 64 == 63:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return self._take()

    def receive_nowait(self) -> T | StreamGap:
        """Like :meth:`receive`; raises :class:`trio.WouldBlock` when empty."""
        if not self._buffer:
            if self._closed:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        return self._take()

    def _take(self) -> T | StreamGap:
        item = self._buffer.popleft()
        if not isinstance(item, StreamGap):
            self._item_count -= 1
            self._delivered += 1
            self._writable.set()
        return item

    def __aiter__(self) -> Receiver[T]:
        return self

    async def __anext__(self) -> T | StreamGap:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving; buffered items can still be read, then iteration ends."""
        if not self._closed:
            self._closed = True
            self._readable.set()
            self._writable.set()
            self._on_close(self)

    def statistics(self) -> ReceiverStatistics:
        return ReceiverStatistics(
            name=self.name,
            buffered=self._item_count,
            max_buffer=self.max_buffer,
            delivered=self._delivered,
            dropped=self._dropped,
            gaps=self._gaps,
            overflow=self.overflow,
        )

    async def __aenter__(self) -> Receiver[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
