"""The outbound server (issue 12 items 1-3): connect, the same Call, and the handler's lifetime.

Every test runs on trio's autojump clock against the fake dialer over memory streams, so the
grace and drain deadlines are exact.
"""

from __future__ import annotations

import logging

import pytest
import trio

from esl_trio import Call, NotReadyError, OutboundCall, Receiver, open_outbound_server
from esl_trio.errors import CallEndedError
from esl_trio.protocol import Event, EventFormat
from esl_trio.testing import open_fake_dialer

from .conftest import serving

# -- item 1: connect, channel data, myevents and linger -----------------------------------------


async def test_issue12_item1_connect_gives_the_decoded_channel_data(
    autojump_clock: trio.abc.Clock,
) -> None:
    seen: list[OutboundCall] = []

    async def handler(call: OutboundCall) -> None:
        seen.append(call)

    async with serving(handler) as bench:
        fake = await bench.dial(variables={"caller_name": "Ana María 100%"}, uuid="u-1")
        await fake.wait_closed()
    (call,) = seen
    assert call.uuid == "u-1"
    assert call.channel_data.unique_id == "u-1"
    assert call.channel_data.get("variable_caller_name") == "Ana María 100%"  # decoded
    assert call.variables["caller_name"] == "Ana María 100%"
    assert call.socket_mode == "async" and call.full_control
    assert call.answered  # the recorded loopback call is answered when it dials
    lines = [c.line for c in fake.commands]
    assert lines[:3] == ["connect", "myevents", "linger 30"]


