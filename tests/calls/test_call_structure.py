"""Issue 11: cancellation at every await of a call scope, scale, routing, bridging, attach."""

from __future__ import annotations

import string

import attrs
import hypothesis.strategies as st
import pytest
import trio
import trio.lowlevel
from hypothesis import given

from esl_trio import EslRuntime, open_esl_runtime
from esl_trio._call_dial import format_variables
from esl_trio.config import BackpressureConfig
from esl_trio.errors import LocalProtocolError
from esl_trio.protocol import ChannelEvent
from esl_trio.testing import SimulatedPbx, open_simulated_pbx

from .conftest import call_config


def _tasks() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(c) for n in task.child_nurseries for c in n.child_tasks)

    return count(trio.lowlevel.current_root_task())


async def _whole_scope(rt: EslRuntime, pbx: SimulatedPbx) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        await call.playback("welcome.wav")
        async with call.dtmf() as digits:
            pbx.press(call.uuid, "1")
            await digits.receive()
        await call.execute("sleep", "300")
        await call.wait_hangup()  # never: the PBX holds the call for an hour


async def test_issue11_cancellation_at_every_await_hangs_up_and_leaks_nothing(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with (
        open_simulated_pbx(heartbeat_interval=None, hold_time=3600.0) as pbx,
        open_esl_runtime(call_config(), connector=pbx.connector) as rt,
    ):
        baseline = _tasks()
        # Every await of the scope waits for a different virtual instant: a sweep of
        # cancel times in 20 ms steps lands in each of them (and between them).
        for step in range(0, 200, 2):
            with trio.move_on_after(step / 100):
                await _whole_scope(rt, pbx)
            await trio.sleep(0.05)  # an owed hangup of a late channel goes out
            assert pbx.calls == {}, step
            assert len(rt._registry) == 0, step
            assert not rt._hub.routed_unique_ids(), step
            assert _tasks() == baseline, step


async def test_issue11_item6_a_thousand_concurrent_call_scopes(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600.0) as pbx:
        # 1000 originates in flight at once are 1000 bgapi jobs: above the default limit.
        config = attrs.evolve(call_config(), backpressure=BackpressureConfig(max_inflight=4000))
        async with open_esl_runtime(config, connector=pbx.connector) as rt:
            baseline = _tasks()
            answered = trio.Semaphore(0)
            release = trio.Event()
            counts: list[int] = []

            async def one() -> None:
                async with rt.originate("loopback/9664") as call:
                    await call.wait_answered()
                    answered.release()
                    await release.wait()

            async with trio.open_nursery() as nursery:
                for _ in range(1000):
                    nursery.start_soon(one)
                for _ in range(1000):
                    await answered.acquire()
                counts.append(len(pbx.calls))
                counts.append(len(rt._registry))
                counts.append(_tasks() - baseline)
                release.set()
            assert counts == [1000, 1000, 1000]  # the 1000 callers' own tasks, nothing per call
            assert pbx.calls == {}
            assert len(rt._registry) == 0


async def test_issue11_item4_routing_is_by_unique_id(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as mine:
        async with mine.events() as events:
            other = pbx.originate("1000")  # a call nobody scoped
            await mine.wait_answered()
            await trio.sleep(1)
            pbx.hangup(other)
            await trio.sleep(1)
            seen = {e.unique_id for e in [events.receive_nowait() for _ in range(3)]}
        assert seen == {mine.uuid}
        assert rt._hub.routed_unique_ids() == [mine.uuid]


async def test_issue11_item3_click_to_call_bridges_two_legs(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/1000") as agent, rt.originate("loopback/5551234") as customer:
        await agent.wait_answered()
        await customer.wait_answered()
        async with agent.events("CHANNEL_BRIDGE") as bridges:
            await agent.bridge(customer)
            bridged = await bridges.receive()
        assert isinstance(bridged, ChannelEvent)
        assert bridged.other_leg_unique_id == customer.uuid
        await customer.hangup()
        assert (await agent.wait_hangup()).cause == "NORMAL_CLEARING"  # the other leg follows


async def test_issue11_item2_attach_to_a_parked_call(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    await rt.subscriptions.subscribe("CHANNEL_PARK")
    async with rt.events.receiver("CHANNEL_PARK") as parks:
        uuid = pbx.originate("9664", caller="1001")
        with trio.fail_after(5):
            park = await parks.receive()
    assert isinstance(park, ChannelEvent)
    target = park.unique_id
    assert target is not None
    async with rt.attach(target) as call:
        assert call.state.answer_state == "answered"  # from its uuid_dump
        done = await call.playback("hello.wav")
        assert done["Application-Response"] == "FILE PLAYED"
    assert target in pbx.fs.channels  # not hung up: attach does not own the channel
    async with rt.attach(target, hangup_on_exit=True):
        pass
    assert uuid not in pbx.calls


async def test_issue11_item2_attach_to_a_missing_channel_fails(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    with pytest.raises(Exception, match="no channel"):
        async with rt.attach("6b3e0c3c-0000-4000-8000-000000000000"):
            pass  # pragma: no cover
    assert len(rt._registry) == 0


_SAFE_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)


@given(st.dictionaries(_SAFE_NAME, st.text(max_size=20), max_size=5))
def test_issue11_item1_variables_are_escaped_or_refused(variables: dict[str, str]) -> None:
    """For any variables: either refused, or the {...} block parses back to exactly them."""
    try:
        block = format_variables(variables)
    except LocalProtocolError:
        assert any(set(v) & set("'{}\\\r\n\0\t") or v.startswith("^^") for v in variables.values())
        return
    if not variables:
        assert block == ""
        return
    assert block.startswith("{") and block.endswith("}")
    assert not set(block) & set("\r\n\0") and block.count("{") == 1 and block.count("}") == 1
    assert _parse_like_freeswitch(block[1:-1]) == variables
    if " " in block:  # spaces only ever inside quotes: originate's argv stays intact
        assert all(" " not in part or part.count("'") == 2 for part in _split(block[1:-1]))


def _split(inner: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in inner:
        if char == "'":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _parse_like_freeswitch(inner: str) -> dict[str, str]:
    """Comma-separated ``name=value``; a single-quoted value keeps commas and spaces."""
    result = {}
    for part in _split(inner):
        name, _, value = part.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        result[name] = value
    return result


def test_issue11_item3_dtmf_digits_are_checked() -> None:
    from esl_trio._call_dial import check_digits

    assert check_digits("0123456789*#ABCDw") == "0123456789*#ABCDw"
    for bad in ["", "1 2", "1\n", "x", "1;2"]:
        with pytest.raises(LocalProtocolError):
            check_digits(bad)
    assert set(string.digits) <= set("0123456789")
