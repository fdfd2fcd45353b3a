"""The testing tutorial's test file: an application module and its tests, against the fake.

Run: .venv/bin/pytest docs/examples/test_tutorial.py -q
"""

from collections.abc import AsyncIterator

import attrs
import pytest
import trio
import trio.testing

from esl_trio import (
    CommandTimeoutError,
    EslRuntime,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import HeartbeatConfig, SubscriptionConfig, Timeouts
from esl_trio.testing import FakeFreeSwitch

# -- the application under test (in a real project: its own module) -----------------------


async def switch_is_up(rt: EslRuntime) -> bool:
    """True when FreeSWITCH says it is UP and ready."""
    text = (await rt.api("status")).text
    return text.startswith("UP") and "is ready" in text


class CallBoard:
    """The set of answered calls, kept from events and resynchronised after any gap."""

    def __init__(self) -> None:
        self.calls: set[str] = set()
        self.resyncs = 0

    async def run(
        self, rt: EslRuntime, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with rt.events.receiver("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE") as events:
            task_status.started()  # the receiver exists from here on
            async for item in events:
                if isinstance(item, StreamGap):
                    await self.resync(rt)
                elif item.name == "CHANNEL_ANSWER":
                    self.calls.add(item.unique_id or "")
                else:
                    self.calls.discard(item.unique_id or "")

    async def resync(self, rt: EslRuntime) -> None:
        output = (await rt.api("show", "channels")).text
        rows = [line for line in output.splitlines()[1:] if line and "total." not in line]
        self.calls = {row.split(",", 1)[0] for row in rows}
        self.resyncs += 1


async def originate(rt: EslRuntime, destination: str, *, ring_for: float = 30) -> str | None:
    """Originate; return the call's UUID, or None if nobody answered within ``ring_for``."""
    job = await rt.bgapi("originate", f"{destination} &park")
    with trio.move_on_after(ring_for):
        done = await job.wait()
        return done.result.removeprefix("+OK").strip() if done.ok else None
    return None


# -- fixtures -------------------------------------------------------------------------------

CONFIG = RuntimeConfig(
    host="fake",
    heartbeat=HeartbeatConfig.disabled(),
    subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]),
)


@pytest.fixture
async def rt(fake_freeswitch: FakeFreeSwitch) -> AsyncIterator[EslRuntime]:
    async with open_esl_runtime(CONFIG, connector=fake_freeswitch.connector) as runtime:
        yield runtime


# -- tests ----------------------------------------------------------------------------------


async def test_switch_is_up(rt: EslRuntime) -> None:
    assert await switch_is_up(rt)


async def test_switch_is_not_up_while_shutting_down(
    rt: EslRuntime, fake_freeswitch: FakeFreeSwitch
) -> None:
    fake_freeswitch.api_handlers["status"] = lambda args: "UP 0 years, 3 days\nshutting down\n"
    assert not await switch_is_up(rt)


async def test_board_follows_calls(rt: EslRuntime, fake_freeswitch: FakeFreeSwitch) -> None:
    board = CallBoard()
    async with trio.open_nursery() as nursery:
        await nursery.start(board.run, rt)
        fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": "call-1"})
        fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": "call-2"})
        fake_freeswitch.emit("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": "call-1"})
        await rt.api("status")  # a round trip: all three events are in the receiver now
        await trio.testing.wait_all_tasks_blocked()  # and the board has consumed them
        assert board.calls == {"call-2"}
        nursery.cancel_scope.cancel()


async def test_board_resyncs_after_a_reconnect(
    rt: EslRuntime, fake_freeswitch: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    board = CallBoard()
    async with trio.open_nursery() as nursery:
        await nursery.start(board.run, rt)
        fake_freeswitch.emit("CHANNEL_ANSWER", {"Unique-ID": "call-1"})
        await rt.api("status")

        await fake_freeswitch.drop_all()  # the connection is cut ...
        fake_freeswitch.channels.update({"call-1", "call-3"})  # ... and call-3 was answered
        await rt.wait_state(RuntimeState.READY)  # reconnected (after 1 s of virtual time)
        fake_freeswitch.emit("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": "call-1"})
        fake_freeswitch.channels.discard("call-1")
        await rt.api("status")
        await trio.testing.wait_all_tasks_blocked()

        assert board.resyncs == 1
        assert board.calls == {"call-3"}
        nursery.cancel_scope.cancel()


async def test_originate_gives_up_after_ring_time(
    fake_freeswitch: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fake_freeswitch.auto_complete_jobs = False  # nobody answers
    config = attrs.evolve(CONFIG, timeouts=Timeouts(bgapi_completion=120))
    async with open_esl_runtime(config, connector=fake_freeswitch.connector) as rt:
        start = trio.current_time()
        assert await originate(rt, "user/1000", ring_for=30) is None
        assert trio.current_time() - start == pytest.approx(30)  # instant in real time


async def test_originate_when_the_job_deadline_comes_first(
    fake_freeswitch: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fake_freeswitch.auto_complete_jobs = False
    config = attrs.evolve(CONFIG, timeouts=Timeouts(bgapi_completion=10))
    async with open_esl_runtime(config, connector=fake_freeswitch.connector) as rt:
        with pytest.raises(CommandTimeoutError):
            await originate(rt, "user/1000", ring_for=30)
