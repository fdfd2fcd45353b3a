"""Bounded receivers, overflow policies and gap markers (B-LIM-2)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from esl_trio import GapReason, Overflow, Receiver, StreamGap
from esl_trio._receivers import Feed, open_receiver


def make(
    max_buffer: int = 3, overflow: Overflow = Overflow.DROP_NEWEST
) -> tuple[Receiver[int], Feed[int]]:
    return open_receiver("test", max_buffer, overflow, lambda feed: None)


def drain(receiver: Receiver[int]) -> list[object]:
    items: list[object] = []
    while True:
        try:
            items.append(receiver.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return items


def test_fifo_within_bound() -> None:
    receiver, feed = make()
    for i in range(3):
        assert feed.offer(i, 1)
    assert drain(receiver) == [0, 1, 2]
    assert receiver.statistics().delivered == 3


def test_drop_newest_counts_and_marks_the_gap() -> None:
    receiver, feed = make()
    for i in range(6):
        feed.offer(i, 1)
    assert drain(receiver) == [0, 1, 2]
    feed.offer(6, 1)
    assert drain(receiver) == [StreamGap(GapReason.OVERFLOW, 3, 1), 6]
    stats = receiver.statistics()
    assert (stats.dropped, stats.gaps, stats.buffered) == (3, 1, 0)


def test_drop_oldest_keeps_the_freshest_and_marks_the_gap_in_place() -> None:
    receiver, feed = make(overflow=Overflow.DROP_OLDEST)
    for i in range(5):
        feed.offer(i, 2)
    assert drain(receiver) == [StreamGap(GapReason.OVERFLOW, 2, 2), 2, 3, 4]
    assert receiver.statistics().dropped == 2


def test_block_policy_reports_full_instead_of_dropping() -> None:
    receiver, feed = make(max_buffer=1, overflow=Overflow.BLOCK)
    assert feed.offer(1, 1)
    assert not feed.offer(2, 1)
    assert receiver.statistics().dropped == 0


async def test_block_policy_waits_for_room() -> None:
    receiver, feed = make(max_buffer=1, overflow=Overflow.BLOCK)
    feed.offer(1, 1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed.wait_writable)
        await trio.testing.wait_all_tasks_blocked()
        assert await receiver.receive() == 1
    assert feed.offer(2, 1)


async def test_block_policy_writer_is_released_when_the_consumer_closes() -> None:
    receiver, feed = make(max_buffer=1, overflow=Overflow.BLOCK)
    feed.offer(1, 1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed.wait_writable)
        await trio.testing.wait_all_tasks_blocked()
        receiver.close()  # the reader must never wait for a consumer that left


def test_reconnect_gap_precedes_the_next_event() -> None:
    receiver, feed = make()
    feed.offer(1, 1)
    feed.mark_gap(GapReason.RECONNECT, 2)
    feed.offer(2, 2)
    assert drain(receiver) == [1, StreamGap(GapReason.RECONNECT, 0, 2), 2]


async def test_async_iteration_ends_after_the_producer_closes_and_buffer_is_drained() -> None:
    closed: list[Feed[int]] = []
    receiver, feed = open_receiver("t", 10, Overflow.DROP_NEWEST, closed.append)
    feed.offer(1, 1)
    feed.offer(2, 1)
    feed.close()
    assert [item async for item in receiver] == [1, 2]
    assert closed == [feed]
    assert feed.offer(3, 1)  # offers after close are ignored
    with pytest.raises(trio.EndOfChannel):
        receiver.receive_nowait()


async def test_receive_waits_for_an_offer(autojump_clock: trio.abc.Clock) -> None:
    receiver, feed = make()
    async with trio.open_nursery() as nursery:

        async def later() -> None:
            await trio.sleep(1)
            feed.offer(42, 1)

        nursery.start_soon(later)
        assert await receiver.receive() == 42
        assert trio.current_time() == 1


def test_max_buffer_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        make(max_buffer=0)