async def test_issue12_item1_event_format_and_linger_follow_the_config(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        pass

    async with serving(handler, event_format=EventFormat.JSON, linger=None) as bench:
        fake = await bench.dial()
        await fake.wait_closed()
    assert [c.line for c in fake.commands][:2] == ["connect", "myevents json"]
    assert not any(c.verb == "linger" for c in fake.commands)


async def test_issue12_item1_without_myevents_no_events_are_asked_for(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        pass

    async with serving(handler, myevents=False, linger=None) as bench:
        fake = await bench.dial()
        await fake.wait_closed()
    assert [c.verb for c in fake.commands] == ["connect", "sendmsg"]  # and the owed hangup
    assert fake.hangup_cause == "NORMAL_CLEARING"


async def test_issue12_item1_divert_events_event_and_filter_reach_the_socket(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        await call.divert_events()
        await call.subscribe("CHANNEL_PARK", custom=["conference::maintenance"])
        await call.filter("Unique-ID", call.uuid)
        await call.unfilter("Unique-ID", call.uuid)
        await call.divert_events(False)

    async with serving(handler) as bench:
        fake = await bench.dial()
        await fake.wait_closed()
    lines = [c.line for c in fake.commands][3:-1]
    assert lines == [
        "divert_events on",
        "event plain CHANNEL_PARK CUSTOM conference::maintenance",
        f"filter Unique-ID {fake.uuid}",
        f"filter delete Unique-ID {fake.uuid}",
        "divert_events off",
    ]


# -- item 2: the same Call, over the call's own socket ----------------------------------------


async def test_issue12_item2_the_handler_gets_a_call(autojump_clock: trio.abc.Clock) -> None:
    async def handler(call: Call) -> None:  # annotated with the inbound type: it fits
        assert isinstance(call, Call)
        await call.answer()

    async with serving(handler) as bench:
        fake = await bench.dial(answered=False)
        await fake.wait_closed()
    assert fake.applications == [("answer", "")]
    assert bench.server.stats().completed == 1


async def test_issue12_item2_execute_uses_sendmsg_without_a_uuid(
    autojump_clock: trio.abc.Clock,
) -> None:
    completions: list[str | None] = []

    async def handler(call: OutboundCall) -> None:
        await call.answer()
        done = await call.playback("ivr/ivr-welcome.wav")
        completions.append(done.get("Application"))
        await call.execute("sleep", "100")

    async with serving(handler) as bench:
        fake = await bench.dial(answered=False)
        await fake.wait_closed()
    sendmsgs = [c for c in fake.commands if c.verb == "sendmsg"]
    assert all(c.line == "sendmsg" for c in sendmsgs)  # the socket's own channel
    assert [c.header("execute-app-name") for c in sendmsgs[:3]] == ["answer", "playback", "sleep"]
    assert all(c.header("event-lock") == "true" for c in sendmsgs[:3])
    assert completions == ["playback"]


async def test_issue12_item2_waits_events_and_dtmf_follow_the_channel(
    autojump_clock: trio.abc.Clock,
) -> None:
    digits: list[str] = []
    names: list[str] = []

    async def handler(call: OutboundCall) -> None:
        events = call.events("CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP")
        dtmf = call.dtmf()
        await call.answer()
        async for digit in dtmf:
            digits.append(digit)
            if digit == "#":
                break
        await call.wait_hangup()
        async for event in events:
            names.append(event.name)
            if event.name == "CHANNEL_HANGUP":
                break

    async with serving(handler) as bench:
        fake = await bench.dial(answered=False)
        await fake.wait_command("sendmsg")
        await trio.sleep(1)
        fake.send_dtmf("12#")
        await trio.sleep(1)
        fake.hangup("NORMAL_CLEARING")
        await fake.wait_closed()
    assert digits == ["1", "2", "#"]
    assert names == ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"]
    assert bench.server.stats().completed == 1


async def test_issue12_item2_getvar_hangup_and_state(autojump_clock: trio.abc.Clock) -> None:
    got: list[object] = []

    async def handler(call: OutboundCall) -> None:
        got.append(await call.getvar("caller"))
        got.append(call.state.call_state)
        got.append(await call.hangup("USER_BUSY"))

    async with serving(handler) as bench:
        fake = await bench.dial(variables={"caller": "1000"})
        await fake.wait_closed()
    assert got[0] == "1000"
    assert got[1] == "ACTIVE"
    assert got[2].cause == "USER_BUSY"  # type: ignore[attr-defined]
    hangup = next(c for c in fake.commands if c.header("call-command") == "hangup")
    assert hangup.line == "sendmsg" and hangup.header("hangup-cause") == "USER_BUSY"
    assert fake.hangup_cause == "USER_BUSY"


# -- item 3: lifetime ---------------------------------------------------------------------------


async def test_issue12_item3_a_returning_handler_hangs_its_call_up(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        await call.answer()

    async with serving(handler) as bench:
        fake = await bench.dial()
        await fake.wait_closed()
    assert fake.hangup_cause == "NORMAL_CLEARING"
    stats = bench.server.stats()
    assert (stats.accepted, stats.completed, stats.active) == (1, 1, 0)


async def test_issue12_item3_resume_leaves_the_channel_to_the_dialplan(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        await call.set("routed_by", "esl-trio")
        await call.resume()

    async with serving(handler) as bench:
        fake = await bench.dial()
        await fake.wait_closed()
    assert fake.hangup_cause is None  # the socket closed; the channel goes on
    assert [c.verb for c in fake.commands][-1] == "resume"
    assert fake.close_reason == "application closed"


async def test_issue12_item3_a_raising_handler_is_logged_and_its_call_hung_up(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    async def handler(call: OutboundCall) -> None:
        if call.variables.get("boom"):
            raise KeyError("no such menu")
        await call.answer()

    with caplog.at_level(logging.ERROR, logger="esl_trio.outbound"):
        async with serving(handler) as bench:
            bad = await bench.dial(variables={"boom": "1"})
            await bad.wait_closed()
            good = await bench.dial()  # the server serves on
            await good.wait_closed()
    assert bad.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert good.hangup_cause == "NORMAL_CLEARING" and good.applications == [("answer", "")]
    (record,) = [r for r in caplog.records if r.name == "esl_trio.outbound"]
    assert bad.uuid in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)
    stats = bench.server.stats()
    assert (stats.failed, stats.completed) == (1, 1)


async def test_issue12_item3_error_cause_is_configurable(autojump_clock: trio.abc.Clock) -> None:
    async def handler(call: OutboundCall) -> None:
        raise RuntimeError("bug")

    async with serving(handler, error_cause="CALL_REJECTED") as bench:
        fake = await bench.dial()
        await fake.wait_closed()
    assert fake.hangup_cause == "CALL_REJECTED"


async def test_issue12_item3_after_the_hangup_the_handler_gets_its_grace_then_is_cancelled(
    autojump_clock: trio.abc.Clock,
) -> None:
    marks: dict[str, float] = {}

    async def handler(call: OutboundCall) -> None:
        try:
            await trio.sleep_forever()
        finally:
            marks["cancelled"] = trio.current_time()

    async with serving(handler, hangup_grace=2.5) as bench:
        fake = await bench.dial()
        await fake.wait_command("linger")
        await trio.sleep(10)
        marks["hangup"] = trio.current_time()
        fake.hangup("NORMAL_CLEARING")
        await fake.wait_closed()
    assert marks["cancelled"] - marks["hangup"] == pytest.approx(2.5)
    assert bench.server.stats().hung_up == 1


async def test_issue12_item3_a_handler_may_finish_its_work_within_the_grace(
    autojump_clock: trio.abc.Clock,
) -> None:
    finished: list[float] = []

    async def handler(call: OutboundCall) -> None:
        outcome = await call.wait_hangup()
        await trio.sleep(1.0)  # e.g. write the call record
        finished.append(trio.current_time())
        assert outcome.cause == "ORIGINATOR_CANCEL"

    async with serving(handler, hangup_grace=5) as bench:
        fake = await bench.dial()
        await fake.wait_command("linger")
        fake.hangup("ORIGINATOR_CANCEL")
        await fake.wait_closed()
    assert len(finished) == 1
    assert bench.server.stats().completed == 1


async def test_issue12_item3_call_ended_errors_after_a_hangup_are_no_handler_errors(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    async def handler(call: OutboundCall) -> None:
        await call.wait_hangup()
        await call.playback("too-late.wav")  # raises CallEndedError

    with caplog.at_level(logging.WARNING, logger="esl_trio.outbound"):
        async with serving(handler) as bench:
            fake = await bench.dial()
            await fake.wait_command("linger")
            fake.hangup()
            await fake.wait_closed()
    assert bench.server.stats().hung_up == 1 and bench.server.stats().failed == 0
    assert not [r for r in caplog.records if r.name == "esl_trio.outbound"]


async def test_issue12_item3_the_call_error_is_still_raised_to_the_handler(
    autojump_clock: trio.abc.Clock,
) -> None:
    raised: list[BaseException] = []

    async def handler(call: OutboundCall) -> None:
        await call.wait_hangup()
        try:
            await call.playback("too-late.wav")
        except CallEndedError as exc:
            raised.append(exc)

    async with serving(handler) as bench:
        fake = await bench.dial()
        await fake.wait_command("linger")
        fake.hangup("USER_BUSY")
        await fake.wait_closed()
    assert raised and raised[0].hangup.cause == "USER_BUSY"  # type: ignore[attr-defined]


async def test_issue12_item3_shutdown_drains_then_cancels_and_hangs_up(
    autojump_clock: trio.abc.Clock,
) -> None:
    marks: dict[str, float] = {}

    async def quick(call: OutboundCall) -> None:
        if call.variables.get("slow"):
            try:
                await trio.sleep_forever()
            finally:
                marks["slow cancelled"] = trio.current_time()
        await trio.sleep(2)
        marks["quick done"] = trio.current_time()

    async with serving(quick, drain_timeout=7) as bench:
        slow = await bench.dial(variables={"slow": "1"})
        fast = await bench.dial()
        await slow.wait_command("linger")
        await fast.wait_command("linger")
        start = trio.current_time()
    await slow.wait_closed()
    assert marks["quick done"] - start == pytest.approx(2, abs=0.1)  # drained, not cancelled
    assert marks["slow cancelled"] - start == pytest.approx(7)  # cut at the drain deadline
    assert slow.hangup_cause == "SYSTEM_SHUTDOWN"
    assert fast.hangup_cause == "NORMAL_CLEARING"
    stats = bench.server.stats()
    assert (stats.completed, stats.shut_down, stats.active) == (1, 1, 0)


async def test_issue12_item3_no_new_call_once_the_drain_began(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        await trio.sleep(1)

    async with open_fake_dialer() as dialer:
        async with open_outbound_server(handler, listen=False) as server:
            pass
        _, stream = await dialer.dial_memory()
        with pytest.raises(NotReadyError, match="shutting down"):
            server.serve_stream(stream)


async def test_issue12_item3_receivers_outside_the_handler_end_with_the_socket(
    autojump_clock: trio.abc.Clock,
) -> None:
    got: list[str] = []
    ended = trio.Event()

    async def follow(events: Receiver[Event]) -> None:
        async for event in events:
            got.append(event.name)
        ended.set()  # the loop ended instead of blocking for ever

    async with trio.open_nursery() as outside:

        async def handler(call: OutboundCall) -> None:
            outside.start_soon(follow, call.events())
            await call.answer()

        async with serving(handler) as bench:
            fake = await bench.dial(answered=False)
            await fake.wait_closed()
            with trio.fail_after(5):
                await ended.wait()
    assert "CHANNEL_EXECUTE_COMPLETE" in got


async def test_issue12_item3_the_dtmf_receiver_ends_with_the_hangup(
    autojump_clock: trio.abc.Clock,
) -> None:
    got: list[str] = []
    ended_at: list[float] = []

    listening = trio.Event()

    async def handler(call: OutboundCall) -> None:
        digits = call.dtmf()
        listening.set()
        async for digit in digits:  # no timeout: the hangup must end it
            got.append(digit)
        ended_at.append(trio.current_time())

    async with serving(handler) as bench:
        fake = await bench.dial()
        await listening.wait()
        fake.send_dtmf("7")
        await trio.sleep(3)
        fake.hangup()
        hung_up_at = trio.current_time()
        await fake.wait_closed()
    assert got == ["7"]
    assert ended_at == [hung_up_at]  # at once, not after the grace


async def test_issue12_item2_an_application_queued_behind_a_hangup_fails_at_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    results: dict[str, object] = {}

    async def run(call: OutboundCall, app: str, arg: str) -> None:
        try:
            done = await call.execute(app, arg)
            results[app] = (trio.current_time(), done.name)
        except CallEndedError as exc:
            results[app] = (trio.current_time(), exc.hangup.cause)

    async def handler(call: OutboundCall) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, call, "sleep", "10000")  # runs: completes on the hangup
            await trio.sleep(0.1)
            nursery.start_soon(run, call, "playback", "x.wav")  # queued: never runs

    async with serving(handler) as bench:
        fake = await bench.dial()
        await fake.wait_command(lambda c: c.header("execute-app-name") == "playback")
        await trio.sleep(1)
        fake.hangup("NORMAL_CLEARING")
        hung_up_at = trio.current_time()
        await fake.wait_closed()
    assert results["sleep"] == (hung_up_at, "CHANNEL_EXECUTE_COMPLETE")
    assert results["playback"] == (hung_up_at, "NORMAL_CLEARING")  # not the grace later
    assert fake.applications == [("sleep", "10000")]


async def test_issue12_item3_after_resume_an_outside_wait_says_the_call_is_no_longer_followed(
    autojump_clock: trio.abc.Clock,
) -> None:
    errors: list[BaseException] = []

    async def outside(call: OutboundCall) -> None:
        try:
            await call.wait_hangup()
        except NotReadyError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:

        async def handler(call: OutboundCall) -> None:
            nursery.start_soon(outside, call)
            await call.resume()

        async with serving(handler) as bench:
            fake = await bench.dial()
            await fake.wait_closed()
    assert len(errors) == 1 and "resumed into the dialplan" in str(errors[0])
    assert fake.hangup_cause is None
