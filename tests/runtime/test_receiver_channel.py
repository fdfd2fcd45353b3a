"""Receivers are trio ReceiveChannels: closing, many readers, the last gap, a private feed.

Issue items: 10.6 (ReceiveChannel semantics), 9.4 (several tasks reading one receiver),
9.9 (the last drops are announced), 8.3 (a terminal error after the drain), 8.4 (a pending
marker flushed on READY), 8.11 (no producer methods on public objects). B-LIM-2.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from esl_trio import GapReason, NotReadyError, Overflow, Receiver, StreamGap
from esl_trio._logs import LogRouter
from esl_trio._receivers import Feed, open_receiver
from esl_trio.runtime import LogStream

PRODUCER_METHODS = ("offer", "mark_gap", "flush_gap", "wait_writable", "deliver", "_on_close")


def make(
    max_buffer: int = 10, overflow: Overflow = Overflow.DROP_NEWEST
) -> tuple[Receiver[int], Feed[int]]:
    return open_receiver("test", max_buffer, overflow, lambda feed: None)


async def read_to_end(receiver: Receiver[int]) -> list[object]:
    return [item async for item in receiver]


# -- 10.6: a trio.abc.ReceiveChannel -----------------------------------------------------


async def test_issue10_item6_receiver_is_a_receive_channel_and_context_manager() -> None:
    receiver, feed = make()
    assert isinstance(receiver, trio.abc.ReceiveChannel)
    feed.offer(1, 1)
    async with receiver as entered:
        assert entered is receiver
        assert await receiver.receive() == 1
    with pytest.raises(trio.ClosedResourceError):
        await receiver.receive()
    assert feed.closed


def test_issue10_item6_receive_nowait_would_block_when_empty() -> None:
    receiver, _ = make()
    with pytest.raises(trio.WouldBlock):
        receiver.receive_nowait()


async def test_issue10_item6_consumer_close_fails_blocked_and_later_receives() -> None:
    receiver, feed = make()
    results: list[str] = []

    async def blocked_reader() -> None:
        try:
            await receiver.receive()
        except trio.ClosedResourceError:
            results.append("closed")

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(blocked_reader)
            nursery.start_soon(blocked_reader)
            await trio.testing.wait_all_tasks_blocked()
            await receiver.aclose()
    assert results == ["closed", "closed"]
    with pytest.raises(trio.ClosedResourceError):
        receiver.receive_nowait()
    with pytest.raises(trio.ClosedResourceError):
        await receiver.receive()
    assert feed.offer(2, 1)  # ignored: nobody reads any more
    assert receiver.statistics().buffered == 0


def test_issue10_item6_consumer_close_discards_what_is_buffered() -> None:
    receiver, feed = make()
    feed.offer(1, 1)
    feed.offer(2, 1)
    receiver.close()
    assert receiver.statistics().buffered == 0
    with pytest.raises(trio.ClosedResourceError):
        receiver.receive_nowait()


async def test_issue10_item6_sync_close_is_the_twin_of_aclose() -> None:
    closed: list[Feed[int]] = []
    receiver, feed = open_receiver("t", 3, Overflow.DROP_NEWEST, closed.append)
    feed.offer(1, 1)
    receiver.close()
    receiver.close()  # idempotent, and on_close runs once
    await receiver.aclose()
    assert closed == [feed]
    with pytest.raises(trio.ClosedResourceError):
        receiver.receive_nowait()


async def test_issue10_item6_producer_end_drains_then_end_of_channel() -> None:
    receiver, feed = make()
    for i in range(3):
        feed.offer(i, 1)
    feed.close()
    assert await read_to_end(receiver) == [0, 1, 2]
    with pytest.raises(trio.EndOfChannel):
        await receiver.receive()


async def test_issue10_item6_closing_by_the_consumer_after_the_end_is_harmless() -> None:
    closed: list[Feed[int]] = []
    receiver, feed = open_receiver("t", 3, Overflow.DROP_NEWEST, closed.append)
    feed.close()
    receiver.close()
    assert closed == [feed]
    with pytest.raises(trio.ClosedResourceError):
        receiver.receive_nowait()


# -- 9.4: several tasks reading one receiver ---------------------------------------------


async def test_issue9_item4_waiters_get_items_in_fifo_order() -> None:
    receiver, feed = make()
    got: dict[int, object] = {}

    async def worker(index: int) -> None:
        got[index] = await receiver.receive()

    async with trio.open_nursery() as nursery:
        for index in range(3):
            nursery.start_soon(worker, index)
            await trio.testing.wait_all_tasks_blocked()  # fixes the waiting order
        assert receiver.statistics().tasks_waiting_receive == 3
        for item in (10, 11, 12):
            feed.offer(item, 1)  # handed straight to the longest-waiting task
    assert got == {0: 10, 1: 11, 2: 12}


async def test_issue9_item4_many_consumers_all_woken(autojump_clock: trio.abc.Clock) -> None:
    receiver, feed = make(max_buffer=1000)
    counts = [0, 0]

    async def worker(index: int) -> None:
        async for _ in receiver:
            counts[index] += 1
            await trio.sleep(0.01)  # each event takes a while to handle

    async with trio.open_nursery() as nursery:
        for index in range(2):
            nursery.start_soon(worker, index)
        for item in range(200):
            feed.offer(item, 1)
            await trio.sleep(0.005)  # events arrive faster than one worker handles them
        feed.close()
    assert sum(counts) == 200
    assert abs(counts[0] - counts[1]) <= 1, counts  # both worked, fairly


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.parametrize("by", ["producer", "consumer"])
async def test_issue9_item4_every_consumer_ends_on_close(workers: int, by: str) -> None:
    receiver, feed = make()
    ended: list[str] = []

    async def worker() -> None:
        try:
            async for _ in receiver:
                pass
            ended.append("end")
        except trio.ClosedResourceError:
            ended.append("closed")

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            for _ in range(workers):
                nursery.start_soon(worker)
            await trio.testing.wait_all_tasks_blocked()
            feed.close() if by == "producer" else receiver.close()
    assert ended == ["end" if by == "producer" else "closed"] * workers


async def test_issue9_item4_a_cancelled_waiter_loses_no_item() -> None:
    receiver, feed = make()
    got: list[object] = []

    async def worker() -> None:
        got.append(await receiver.receive())

    async with trio.open_nursery() as doomed:
        doomed.start_soon(worker)
        await trio.testing.wait_all_tasks_blocked()
        doomed.cancel_scope.cancel()  # leaves the queue before anything arrived
    assert receiver.statistics().tasks_waiting_receive == 0
    async with trio.open_nursery() as late:
        late.start_soon(worker)
        await trio.testing.wait_all_tasks_blocked()
        feed.offer(7, 1)  # handed over at once ...
        late.cancel_scope.cancel()  # ... so a cancel right after cannot lose it
    assert got == [7]
    assert receiver.statistics().buffered == 0


# -- 9.9 / 8.3: the end of a stream ------------------------------------------------------


async def test_issue9_item9_last_drops_are_announced() -> None:
    receiver, feed = make(max_buffer=3)
    for i in range(8):
        feed.offer(i, 1)
    feed.close()
    assert await read_to_end(receiver) == [0, 1, 2, StreamGap(GapReason.OVERFLOW, 5, 1)]
    assert receiver.statistics().dropped == 5


async def test_issue9_item9_a_pending_reconnect_marker_is_announced_at_the_end() -> None:
    receiver, feed = make()
    feed.offer(1, 1)
    feed.mark_gap(GapReason.RECONNECT, 2)
    feed.close()
    assert await read_to_end(receiver) == [1, StreamGap(GapReason.RECONNECT, 0, 2)]


async def test_issue8_item3_terminal_error_is_raised_after_the_drain() -> None:
    receiver, feed = make(max_buffer=1)
    feed.offer(1, 1)
    feed.offer(2, 1)  # dropped
    error = NotReadyError("the runtime stopped for good")
    feed.close(error)
    assert receiver.receive_nowait() == 1
    assert receiver.receive_nowait() == StreamGap(GapReason.OVERFLOW, 1, 1)
    for _ in range(2):  # every later receive says the same
        with pytest.raises(NotReadyError) as raised:
            await receiver.receive()
        assert raised.value is error


async def test_issue8_item3_blocked_readers_get_the_terminal_error() -> None:
    receiver, feed = make()
    errors: list[BaseException] = []

    async def worker() -> None:
        try:
            await receiver.receive()
        except NotReadyError as exc:
            errors.append(exc)

    error = NotReadyError("stopped")
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(worker)
        await trio.testing.wait_all_tasks_blocked()
        feed.close(error)
    assert errors == [error] * 3


# -- 8.4: a pending marker made readable ---------------------------------------------------


async def test_issue8_item4_flush_gap_wakes_a_waiter_before_any_event() -> None:
    receiver, feed = make()
    feed.mark_gap(GapReason.RECONNECT, 2)
    with pytest.raises(trio.WouldBlock):
        receiver.receive_nowait()  # pending: not readable until READY
    async with trio.open_nursery() as nursery:

        async def ready() -> None:
            await trio.testing.wait_all_tasks_blocked()
            feed.flush_gap()
            feed.offer(5, 2)

        nursery.start_soon(ready)
        assert await receiver.receive() == StreamGap(GapReason.RECONNECT, 0, 2)
        assert await receiver.receive() == 5
    feed.flush_gap()  # nothing pending: no marker
    with pytest.raises(trio.WouldBlock):
        receiver.receive_nowait()


# -- 8.11: producer methods are private ----------------------------------------------------


def test_issue8_item11_consumer_side_has_no_producer_methods() -> None:
    receiver, _ = make()
    present = [name for name in (*PRODUCER_METHODS, "close_all") if hasattr(receiver, name)]
    assert present == []
    # close() exists but only in its consumer form: it takes no error.
    with pytest.raises(TypeError):
        receiver.close(RuntimeError("x"))  # type: ignore[call-arg]


def test_issue8_item11_log_stream_facade_has_only_consumer_methods() -> None:
    async def send(command: object) -> object:
        return None

    stream = LogStream(LogRouter(send, command_timeout=1))
    internals = ("deliver", "restore_commands", "mark_gap", "flush_gaps", "close_all", "stats")
    assert [name for name in internals if hasattr(stream, name)] == []
    assert stream.statistics() == ()


# -- a property over whole classes of inputs ----------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.integers(1, 4)),
        st.tuples(st.just("read"), st.integers(1, 4)),
        st.tuples(st.just("gap"), st.just(0)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=60,
)


@given(
    ops=OPS,
    max_buffer=st.integers(1, 5),
    overflow=st.sampled_from([Overflow.DROP_NEWEST, Overflow.DROP_OLDEST]),
)
def test_issue9_item9_every_loss_is_announced_by_the_end(
    ops: list[tuple[str, int]], max_buffer: int, overflow: Overflow
) -> None:
    """Whatever happens, reading to the end yields the offered items in order, minus exactly
    the ones the gap markers count; one marker per counted gap; none without a cause."""
    receiver, feed = make(max_buffer, overflow)
    offered = 0
    read: list[object] = []
    marked = False
    for op, count in ops:
        if op == "offer":
            for _ in range(count):
                feed.offer(offered, 1)
                offered += 1
        elif op == "read":
            for _ in range(count):
                try:
                    read.append(receiver.receive_nowait())
                except trio.WouldBlock:
                    break
        elif op == "gap":
            feed.mark_gap(GapReason.RECONNECT, 2)
            marked = True
        else:
            feed.flush_gap()
    feed.close()
    read += [receiver.receive_nowait() for _ in range(len(feed._buffer))]
    with pytest.raises(trio.EndOfChannel):
        receiver.receive_nowait()
    items = [item for item in read if isinstance(item, int)]
    gaps = [item for item in read if isinstance(item, StreamGap)]
    stats = receiver.statistics()
    assert items == sorted(items) and len(set(items)) == len(items)
    assert len(items) + sum(gap.dropped for gap in gaps) == offered
    assert sum(gap.dropped for gap in gaps) == stats.dropped
    assert len(gaps) == stats.gaps
    assert gaps or (not marked and stats.dropped == 0)
