"""Testing against the simulated PBX: live calls, on virtual time.

Run: .venv/bin/pytest docs/examples/test_simulated_pbx.py -q
(the ``simulated_pbx`` fixture comes from the esl-trio pytest plugin, registered when esl-trio
is installed; pytest-trio's ``trio_mode = true`` is set in this project's pyproject.toml).
"""

from collections.abc import AsyncIterator

import pytest
import trio

from esl_trio import EslRuntime, RuntimeConfig, StreamGap, open_esl_runtime
from esl_trio.config import HeartbeatConfig, SubscriptionConfig
from esl_trio.protocol import ChannelEvent
from esl_trio.testing import SimulatedPbx

# -- the code under test: count the calls that were answered, then hung up ------------------


async def count_completed_calls(rt: EslRuntime, wanted: int) -> dict[str, str]:
    """Unique-ID -> Hangup-Cause of the next ``wanted`` originated calls (their outbound leg)
    that ended after an answer."""
    answered: set[str] = set()
    ended: dict[str, str] = {}
    async with rt.events.receiver("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE") as events:
        async for event in events:
            if isinstance(event, StreamGap) or not isinstance(event, ChannelEvent):
                continue  # a real app would resynchronise after a gap (`show channels`)
            if event.call_direction != "outbound":
                continue  # the B leg of a loopback call
            uuid = event.unique_id or ""
            if event.name == "CHANNEL_ANSWER":
                answered.add(uuid)
            elif uuid in answered:
                ended[uuid] = event.hangup_cause or ""
                if len(ended) == wanted:
                    break
    return ended


# -- fixtures -------------------------------------------------------------------------------

CONFIG = RuntimeConfig(
    host="pbx",
    heartbeat=HeartbeatConfig.disabled(),
    subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]),
)


@pytest.fixture
async def rt(simulated_pbx: SimulatedPbx) -> AsyncIterator[EslRuntime]:
    async with open_esl_runtime(CONFIG, connector=simulated_pbx.connector) as runtime:
        yield runtime


# -- tests ----------------------------------------------------------------------------------


async def test_originate_waits_for_the_answer(
    rt: EslRuntime, simulated_pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    start = trio.current_time()
    reply = await rt.api("originate", "loopback/9664 &park")  # answered after 0.5 s
    uuid = reply.text.split()[1]  # "+OK <uuid>"
    assert trio.current_time() - start == pytest.approx(0.5)
    assert uuid in simulated_pbx.calls
    assert (await rt.api("uuid_exists", uuid)).text == "true"


@pytest.mark.simulated_pbx(seed=7, hold_time=3.0)
async def test_hangups_are_counted(
    rt: EslRuntime, simulated_pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with trio.open_nursery() as nursery:

        async def place_calls() -> None:
            await trio.sleep(0.1)  # let the receiver open first
            for _ in range(3):
                simulated_pbx.originate("9664")

        nursery.start_soon(place_calls)
        with trio.fail_after(60):  # virtual seconds: instant
            ended = await count_completed_calls(rt, 3)
    assert set(ended.values()) == {"NORMAL_CLEARING"}
    assert simulated_pbx.stats.calls_completed == 3
