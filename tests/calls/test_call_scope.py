"""Issue 11 items 1-3: originate / attach scopes, the Call's state, waits and commands."""

from __future__ import annotations

import pytest
import trio

from esl_trio import EslRuntime, OriginateError
from esl_trio.calls import Hangup
from esl_trio.errors import CallEndedError, LocalProtocolError
from esl_trio.protocol import Event
from esl_trio.testing import SimulatedPbx


async def test_issue11_item1_originate_answers_and_exit_hangs_up(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9196/default", variables={"x": "1"}) as call:
        await call.wait_answered()
        assert call.uuid in pbx.calls  # the client-chosen uuid is the A leg's
        assert call.state.answer_state == "answered"
        assert call.variables["x"] == "1"
        assert call.variables["origination_uuid"] == call.uuid
    assert call.uuid not in pbx.calls
    assert pbx.calls == {}


async def test_issue11_item3_execute_returns_its_own_execute_complete(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9196/default") as call:
        await call.wait_answered()
        done = await call.execute("playback", "tone_stream://%(300,0,440)")
        assert done.name == "CHANNEL_EXECUTE_COMPLETE"
        assert done["Application"] == "playback"
        assert done["Application-Response"] == "FILE PLAYED"
        sent = [c for _, c in pbx.fs.commands if getattr(c, "verb", "") == "sendmsg"][-1]
        headers = dict(sent.headers)  # type: ignore[attr-defined]
        assert headers["event-lock"] == "true"
        assert done["Application-UUID"] == headers["Event-UUID"]


async def test_issue11_item1_failures_carry_the_hangup_cause(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    for destination, cause in [
        ("loopback/busy", "USER_BUSY"),
        ("loopback/no-route", "NO_ROUTE_DESTINATION"),
        ("error/user_busy", "USER_BUSY"),
    ]:
        with pytest.raises(OriginateError) as caught:
            await _answer(rt, destination)
        assert caught.value.cause == cause, destination
    start = trio.current_time()
    with pytest.raises(OriginateError) as caught:
        await _answer(rt, "loopback/no-answer", timeout=5)
    assert caught.value.cause == "NO_ANSWER"
    assert trio.current_time() - start == pytest.approx(5, abs=0.1)
    assert pbx.calls == {}


async def _answer(rt: EslRuntime, destination: str, timeout: float = 60.0) -> None:
    async with rt.originate(destination, timeout=timeout) as call:
        await call.wait_answered()


async def test_issue11_item3_wait_hangup_returns_the_cause(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        pbx.hangup(call.uuid, "USER_BUSY")
        outcome = await call.wait_hangup()
        assert outcome == Hangup("USER_BUSY")
        with pytest.raises(CallEndedError):
            await call.execute("playback", "x.wav")


async def test_issue11_item3_dtmf_and_play_and_get_digits(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        async with call.dtmf() as digits:
            pbx.press(call.uuid, "12#")
            got = [await digits.receive() for _ in range(3)]
        assert got == ["1", "2", "#"]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_press_later, pbx, call.uuid, "42#")
            result = await call.play_and_get_digits("ivr/menu.wav", max_digits=3)
        assert result == "42"


async def _press_later(pbx: SimulatedPbx, uuid: str, digits: str) -> None:
    await trio.sleep(1.5)
    pbx.press(uuid, digits)


async def test_issue11_item3_send_dtmf_reaches_the_other_leg(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        other = pbx.calls[call.uuid].b_leg_uuid
        async with rt.attach(other) as b_leg, b_leg.dtmf() as digits:
            await call.send_dtmf("5")
            assert await digits.receive() == "5"
        assert other in pbx.fs.channels  # attach does not hang up by default


async def test_issue11_item3_variables_set_getvar(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        await call.set("color", "blue")
        assert await call.getvar("color") == "blue"
        assert await call.getvar("nothing") is None


async def test_issue11_item3_events_receiver_sees_only_this_call(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with (
        rt.originate("loopback/9664") as first,
        rt.originate("loopback/9196") as second,
        first.events("CHANNEL_EXECUTE_COMPLETE") as completes,
    ):
        await first.wait_answered()
        await second.wait_answered()
        await second.playback("a.wav")
        await first.playback("b.wav")
        event = await completes.receive()
        assert isinstance(event, Event)
        assert event.unique_id == first.uuid
        assert event["Application-Data"] == "b.wav"


async def test_issue11_item3_unknown_app_hangs_up_and_execute_raises(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        await call.wait_answered()
        with pytest.raises(CallEndedError) as caught:
            await call.execute("no_such_app")
        assert caught.value.hangup.cause == "DESTINATION_OUT_OF_ORDER"


async def test_issue11_item1_variables_cannot_inject(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    for variables in [{"a": "x}y"}, {"a": "x\ny"}, {"a b": "1"}, {"a": "it's"}, {"a": "${x}"}]:
        with pytest.raises(LocalProtocolError):
            async with rt.originate("loopback/9664", variables=variables):
                pass  # pragma: no cover
    assert pbx.calls == {}
    assert not [c for _, c in pbx.fs.commands if getattr(c, "verb", "") == "bgapi"]


async def test_issue11_item3_execute_bridge_dials_and_returns_when_the_far_end_hangs_up(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/1000") as call:
        await call.wait_answered()
        done = await call.execute("bridge", "loopback/busy")
        assert done["variable_originate_disposition"] == "USER_BUSY"
        async with trio.open_nursery() as nursery:

            async def far_end_hangs_up() -> None:
                await trio.sleep(5)
                far = next(uuid for uuid in pbx.calls if uuid != call.uuid)
                pbx.hangup(far)

            nursery.start_soon(far_end_hangs_up)
            async with call.events("CHANNEL_BRIDGE") as bridges:
                done = await call.execute("bridge", "loopback/5551234")
                bridged = bridges.receive_nowait()
        assert isinstance(bridged, Event) and bridged.unique_id == call.uuid
        assert done["Application"] == "bridge"
        assert call.hangup_outcome is None  # the caller stays up
    assert pbx.calls == {}


async def test_issue11_item3_wait_state_record_answer_transfer(
    rt: EslRuntime, pbx: SimulatedPbx, autojump_clock: trio.abc.Clock
) -> None:
    async with rt.originate("loopback/9664") as call:
        state = await call.wait_state("ACTIVE")
        assert state.call_state == "ACTIVE"
        assert (await call.answer())["Application"] == "answer"
        start = trio.current_time()
        done = await call.record("/tmp/greeting.wav", time_limit=3)
        assert done["Application-Data"] == "/tmp/greeting.wav 3"
        assert trio.current_time() - start == pytest.approx(3, abs=0.05)
        await call.transfer("5000")
        with pytest.raises(ValueError, match="already has an open scope"):
            async with rt.attach(call.uuid):
                pass  # pragma: no cover
        pbx.hangup(call.uuid)
        with pytest.raises(CallEndedError):
            await call.wait_state("CS_EXECUTE_NEVER")
