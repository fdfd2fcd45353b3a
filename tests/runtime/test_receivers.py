"""Bounded receivers, overflow policies and gap markers (B-LIM-2)."""

from __future__ import annotations

import pytest
import trio

from esl_trio import GapReason, Overflow, Receiver, StreamGap


def make(max_buffer: int = 3, overflow: Overflow = Overflow.DROP_NEWEST) -> Receiver[int]:
    return Receiver("test", max_buffer, overflow, lambda r: None)


def drain(receiver: Receiver[int]) -> list[object]:
    items: list[object] = []
    while True:
        try:
            items.append(receiver.receive_nowait())
        except trio.WouldBlock:
            return items


def test_fifo_within_bound() -> None:
    receiver = make()
    for i in range(3):
        assert receiver.offer(i, 1)
    assert drain(receiver) == [0, 1, 2]
    assert receiver.statistics().delivered == 3


def test_drop_newest_counts_and_marks_the_gap() -> None:
    receiver = make()
    for i in range(6):
        receiver.offer(i, 1)
    assert drain(receiver) == [0, 1, 2]
    receiver.offer(6, 1)
    assert drain(receiver) == [StreamGap(GapReason.OVERFLOW, 3, 1), 6]
    stats = receiver.statistics()
    assert (stats.dropped, stats.gaps, stats.buffered) == (3, 1, 0)


def test_drop_oldest_keeps_the_freshest_and_marks_the_gap_in_place() -> None:
    receiver = make(overflow=Overflow.DROP_OLDEST)
    for i in range(5):
        receiver.offer(i, 2)
    assert drain(receiver) == [StreamGap(GapReason.OVERFLOW, 2, 2), 2, 3, 4]
    assert receiver.statistics().dropped == 2


def test_block_policy_reports_full_instead_of_dropping() -> None:
    receiver = make(max_buffer=1, overflow=Overflow.BLOCK)
    assert receiver.offer(1, 1)
    assert not receiver.offer(2, 1)
    assert receiver.statistics().dropped == 0


async def test_block_policy_waits_for_room() -> None:
    receiver = make(max_buffer=1, overflow=Overflow.BLOCK)
    receiver.offer(1, 1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver.wait_writable)
        await trio.testing.wait_all_tasks_blocked()
        assert await receiver.receive() == 1
    assert receiver.offer(2, 1)


def test_reconnect_gap_precedes_the_next_event() -> None:
    receiver = make()
    receiver.offer(1, 1)
    receiver.mark_gap(GapReason.RECONNECT, 2)
    receiver.offer(2, 2)
    assert drain(receiver) == [1, StreamGap(GapReason.RECONNECT, 0, 2), 2]


async def test_async_iteration_ends_after_close_and_buffer_is_drained() -> None:
    closed: list[Receiver[int]] = []
    receiver = Receiver[int]("t", 10, Overflow.DROP_NEWEST, closed.append)
    receiver.offer(1, 1)
    receiver.offer(2, 1)
    receiver.close()
    assert [item async for item in receiver] == [1, 2]
    assert closed == [receiver]
    assert receiver.offer(3, 1)  # offers after close are ignored
    with pytest.raises(trio.EndOfChannel):
        receiver.receive_nowait()


async def test_receive_waits_for_an_offer() -> None:
    receiver = make()
    async with trio.open_nursery() as nursery:

        async def later() -> None:
            await trio.sleep(1)
            receiver.offer(42, 1)

        nursery.start_soon(later)
        assert await receiver.receive() == 42


def test_max_buffer_must_be_positive() -> None:
    with pytest.raises(ValueError):
        make(max_buffer=0)
