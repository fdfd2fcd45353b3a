"""Testing your own esl-trio code against the fake FreeSWITCH.

Run: .venv/bin/pytest docs/examples/test_example.py -q
(in your project: ``pip install 'esl-trio[testing]'`` and set ``trio_mode = true`` for
pytest-trio; the plugin with the ``fake_freeswitch`` fixture registers itself).
"""

from collections.abc import AsyncIterator

import attrs
import pytest
import trio

from esl_trio import (
    CommandTimeoutError,
    EslRuntime,
    GapReason,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import HeartbeatConfig, SubscriptionConfig, Timeouts
from esl_trio.protocol import Api, Event
from esl_trio.testing import FakeFreeSwitch


def unique_id(item: Event | StreamGap) -> str | None:
    """The Unique-ID of an event (the test expects an event here, not a gap marker)."""
    assert isinstance(item, Event), item
    return item.unique_id


# -- the code under test: your application ------------------------------------------------


async def collect_answered(rt: EslRuntime, count: int) -> list[str]:
    """Return the Unique-IDs of the next ``count`` answered calls."""
    uuids: list[str] = []
    async with rt.events.receiver("CHANNEL_ANSWER") as answers:
        async for item in answers:
            if isinstance(item, StreamGap):
                continue  # a real app would resynchronise here (e.g. `show channels`)
            uuids.append(item.unique_id or "")
            if len(uuids) == count:
                return uuids
    return uuids


# -- fixtures -------------------------------------------------------------------------------

CONFIG = RuntimeConfig(
    host="fake",
    heartbeat=HeartbeatConfig.disabled(),  # keep timed tests about the thing under test
    subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER"]),
)


@pytest.fixture
async def rt(fake_freeswitch: FakeFreeSwitch) -> AsyncIterator[EslRuntime]:
    async with open_esl_runtime(CONFIG, connector=fake_freeswitch.connector) as runtime:
        yield runtime


# -- tests ----------------------------------------------------------------------------------


async def test_api_status(rt: EslRuntime, fake_freeswitch: FakeFreeSwitch) -> None:
    fake_freeswitch.api_handlers["status"] = lambda args: "UP and running\n"
    reply = await rt.api("status")
    assert reply.text == "UP and running\n"
    assert isinstance(fake_freeswitch.commands[-1][1], Api)


async def test_collect_answered(rt: EslRuntime, fake_freeswitch: FakeFreeSwitch) -> None:
    async def fire() -> None:
        await trio.sleep(0.1)  # let the receiver open first
        for n in range(3):
            fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": f"call-{n}"})

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fire)
        with trio.fail_after(5):
            assert await collect_answered(rt, 3) == ["call-0", "call-1", "call-2"]


async def test_slow_consumer_sees_a_gap(rt: EslRuntime, fake_freeswitch: FakeFreeSwitch) -> None:
    async with rt.events.receiver("CHANNEL_ANSWER", max_buffer=2) as answers:
        for n in range(5):
            fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": f"call-{n}"})
        await rt.api("status")  # a round trip: every event sent before it has been routed
        assert answers.statistics().dropped == 3
        # drop-newest keeps the oldest items, in order
        assert unique_id(answers.receive_nowait()) == "call-0"
        assert unique_id(answers.receive_nowait()) == "call-1"
        # the gap marker is yielded before the *next* item that gets through
        fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": "call-5"})
        await rt.api("status")
        assert answers.receive_nowait() == StreamGap(GapReason.OVERFLOW, dropped=3, generation=1)
        assert unique_id(answers.receive_nowait()) == "call-5"


async def test_job_completion_deadline(
    fake_freeswitch: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fake_freeswitch.auto_complete_jobs = False  # jobs hang until complete_job()
    config = attrs.evolve(CONFIG, timeouts=Timeouts(bgapi_completion=60))
    async with open_esl_runtime(config, connector=fake_freeswitch.connector) as rt:
        job = await rt.bgapi("originate", "loopback/9664 &park")
        start = trio.current_time()
        with pytest.raises(CommandTimeoutError):
            await job.wait()
        assert trio.current_time() - start == pytest.approx(60)  # virtual time: instant


async def test_stuck_api_recycles_the_connection(
    rt: EslRuntime, fake_freeswitch: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fake_freeswitch.connections[0].hold_replies()  # this socket stops answering
    async with rt.events.receiver("CHANNEL_ANSWER") as answers:
        with pytest.raises(CommandTimeoutError):
            await rt.api("status")  # Timeouts.api (30 s) of virtual time
        await rt.wait_state(RuntimeState.READY)  # reconnected on a fresh socket
        assert rt.health().generation == 2
        fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": "after"})
        gap = await answers.receive()
        assert isinstance(gap, StreamGap)
        assert gap.reason is GapReason.RECONNECT
        assert unique_id(await answers.receive()) == "after"
