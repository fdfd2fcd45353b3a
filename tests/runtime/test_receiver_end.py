"""Receivers end with the runtime (issue 8 item 3); the reconnect marker comes on READY
(issue 8 item 4). Against the fake FreeSWITCH, on virtual time. B-RECON-2/5, B-LIM-2."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from esl_trio import (
    AuthenticationError,
    GapReason,
    NotReadyError,
    Receiver,
    RuntimeState,
    StreamGap,
)
from esl_trio.config import RetryPolicy, SubscriptionConfig
from esl_trio.protocol import Event, LogLine
from esl_trio.testing import FakeFreeSwitch
from tests.runtime.conftest import OpenRuntime

ANSWERS = SubscriptionConfig(events=["CHANNEL_ANSWER"])


async def refuse(fs: FakeFreeSwitch) -> None:
    fs.refuse_connections = True
    await fs.drop_all()


async def reject_auth(fs: FakeFreeSwitch) -> None:
    fs.reject_auth_next()
    await fs.drop_all()


async def read_all(receiver: Receiver[Event] | Receiver[LogLine], into: list[object]) -> None:
    async for item in receiver:
        into.append(item)


@pytest.mark.parametrize(
    ("retry", "fault", "cause"),
    [
        (RetryPolicy(initial_delay=1, max_attempts=2), refuse, None),
        (RetryPolicy.disabled(), FakeFreeSwitch.drop_all, None),
        (RetryPolicy(initial_delay=1), reject_auth, AuthenticationError),
    ],
    ids=["retries-exhausted", "retry-disabled", "auth-rejected-on-reconnect"],
)
async def test_issue8_item3_receivers_end_when_the_runtime_stops_for_good(
    autojump_clock: trio.abc.Clock,
    fs: FakeFreeSwitch,
    open_runtime: OpenRuntime,
    retry: RetryPolicy,
    fault: Callable[[FakeFreeSwitch], Awaitable[None]],
    cause: type[BaseException] | None,
) -> None:
    events_seen: list[object] = []
    errors: list[BaseException] = []

    async def consume(receiver: Receiver[Event] | Receiver[LogLine]) -> None:
        try:
            await read_all(receiver, events_seen)
        except NotReadyError as exc:
            errors.append(exc)

    async with (
        open_runtime(retry=retry, subscriptions=ANSWERS) as rt,
        rt.events.receiver("CHANNEL_ANSWER") as events,
        rt.logs.receiver() as logs,
    ):
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "before"})
        await rt.api("status")  # read before the fault
        await fault(fs)
        with trio.fail_after(60):  # ends by itself: nobody closes these receivers
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume, events)
                nursery.start_soon(consume, logs)
        assert rt.state is RuntimeState.FAILED
    # A failed reconnect attempt (auth rejected) leaves its marker, announced at the end.
    gaps = [item for item in events_seen if isinstance(item, StreamGap)]
    assert all(gap.reason is GapReason.RECONNECT for gap in gaps)
    assert [item.unique_id for item in events_seen if isinstance(item, Event)] == ["before"]
    assert len(errors) == 2 and errors[0] is errors[1]
    assert "stopped for good" in str(errors[0])
    if cause is not None:
        assert isinstance(errors[0].__cause__, cause)


async def test_issue8_item3_receivers_end_when_the_block_is_left(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    seen: list[object] = []
    # Leaving the runtime's block must stop every consumer's ``async for`` (no error, no
    # hang), or this nursery never exits.
    with trio.fail_after(60):
        async with trio.open_nursery() as consumers, open_runtime(subscriptions=ANSWERS) as rt:
            for _ in range(2):  # two tasks, two receivers, nobody closes them
                events = rt.events.receiver("CHANNEL_ANSWER")
                consumers.start_soon(read_all, events, seen)
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": "last"})
            await rt.api("status")
    assert [getattr(item, "unique_id", None) for item in seen] == ["last", "last"]
    assert rt.health().receivers == ()


async def test_issue8_item4_reconnect_marker_arrives_on_ready(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with (
        open_runtime(subscriptions=ANSWERS) as rt,
        rt.events.receiver("CHANNEL_ANSWER") as events,
    ):
        await fs.drop_all()
        with trio.fail_after(60):  # no event is ever sent: READY alone must deliver it
            gap = await events.receive()
        assert gap == StreamGap(GapReason.RECONNECT, 0, 2)
        assert rt.state is RuntimeState.READY
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "after"})
        with trio.fail_after(10):
            after = await events.receive()
        assert isinstance(after, Event) and after.unique_id == "after"
        assert events.statistics().gaps == 1  # one marker, not one per READY and event


async def test_issue8_item3_a_receiver_opened_after_the_end_is_ended(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(retry=RetryPolicy.disabled()) as rt:
        await fs.drop_all()
        await rt.wait_state(RuntimeState.FAILED)
        async with rt.events.receiver() as late:
            with pytest.raises(NotReadyError), trio.fail_after(1):
                await late.receive()
