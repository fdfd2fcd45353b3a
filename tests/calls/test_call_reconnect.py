"""Issue 11 item 5: calls across reconnects, and the end of the runtime."""

from __future__ import annotations

import pytest
import trio

from esl_trio import (
    ConnectionLostError,
    EslRuntime,
    GapReason,
    NotReadyError,
    OriginateError,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.calls import ENDED_WHILE_DISCONNECTED, Hangup
from esl_trio.config import RetryPolicy
from esl_trio.testing import SimulatedPbx

from .conftest import call_config


async def _reconnected(rt: EslRuntime) -> None:
    await rt.wait_state(RuntimeState.RECONNECTING)
    await rt.wait_state(RuntimeState.READY)


async def test_issue11_item5_call_outlives_a_reconnect_and_gets_a_gap(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call, call.events() as events:
        await call.wait_answered()
        await pbx.fs.drop_all()
        await _reconnected(rt)
        done = await call.playback("after.wav")  # the channel lived on in FreeSWITCH
        assert done["Application-Data"] == "after.wav"
        items = []
        while not isinstance(item := events.receive_nowait(), StreamGap):
            items.append(item)
        assert item.reason is GapReason.RECONNECT
        assert call.state.answer_state == "answered"
    assert pbx.calls == {}
    dumps = [c for _, c in pbx.fs.commands if getattr(c, "command", "") == "uuid_dump"]
    assert len(dumps) == 1  # resynced once, by the registry task


async def test_issue11_item5_channel_ended_while_disconnected(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        await pbx.fs.drop_all()
        pbx.hangup(call.uuid)  # its events go nowhere: nobody is connected
        with trio.fail_after(10):
            outcome = await call.wait_hangup()
        assert outcome == Hangup(ENDED_WHILE_DISCONNECTED, while_disconnected=True)
        async with call.events() as late:
            assert [item async for item in late] == []  # a finished call's receiver ends


async def test_issue11_item5_execute_in_flight_gets_connection_lost(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        async with trio.open_nursery() as nursery:

            async def drop_soon() -> None:
                await trio.sleep(0.5)  # playback takes 1 s
                await pbx.fs.drop_all()

            nursery.start_soon(drop_soon)
            with pytest.raises(ConnectionLostError) as caught:
                await call.playback("long.wav")
        assert caught.value.written is True


async def test_issue11_item1_connection_lost_during_originate_is_not_dialled_twice(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    pbx.fs.drop_on("bgapi originate", partial=5)  # FreeSWITCH ran it; the reply was cut
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()  # found with uuid_exists after the reconnect
        assert call.uuid in pbx.calls
    originates = [c for _, c in pbx.fs.commands if getattr(c, "command", "") == "originate"]
    assert len(originates) == 1
    assert pbx.calls == {}


async def test_issue11_item1_lost_before_freeswitch_ran_it_reports_the_loss(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    pbx.fs.drop_on("bgapi originate", before_reply=True)
    with pytest.raises(ConnectionLostError) as caught:
        async with rt.originate("loopback/9664"):
            pass  # pragma: no cover
    assert caught.value.written is True
    assert pbx.stats.calls_started == 0
    exists = [c for _, c in pbx.fs.commands if getattr(c, "command", "") == "uuid_exists"]
    assert exists  # asked before reporting


async def test_issue11_item5_originate_ended_while_disconnected_is_an_originate_error(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await trio.sleep(0.1)  # ringing
        await pbx.fs.drop_all()
        pbx.hangup(call.uuid, "CALL_REJECTED")
        with pytest.raises(OriginateError) as caught:
            await call.wait_answered()
    assert caught.value.cause == ENDED_WHILE_DISCONNECTED
    assert caught.value.while_disconnected


async def test_issue11_item5_runtime_stopping_for_good_ends_every_wait(
    pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    config = call_config()
    config = type(config)(
        host="pbx", heartbeat=config.heartbeat, retry=RetryPolicy(initial_delay=0.5, max_attempts=2)
    )
    async with (
        open_esl_runtime(config, connector=pbx.connector) as rt,
        rt.originate("loopback/9664") as call,
        call.dtmf() as digits,
    ):
        await call.wait_answered()
        pbx.fs.refuse_connections = True
        await pbx.fs.drop_all()
        with trio.fail_after(60):
            with pytest.raises(NotReadyError):
                await call.wait_hangup()
            # Like every receiver when the runtime stops for good: it raises, never blocks.
            with pytest.raises(NotReadyError):
                await digits.receive()
        assert rt.state is RuntimeState.FAILED


async def test_issue11_item5_leaving_the_runtime_ends_a_held_call(
    pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    """A task outside the call's block still iterating its receiver is released."""
    results: list[str] = []
    async with (
        trio.open_nursery() as nursery,
        open_esl_runtime(call_config(), connector=pbx.connector) as rt,
        rt.originate("loopback/9664") as call,
    ):
        await call.wait_answered()
        receiver = call.events()

        async def consume() -> None:
            async for _ in receiver:
                pass
            results.append("ended")

        nursery.start_soon(consume)
        await trio.sleep(1)
    assert results == ["ended"]


async def test_issue11_item5_scope_left_while_disconnected_hangs_up_after_reconnect(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        pbx.fs.refuse_connections = True
        await pbx.fs.drop_all()
        await rt.wait_state(RuntimeState.RECONNECTING)
    assert call.uuid in pbx.calls  # no connection: the hangup is owed
    pbx.fs.refuse_connections = False
    await rt.wait_state(RuntimeState.READY)
    await trio.sleep(1)  # virtual: the registry task sends the owed hangup once READY
    assert pbx.calls == {}
    kills = [c for _, c in pbx.fs.commands if getattr(c, "command", "") == "uuid_kill"]
    assert [k.args.split()[0] for k in kills] == [call.uuid]  # type: ignore[attr-defined]
    assert len(rt._registry) == 0
    assert not rt._hub.routed_unique_ids()
