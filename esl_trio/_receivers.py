"""Bounded, non-blocking delivery to consumers (B-LIM-2).

Each receiver is a pair: the public :class:`Receiver` (a ``trio.abc.ReceiveChannel``) the
consumer reads, and a private :class:`Feed` the runtime writes. The reader hands each item to
every matching feed with :meth:`Feed.offer`, which never awaits: FreeSWITCH kills a listener
whose queue overflows, so a slow consumer must lose its own items (and be told so), never
stall the socket. After any loss the receiver yields a :class:`StreamGap` before its next
item, so loss is never silent; reading a receiver to its end yields a last marker for any loss
not announced yet.

Several tasks may read one receiver: like trio's memory channels, they queue in FIFO order and
each new item is handed directly to the task that has waited longest.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs
import trio

__all__ = [
    "Feed",
    "GapReason",
    "Overflow",
    "Receiver",
    "ReceiverStatistics",
    "StreamGap",
    "open_receiver",
]

T = TypeVar("T")

#: A scheduling point every this many items read without waiting (a full checkpoint per item
#: would cost ~40% of throughput; none at all would let a busy consumer starve the reader).
_YIELD_EVERY = 64


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
    """Marks lost items: yielded before the first item after the loss (or last, at the end)."""

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
    #: Tasks blocked in ``receive()`` right now (as in trio's channel statistics).
    tasks_waiting_receive: int = 0


@attrs.frozen
class _Failure:
    """What a waiting task is woken with when the stream ends instead of yielding."""

    error: BaseException


def _merge(first: StreamGap, second: StreamGap) -> StreamGap:
    """One marker for two adjacent ones: every drop counted, a reconnect kept visible."""
    reconnect = GapReason.RECONNECT in (first.reason, second.reason)
    return StreamGap(
        GapReason.RECONNECT if reconnect else GapReason.OVERFLOW,
        first.dropped + second.dropped,
        max(first.generation, second.generation),
    )


class Feed(Generic[T]):
    """The producer side of one receiver: private to the runtime, never awaits (but one).

    Holds the buffer and every counter; the :class:`Receiver` reads from it. Invariant: tasks
    wait in ``_waiters`` only while the buffer is empty, so an item offered while someone
    waits is handed straight to the longest-waiting task.
    """

    __slots__ = (
        "_buffer",
        "_consumer_closed",
        "_delivered",
        "_dropped",
        "_ended",
        "_error",
        "_gaps",
        "_item_count",
        "_on_close",
        "_pending_gap",
        "_waiters",
        "_writable",
        "max_buffer",
        "name",
        "overflow",
    )

    def __init__(
        self, name: str, max_buffer: int, overflow: Overflow, on_close: Callable[[Feed[T]], None]
    ) -> None:
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be at least 1, got {max_buffer!r}")
        self.name = name
        self.max_buffer = max_buffer
        self.overflow = Overflow(overflow)
        self._on_close = on_close
        self._buffer: deque[T | StreamGap] = deque()
        self._item_count = 0  # buffered items, gap markers excluded
        # Each waiting task's slot receives the item (or _Failure) it is woken with.
        self._waiters: OrderedDict[trio.lowlevel.Task, list[object]] = OrderedDict()
        self._writable: trio.Event | None = None  # only while the reader waits (BLOCK)
        self._pending_gap: StreamGap | None = None
        self._ended = False  # the producer closed it: drain, then end
        self._error: BaseException | None = None  # ...and raise this at the end, if set
        self._consumer_closed = False
        self._delivered = 0
        self._dropped = 0
        self._gaps = 0

    @property
    def closed(self) -> bool:
        """True once either side closed it: offers are ignored from then on."""
        return self._ended or self._consumer_closed

    def offer(self, item: T, generation: int) -> bool:
        """Buffer ``item``; False only when the policy is BLOCK and the buffer is full."""
        if self._ended or self._consumer_closed:
            return True
        if self._item_count >= self.max_buffer:
            if self.overflow is Overflow.BLOCK:
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
        if self._waiters:
            self._hand_off()
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
            self._buffer.popleft()
            if merged is None:
                merged = head
            else:  # markers with no item between them become one
                self._gaps -= 1
                merged = _merge(merged, head)
        self._buffer.popleft()
        self._item_count -= 1
        self._dropped += 1
        if merged is None:
            self._gaps += 1
            merged = StreamGap(GapReason.OVERFLOW, 0, generation)
        # The loss happened at the front, so the marker goes there, before the survivors.
        self._buffer.appendleft(attrs.evolve(merged, dropped=merged.dropped + 1))

    def mark_gap(self, reason: GapReason, generation: int) -> None:
        """Announce a loss the receiver could not see (a reconnect); readable on the next
        offer or :meth:`flush_gap`, whichever comes first."""
        if self.closed:
            return
        gap = self._pending_gap
        if gap is None:
            self._gaps += 1
            self._pending_gap = StreamGap(reason, 0, generation)
        else:  # keep the drop count of a pending overflow marker
            self._pending_gap = StreamGap(reason, gap.dropped, generation)

    def flush_gap(self) -> None:
        """Make a pending marker readable now (READY after a reconnect), waking a waiter."""
        if self._pending_gap is None or self.closed:
            return
        self._buffer.append(self._pending_gap)
        self._pending_gap = None
        if self._waiters:
            self._hand_off()

    async def wait_writable(self) -> None:
        """For the BLOCK policy: until there is room (or the receiver closed)."""
        while not self.closed and self._item_count >= self.max_buffer:
            if self._writable is None:
                self._writable = trio.Event()
            await self._writable.wait()

    def close(self, error: BaseException | None = None) -> None:
        """End the stream: what is buffered (and a last gap marker) can still be read, then
        ``receive`` raises ``error``, or :class:`trio.EndOfChannel` when it is None."""
        if self.closed:
            return
        self._ended = True
        self._error = error
        if self._pending_gap is not None:  # the last loss must be announced too
            self._buffer.append(self._pending_gap)
            self._pending_gap = None
        self._hand_off()
        self._end_waiters()  # the buffer is empty now: everyone else ends
        self._wake_writer()
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
            tasks_waiting_receive=len(self._waiters),
        )

    # -- used by Receiver --------------------------------------------------------------

    def _hand_off(self) -> None:
        waiters = self._waiters
        while waiters and self._buffer:
            task, slot = waiters.popitem(last=False)
            slot.append(self._take())
            trio.lowlevel.reschedule(task)

    def _end_waiters(self) -> None:
        while self._waiters:
            task, slot = self._waiters.popitem(last=False)
            slot.append(_Failure(self._end_error()))
            trio.lowlevel.reschedule(task)

    def _take(self) -> T | StreamGap:
        item = self._buffer.popleft()
        if not isinstance(item, StreamGap):
            self._item_count -= 1
            self._delivered += 1
            if self._writable is not None:
                self._wake_writer()
        return item

    def _wake_writer(self) -> None:
        if self._writable is not None:
            self._writable.set()
            self._writable = None

    def _end_error(self) -> BaseException:
        if self._consumer_closed:
            return trio.ClosedResourceError("this receiver was closed by its consumer")
        return self._error if self._error is not None else trio.EndOfChannel()

    def _close_by_consumer(self) -> None:
        if self._consumer_closed:
            return
        self._consumer_closed = True
        self._pending_gap = None
        self._item_count = 0
        self._buffer.clear()  # nobody will read them; the reader must not wait for room
        self._end_waiters()
        self._wake_writer()
        if not self._ended:
            self._on_close(self)


class Receiver(trio.abc.ReceiveChannel[T | StreamGap]):
    """A bounded stream of items and :class:`StreamGap` markers (``async for`` / ``receive``).

    Trio memory-channel semantics: :meth:`close`/:meth:`aclose` by the consumer make every
    later and every blocked ``receive`` raise :class:`trio.ClosedResourceError`. When the
    runtime ends the stream, buffered items (and a last gap marker) are still read, then
    ``receive`` raises :class:`trio.EndOfChannel` (``async for`` stops) — or the runtime's
    terminal error, if it stopped for good. Made by the runtime (``rt.events.receiver()``,
    ``rt.logs.receiver()``), never directly.
    """

    __slots__ = ("_feed", "max_buffer", "name", "overflow")

    def __init__(self, feed: Feed[T]) -> None:
        self._feed = feed
        self.name = feed.name
        self.max_buffer = feed.max_buffer
        self.overflow = feed.overflow

    async def receive(self) -> T | StreamGap:
        """The next item or gap marker, waiting for one if needed.

        Always a cancellation point; a full scheduling point when it has to wait, and every
        64 items otherwise.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        feed = self._feed
        if feed._buffer and feed._delivered % _YIELD_EVERY == _YIELD_EVERY - 1:
            await trio.lowlevel.cancel_shielded_checkpoint()  # another reader may run here
        # A non-empty buffer means nobody is waiting (see Feed), so taking is FIFO-fair.
        if feed._buffer:
            return feed._take()
        if feed._ended or feed._consumer_closed:
            raise feed._end_error()
        return await self._wait(feed)

    async def _wait(self, feed: Feed[T]) -> T | StreamGap:
        task = trio.lowlevel.current_task()
        slot: list[object] = []
        feed._waiters[task] = slot

        def abort(_: object) -> trio.lowlevel.Abort:
            del feed._waiters[task]  # not woken yet (trio guarantees it), so nothing is lost
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)
        (value,) = slot
        if isinstance(value, _Failure):
            raise value.error
        return value  # type: ignore[return-value]  # only items and gaps are handed off

    def receive_nowait(self) -> T | StreamGap:
        """Like :meth:`receive`; raises :class:`trio.WouldBlock` when nothing is buffered."""
        feed = self._feed
        if feed._buffer:
            return feed._take()
        if feed._ended or feed._consumer_closed:
            raise feed._end_error()
        raise trio.WouldBlock

    def close(self) -> None:
        """Stop receiving (the sync twin of :meth:`aclose`); buffered items are discarded."""
        self._feed._close_by_consumer()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def statistics(self) -> ReceiverStatistics:
        return self._feed.statistics()

    def __repr__(self) -> str:
        return f"<Receiver {self.name!r} max_buffer={self.max_buffer} {self.overflow.value}>"


def open_receiver(
    name: str, max_buffer: int, overflow: Overflow, on_close: Callable[[Feed[T]], None]
) -> tuple[Receiver[T], Feed[T]]:
    """A receiver and its feed; ``on_close(feed)`` runs once, when either side closes it."""
    feed = Feed(name, max_buffer, overflow, on_close)
    return Receiver(feed), feed
