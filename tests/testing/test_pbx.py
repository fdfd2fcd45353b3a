"""The simulated PBX driven by the real runtime: calls, api commands, generator, restart.

Everything runs on ``autojump_clock`` (virtual time). Header sets are checked against the
recorded FreeSWITCH loopback call in ``tests/fixtures`` (``07-channel_*-event-plain.raw``).
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from xml.etree import ElementTree

import pytest
import trio
import trio.lowlevel
import trio.testing

import esl_trio.testing
from esl_trio import EslRuntime, RuntimeConfig, RuntimeState, open_esl_runtime
from esl_trio.config import HeartbeatConfig, RetryPolicy, SubscriptionConfig
from esl_trio.protocol import (
    BackgroundJobEvent,
    ChannelEvent,
    Event,
    EventFormat,
    SendMsg,
    classify,
)
from esl_trio.runtime import EventReceiver
from esl_trio.testing import _pbx
from esl_trio.testing._pbx import SimulatedPbx, open_simulated_pbx
from tests._fixtures import one_frame

CHANNEL_EVENTS = [
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_STATE",
    "CHANNEL_CREATE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_ANSWER",
    "CALL_UPDATE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
]

#: One answered call that hangs up after its hold time: (event, leg).
FULL_CALL = [
    # t=0: the recorded creation sequence
    ("CHANNEL_OUTGOING", "a"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_CREATE", "a"),
    ("CHANNEL_STATE", "b"),
    ("CHANNEL_ORIGINATE", "a"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_CREATE", "b"),
    ("CHANNEL_CALLSTATE", "b"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_STATE", "b"),
    ("CHANNEL_STATE", "b"),
    # t=0.2: ringing
    ("CHANNEL_PROGRESS", "a"),
    ("CHANNEL_CALLSTATE", "a"),
    # t=0.5: answer and bridge
    ("CHANNEL_EXECUTE", "b"),
    ("CHANNEL_ANSWER", "a"),
    ("CHANNEL_CALLSTATE", "a"),
    ("CHANNEL_ANSWER", "b"),
    ("CHANNEL_CALLSTATE", "b"),
    ("CHANNEL_EXECUTE_COMPLETE", "b"),
    ("CHANNEL_EXECUTE", "b"),
    ("CALL_UPDATE", "a"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_EXECUTE", "a"),
    ("CHANNEL_BRIDGE", "a"),
    # t=0.5+hold: hangup, A first
    ("CHANNEL_HANGUP", "a"),
    ("CHANNEL_EXECUTE_COMPLETE", "a"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_CALLSTATE", "a"),
    ("CHANNEL_HANGUP", "b"),
    ("CHANNEL_UNBRIDGE", "a"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_HANGUP_COMPLETE", "a"),
    ("CHANNEL_EXECUTE_COMPLETE", "b"),
    ("CHANNEL_STATE", "b"),
    ("CHANNEL_CALLSTATE", "b"),
    ("CHANNEL_STATE", "b"),
    ("CHANNEL_DESTROY", "a"),
    ("CHANNEL_STATE", "a"),
    ("CHANNEL_HANGUP_COMPLETE", "b"),
    ("CHANNEL_DESTROY", "b"),
    ("CHANNEL_STATE", "b"),
]
RECORDED_UUID = "98e7111c-27ed-492b-bcb8-bb7bcbb0e89a"
RECORDED_ORIGINATE = (
    f"{{origination_caller_id_number=1000,origination_uuid={RECORDED_UUID}}}"
    "loopback/9196/default &playback(tone_stream://%(200,0,440);loops=2)"
)


def config(*events: str, format: EventFormat = EventFormat.JSON, **changes: Any) -> RuntimeConfig:
    return RuntimeConfig(
        host="pbx",
        heartbeat=HeartbeatConfig.disabled(),
        subscriptions=SubscriptionConfig(events=events or CHANNEL_EVENTS, format=format),
        retry=RetryPolicy(initial_delay=0.5, max_delay=2.0),
        **changes,
    )


@asynccontextmanager
async def pbx_runtime(
    *events: str, format: EventFormat = EventFormat.JSON, **pbx_options: Any
) -> AsyncIterator[tuple[SimulatedPbx, EslRuntime, EventReceiver]]:
    """A PBX without heartbeats, a runtime subscribed to ``events``, a receiver for them."""
    pbx_options.setdefault("heartbeat_interval", None)
    async with (
        open_simulated_pbx(**pbx_options) as pbx,
        open_esl_runtime(config(*events, format=format), connector=pbx.connector) as rt,
        rt.events.receiver(*(events or CHANNEL_EVENTS), max_buffer=100_000) as rx,
    ):
        yield pbx, rt, rx


async def collect(rx: EventReceiver, done: Callable[[list[Event]], bool]) -> list[Event]:
    """Events until ``done(events)``; fails after a minute of virtual time."""
    events: list[Event] = []
    with trio.fail_after(60):
        while not done(events):
            item = await rx.receive()
            assert isinstance(item, Event), item
            events.append(item)
    return events


def destroyed(count: int) -> Callable[[list[Event]], bool]:
    return lambda events: sum(e.name == "CHANNEL_DESTROY" for e in events) >= count


def gone(legs: int) -> Callable[[list[Event]], bool]:
    """Done once ``legs`` channels reached CS_DESTROY (their last event)."""
    return lambda events: sum(e.get("Channel-State") == "CS_DESTROY" for e in events) >= legs


def leg_of(event: Event) -> str:
    name = event.get("Channel-Name") or ""
    return name.rpartition("-")[2]


def micros(event: Event) -> int:
    return int(event["Event-Date-Timestamp"])


# -- originate: the event sequence, header sets, timing -----------------------------------------


@pytest.mark.parametrize("format", [EventFormat.PLAIN, EventFormat.JSON, EventFormat.XML])
async def test_api_originate_plays_a_two_leg_call(
    autojump_clock: trio.abc.Clock, format: EventFormat
) -> None:
    async with pbx_runtime(format=format, hold_time=3.0) as (pbx, rt, rx):
        start = trio.current_time()
        reply = await rt.api("originate", "loopback/9664 &park")
        assert trio.current_time() - start == pytest.approx(0.5)  # the reply waits for the answer
        assert reply.text.startswith("+OK ") and reply.text.endswith("\n")
        a_uuid = reply.text.split()[1]
        call = pbx.calls[a_uuid]
        events = await collect(rx, gone(2))

    assert [(e.name, leg_of(e)) for e in events] == FULL_CALL
    assert all(e.decode_error is None for e in events)
    assert all(isinstance(e, ChannelEvent) for e in events if e.name.startswith("CHANNEL_"))
    uuids = {"a": a_uuid, "b": call.b_leg_uuid}
    for event in events:
        leg = leg_of(event)
        assert event["Unique-ID"] == uuids[leg]
        assert event["Channel-Name"] == f"loopback/9664-{leg}"
        assert event["Caller-Destination-Number"] == "9664"
    bridge = next(e for e in events if e.name == "CHANNEL_BRIDGE")
    assert (bridge["Bridge-A-Unique-ID"], bridge["Bridge-B-Unique-ID"]) == (a_uuid, call.b_leg_uuid)
    after_bridge = events[events.index(bridge) :]
    other = {"a": call.b_leg_uuid, "b": a_uuid}
    assert all(e["Other-Leg-Unique-ID"] == other[leg_of(e)] for e in after_bridge)
    for complete in (e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE"):
        assert complete.headers.get_all("Hangup-Cause") == ["NORMAL_CLEARING"] * 2
        assert complete["variable_hangup_cause_q850"] == "16"
        assert complete["variable_billsec"] == "3"
        assert complete["variable_answermsec"] == "500"
        assert complete["variable_waitmsec"] == "500"  # bridged at the answer
        progress = "200" if leg_of(complete) == "a" else "0"  # only the A leg heard ringing
        assert complete["variable_progressmsec"] == progress


async def test_call_timing_and_state_progression(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime(hold_time=2.0) as (_pbx, rt, rx):
        await rt.api("originate", "loopback/9664 &park")
        events = await collect(rx, gone(2))
    t0 = micros(events[0])
    at = {e.name: (micros(e) - t0) / 1e6 for e in reversed(events) if leg_of(e) == "a"}
    expected = {
        "CHANNEL_CREATE": 0.0,
        "CHANNEL_PROGRESS": 0.2,
        "CHANNEL_ANSWER": 0.5,
        "CHANNEL_BRIDGE": 0.5,
        "CHANNEL_HANGUP": 2.5,
        "CHANNEL_DESTROY": 2.5,
    }
    assert {name: at[name] for name in expected} == pytest.approx(expected, abs=1e-5)
    a_callstates = [
        (e["Original-Channel-Call-State"], e["Channel-Call-State"])
        for e in events
        if e.name == "CHANNEL_CALLSTATE" and leg_of(e) == "a"
    ]
    assert a_callstates == [("DOWN", "RINGING"), ("RINGING", "ACTIVE"), ("ACTIVE", "HANGUP")]
    answer_states = [e["Answer-State"] for e in events if leg_of(e) == "a"]
    assert answer_states.index("answered") < answer_states.index("hangup")
    assert answer_states[0] == "ringing"


async def test_bgapi_originate_completes_with_the_uuid(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("CHANNEL_ANSWER", hold_time=math.inf) as (pbx, rt, _rx):
        job = await rt.bgapi("originate", "loopback/9196/default &echo")
        with trio.fail_after(5):
            done = await job.wait()
        assert isinstance(done, BackgroundJobEvent)
        (a_uuid,) = pbx.calls
        assert done.body == f"+OK {a_uuid}\n".encode()
        assert pbx.calls[a_uuid].application == "echo"
        assert pbx.calls[a_uuid].channel_names == ("loopback/9196-a", "loopback/9196-b")


async def test_originate_errors_are_freeswitch_texts(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime() as (pbx, rt, _rx):
        usage = await rt.api("originate", "")
        busy = await rt.api("originate", "error/user_busy &park")
    assert usage.text.startswith("-USAGE <call url> <exten>|&<application_name>")
    assert busy.text == "-ERR USER_BUSY\n"
    assert pbx.stats.calls_started == 0


def recorded_names(name: str) -> list[str]:
    event = classify(one_frame(f"07-channel_{name}-event-plain.raw"))
    assert isinstance(event, Event)
    return [header for header, _ in event.headers.items()]


def names(event: Event, *, drop: tuple[str, ...] = ()) -> list[str]:
    return [header for header, _ in event.headers.items() if not header.startswith(drop)]


async def test_header_sets_match_the_recorded_loopback_call(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pbx_runtime(format=EventFormat.PLAIN, hold_time=1.0) as (_pbx, rt, rx):
        reply = await rt.api("originate", RECORDED_ORIGINATE)
        assert reply.text == f"+OK {RECORDED_UUID}\n"
        events = [e for e in await collect(rx, gone(2)) if leg_of(e) == "a"]

    def first(name: str, **headers: str) -> Event:
        return next(
            e for e in events if e.name == name and all(e[k] == v for k, v in headers.items())
        )

    exact = {
        "uuid": first("CHANNEL_UUID"),
        "outgoing": first("CHANNEL_OUTGOING"),
        "state": first("CHANNEL_STATE"),
        "create": first("CHANNEL_CREATE"),
        "originate": first("CHANNEL_ORIGINATE"),
        "callstate": first("CHANNEL_CALLSTATE", **{"Channel-Call-State": "ACTIVE"}),
        "answer": first("CHANNEL_ANSWER"),
        "execute": first("CHANNEL_EXECUTE"),
    }
    for fixture, event in exact.items():
        assert names(event) == recorded_names(fixture), fixture
    # After the bridge the events also name the other leg; the variables depend on the app.
    drop = ("variable_", "Other-", "Hangup-Cause")
    for fixture in ("hangup", "execute_complete", "hangup_complete", "destroy"):
        event = first(f"CHANNEL_{fixture.upper()}")
        recorded = [n for n in recorded_names(fixture) if not n.startswith(drop)]
        assert names(event, drop=drop) == recorded, fixture
    complete = first("CHANNEL_HANGUP_COMPLETE")
    cdr = [n for n in names(complete) if n.startswith("variable_")]
    recorded_cdr = [n for n in recorded_names("hangup_complete") if n.startswith("variable_")]
    extra = {"variable_bridge_stamp", "variable_progress_stamp"}
    start = recorded_cdr.index("variable_hangup_cause")
    assert [n for n in cdr[cdr.index("variable_hangup_cause") :] if n not in extra] == [
        n for n in recorded_cdr[start:] if n != "variable_last_arg" or complete.get(n)
    ]
    assert complete["variable_caller_id"] == '"Outbound Call" <default>'  # caller id flipped


# -- uuid_kill, hupall, sendmsg ------------------------------------------------------------


async def test_uuid_kill_hangs_up_now_with_the_cause(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime(hold_time=math.inf) as (pbx, rt, rx):
        a_uuid = (await rt.api("originate", "loopback/9664 &park")).text.split()[1]
        b_uuid = pbx.calls[a_uuid].b_leg_uuid
        await trio.sleep(10)
        assert (await rt.api("uuid_exists", b_uuid)).text == "true"
        reply = await rt.api("uuid_kill", f"{b_uuid} USER_BUSY")
        events = await collect(rx, gone(2))
        assert reply.text == "+OK\n"
        assert (await rt.api("uuid_kill", b_uuid)).text == "-ERR No Such Channel!\n"
        assert (await rt.api("uuid_kill", "")).text == "-USAGE: <uuid> [cause]\n"
        assert (await rt.api("uuid_exists", b_uuid)).text == "false"
    hangups = [e for e in events if e.name == "CHANNEL_HANGUP"]
    assert [e["Unique-ID"] for e in hangups] == [b_uuid, a_uuid]  # the killed leg goes first
    assert all(e["Hangup-Cause"] == "USER_BUSY" for e in hangups)
    assert pbx.calls == {} and pbx.fs.channels == set()
    assert pbx.stats.calls_completed == 1


async def test_killed_while_ringing_fails_the_originate(autojump_clock: trio.abc.Clock) -> None:
    target = "5b1e2a43-6f0e-4c3c-9d42-93b1f1e0c001"
    async with pbx_runtime() as (pbx, rt, rx):
        job = await rt.bgapi("originate", f"{{origination_uuid={target}}}loopback/9664 &park")
        await trio.sleep(0.3)
        assert pbx.calls[target].state == "RINGING"
        assert (await rt.api("uuid_kill", target)).text == "+OK\n"
        with trio.fail_after(5):
            done = await job.wait()
        events = await collect(rx, gone(2))
    assert done.body == b"-ERR NORMAL_CLEARING\n"
    assert not {"CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"} & {e.name for e in events}
    hangup = next(e for e in events if e.name == "CHANNEL_HANGUP")
    assert (hangup["Channel-Call-State"], hangup["Answer-State"]) == ("RINGING", "hangup")


async def test_hupall_hangs_up_everything(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("CHANNEL_HANGUP_COMPLETE", hold_time=math.inf) as (pbx, rt, rx):
        for destination in ("9664", "9196", "5000"):
            pbx.originate(destination)
        await trio.sleep(1)
        assert (await rt.api("show", "channels count")).text == "\n6 total.\n"
        reply = await rt.api("hupall", "")
        events = await collect(rx, lambda events: len(events) == 6)
        assert (await rt.api("show", "channels")).text == "\n0 total.\n"
        assert (await rt.api("show", "calls as json")).text == '{"row_count": 0}\n'

    assert reply.text == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    assert {e["Hangup-Cause"] for e in events} == {"MANAGER_REQUEST"}
    assert pbx.stats == _pbx.PbxStats(3, 0, 3, pbx.stats.events_emitted)


async def test_hupall_with_a_variable_only_hangs_up_the_matching_calls(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pbx_runtime("CHANNEL_HANGUP", hold_time=math.inf) as (pbx, rt, rx):
        await rt.bgapi("originate", "{team=red}loopback/9664 &park")
        await rt.bgapi("originate", "{team=blue}loopback/9664 &park")
        await trio.sleep(1)
        reply = await rt.api("hupall", "CALL_REJECTED team red")
        events = await collect(rx, lambda events: len(events) == 2)
        assert len(pbx.calls) == 1
    assert reply.text == "+OK hangup all channels matching [team]=[red] with cause: CALL_REJECTED\n"
    assert {e["variable_team"] for e in events} == {"red"}


async def test_sendmsg_hangup_hangs_the_channel_up(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("CHANNEL_HANGUP", hold_time=math.inf) as (pbx, rt, rx):
        first = pbx.originate("9664")
        second = pbx.originate("9196")
        await trio.sleep(1)
        assert (await rt.hangup(first, "USER_BUSY")).ok
        b_leg = pbx.calls[second].b_leg_uuid
        assert (await rt.execute(b_leg, "hangup", "CALL_REJECTED")).ok
        events = await collect(rx, lambda events: len(events) == 4)
    assert [(e["Unique-ID"], e["Hangup-Cause"]) for e in events[::2]] == [
        (first, "USER_BUSY"),
        (b_leg, "CALL_REJECTED"),
    ]
    assert pbx.calls == {}


async def test_sendmsg_queued_behind_a_slow_api_is_answered_first(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pbx_runtime("CHANNEL_HANGUP", hold_time=math.inf) as (pbx, rt, rx):
        up = pbx.originate("9664")
        await trio.sleep(1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.api, "originate", "loopback/9196 &park")  # blocks 0.5 s
            await trio.lowlevel.checkpoint()
            reply = await rt.hangup(up)  # read at once, answered after the originate
        assert reply.ok  # the channel still existed when FreeSWITCH answered
        (hangup, _) = await collect(rx, lambda events: len(events) == 2)
        assert hangup["Unique-ID"] == up


# -- show, status, uptime ------------------------------------------------------------------


async def test_show_channels_and_calls_while_a_call_is_up(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime(hold_time=math.inf) as (pbx, rt, _rx):
        a_uuid = pbx.originate("9664", caller="1005")
        b_uuid = pbx.calls[a_uuid].b_leg_uuid
        await trio.sleep(0.3)
        ringing_calls = json.loads((await rt.api("show", "calls as json")).text)
        await trio.sleep(1)
        text = (await rt.api("show", "channels")).text
        channels = json.loads((await rt.api("show", "channels as json")).text)
        calls = json.loads((await rt.api("show", "calls as json")).text)
        calls_text = (await rt.api("show", "calls")).text
        modules = (await rt.api("show", "modules")).text
        channels_xml = ElementTree.fromstring((await rt.api("show", "channels as xml")).text)
        unknown = (await rt.api("show", "channels as yaml")).text

    header, a_row, b_row, blank, total, end = text.split("\n")
    assert header.startswith("uuid,direction,created,created_epoch,name,state,cid_name,cid_num")
    assert (blank, total, end) == ("", "2 total.", "")
    assert a_row.startswith(f"{a_uuid},outbound,") and b_row.startswith(f"{b_uuid},inbound,")
    assert channels["row_count"] == 2
    a, b = channels["rows"]
    assert (a["uuid"], a["name"], a["state"], a["callstate"]) == (
        a_uuid,
        "loopback/9664-a",
        "CS_EXECUTE",
        "ACTIVE",
    )
    assert (a["application"], a["dest"], a["initial_cid_num"]) == ("park", "9664", "1005")
    assert (b["uuid"], b["name"], b["cid_num"], b["call_uuid"]) == (
        b_uuid,
        "loopback/9664-b",
        "1005",
        a_uuid,
    )
    assert ringing_calls["row_count"] == 2  # not bridged yet: each channel is its own row
    assert calls["row_count"] == 1
    (row,) = calls["rows"]
    assert (row["uuid"], row["b_uuid"], row["b_name"]) == (a_uuid, b_uuid, "loopback/9664-b")
    assert calls_text.endswith("\n\n1 total.\n") and ",b_uuid," in calls_text.split("\n")[0]
    assert modules == "\n0 total.\n"  # other show commands: the fake's own handler
    assert channels_xml.get("row_count") == "2"
    assert [row.findtext("uuid") for row in channels_xml] == [a_uuid, b_uuid]
    assert unknown == "-ERR Cannot find format yaml\n"


async def test_status_counts_sessions(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("CHANNEL_DESTROY", hold_time=10.0) as (pbx, rt, rx):
        before = (await rt.api("status")).text
        pbx.originate("9664")
        pbx.originate("9196")
        await trio.sleep(1)
        during = (await rt.api("status")).text
        await collect(rx, destroyed(4))
        after = (await rt.api("status")).text
        uptime = (await rt.api("uptime")).text
    assert "0 session(s) since startup\n0 session(s) - peak 0, last 5min 0 \n" in before
    assert during.startswith("UP 0 years, 0 days, 0 hours, 0 minutes, 1 seconds")
    assert "4 session(s) since startup\n4 session(s) - peak 4, last 5min 4 \n" in during
    assert "0 session(s) per Sec out of max 30, peak 4, last 5min 4 \n" in during
    assert "4 session(s) since startup\n0 session(s) - peak 4, last 5min 4 \n" in after
    assert uptime == "10"


# -- the call generator, heartbeat, restart ------------------------------------------------


async def generated(seed: int, seconds: float = 20.0) -> list[tuple[str, str, str, int]]:
    """What a runtime sees of the generator's calls: (event, destination, uuid, ms)."""
    async with pbx_runtime("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE", seed=seed) as (
        pbx,
        _rt,
        rx,
    ):
        start = trio.current_time()
        pbx.start_call_generator(calls_per_second=2.0, hold_time=3.0)
        await trio.sleep(seconds)
        pbx.stop_call_generator()
        events = await collect(rx, lambda events: not pbx.calls and rx.statistics().buffered == 0)
    t0 = micros(events[0]) - int((trio.current_time() - start) * 0)  # relative to the first
    return [
        (e.name, e["Caller-Destination-Number"], e["Unique-ID"], (micros(e) - t0) // 1000)
        for e in events
        if leg_of(e) == "a"
    ]


async def test_the_generator_is_deterministic_for_a_seed(autojump_clock: trio.abc.Clock) -> None:
    first = await generated(seed=42)
    again = await generated(seed=42)
    other = await generated(seed=43)
    assert first == again
    assert len(first) > 40  # ~2 calls/s for 20 s, two events each
    assert len({destination for _, destination, _, _ in first}) > 5
    assert first != other
    assert [d for _, d, _, _ in first] != [d for _, d, _, _ in other]


async def test_calls_per_second_starts_the_generator(autojump_clock: trio.abc.Clock) -> None:
    async with open_simulated_pbx(calls_per_second=5.0, hold_time=1.0) as pbx:
        await trio.sleep(10)
        stats = pbx.stats
        assert 25 < stats.calls_started < 80
        assert stats.calls_active == len(pbx.calls) <= stats.calls_started
        assert stats.calls_completed + stats.calls_active == stats.calls_started
        assert stats.events_emitted > 40 * stats.calls_completed
        pbx.stop_call_generator()
        await trio.sleep(5)
        assert pbx.calls == {} and pbx.fs.channels == set()
        assert pbx.stats.calls_started == stats.calls_started


async def test_heartbeat_every_interval_on_virtual_time(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("HEARTBEAT", heartbeat_interval=5.0, hold_time=math.inf) as (
        pbx,
        _rt,
        rx,
    ):
        start = trio.current_time()
        pbx.originate("9664")
        beats = []
        for _ in range(3):
            (beat,) = await collect(rx, lambda events: len(events) == 1)
            beats.append((trio.current_time() - start, beat["Session-Count"]))
    assert beats == [(5.0, "2"), (10.0, "2"), (15.0, "2")]


async def test_restart_drops_calls_and_the_runtime_reconnects(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pbx_runtime("CHANNEL_CREATE", hold_time=math.inf) as (pbx, rt, _rx):
        pbx.originate("9664")
        await trio.sleep(1)
        core = pbx.fs.core_uuid
        await pbx.restart()
        assert pbx.calls == {} and pbx.fs.channels == set()
        assert pbx.fs.core_uuid != core
        with trio.fail_after(30):
            while rt.health().generation < 2 or rt.state is not RuntimeState.READY:
                await rt.wait_state(RuntimeState.READY)
                if rt.health().generation < 2:
                    await trio.sleep(0.01)
        status = (await rt.api("status")).text
        assert "0 session(s) since startup\n0 session(s) - peak 0" in status
        reply = await rt.api("originate", "loopback/9196 &park")
        assert reply.text.startswith("+OK ")
        assert (await rt.api("show", "channels count")).text == "\n2 total.\n"
    assert pbx.stats.calls_started == 2


async def test_leaving_the_block_stops_everything(autojump_clock: trio.abc.Clock) -> None:
    def task_count() -> int:
        root = trio.lowlevel.current_root_task()
        assert root is not None
        count, stack = 0, [root]
        while stack:
            task = stack.pop()
            count += 1
            stack.extend(t for nursery in task.child_nurseries for t in nursery.child_tasks)
        return count

    before = task_count()
    async with (
        open_simulated_pbx(calls_per_second=10.0, heartbeat_interval=1.0) as pbx,
        open_esl_runtime(config(), connector=pbx.connector) as rt,
    ):
        await rt.bgapi("originate", "loopback/9664 &park")
        await trio.sleep(3)
        assert task_count() > before and pbx.calls
        leaving = trio.current_time()
    assert trio.current_time() == leaving  # no waiting for calls, timers or the generator
    assert task_count() == before


async def test_python_originate_returns_at_once(autojump_clock: trio.abc.Clock) -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=4.0) as pbx:
        start = trio.current_time()
        a_uuid = pbx.originate("1001", caller="1002")
        call = pbx.calls[a_uuid]
        assert (call.state, call.created_at, call.answered_at) == ("DOWN", start, None)
        assert {a_uuid, call.b_leg_uuid} == pbx.fs.channels
        await trio.sleep(0.3)
        assert call.state == "RINGING"
        await trio.sleep(0.3)
        assert (call.state, call.answered_at) == ("ACTIVE", start + 0.5)
        await trio.sleep(4)
        assert (call.ended_at, call.hangup_cause) == (start + 4.5, "NORMAL_CLEARING")
        assert a_uuid not in pbx.calls
        assert pbx.hangup(a_uuid) is False
        with pytest.raises(ValueError, match="not a destination"):
            pbx.originate("error/user_busy")


def test_same_seed_same_uuids() -> None:
    async def uuids(seed: int) -> tuple[str, list[str]]:
        async with open_simulated_pbx(seed=seed, heartbeat_interval=None) as pbx:
            return pbx.fs.core_uuid, [pbx.originate() for _ in range(3)]

    clock = trio.testing.MockClock(autojump_threshold=0)
    assert trio.run(uuids, 1, clock=clock) == trio.run(uuids, 1, clock=clock)
    assert trio.run(uuids, 1, clock=clock) != trio.run(uuids, 2, clock=clock)


def test_docstring_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(esl_trio.testing, "open_simulated_pbx", open_simulated_pbx, raising=False)
    doc = _pbx.__doc__
    assert doc is not None
    code = textwrap.dedent(doc[doc.index("::\n") + 3 : doc.index("\nWhat it models")])
    assert code.rstrip().endswith("trio.run(main)")
    namespace: dict[str, Any] = {}
    exec(compile(code.replace("trio.run(main)", ""), "_pbx.__doc__", "exec"), namespace)
    trio.run(namespace["main"], clock=trio.testing.MockClock(autojump_threshold=0))
    assert '{"row_count":' in capsys.readouterr().out


# -- issue 11 item 7: call control -------------------------------------------------------------


def trailing_names(event_or_fixture: Event | str) -> list[str]:
    """The headers after the variable block (the Application-* block of an execute event)."""
    all_names = (
        recorded_names(event_or_fixture)
        if isinstance(event_or_fixture, str)
        else names(event_or_fixture)
    )
    last_variable = max(i for i, n in enumerate(all_names) if n.startswith("variable_"))
    return all_names[last_variable + 1 :]


async def test_issue11_item7_execute_reports_the_event_uuid_as_application_uuid(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pbx_runtime(format=EventFormat.PLAIN) as (pbx, rt, rx):
        uuid = pbx.originate("9196")
        await trio.sleep(1)
        event_uuid = "e505a399-8aa9-4ec6-aedf-97fe2c511c67"
        headers = [
            ("call-command", "execute"), ("execute-app-name", "playback"),
            ("execute-app-arg", "tone_stream://%(200,0,440)"), ("event-lock", "true"),
            ("Event-UUID", event_uuid),
        ]  # fmt: skip
        await rt.sendmsg(SendMsg(uuid, headers))
        events = await collect(
            rx,
            lambda es: any(
                e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application-UUID") == event_uuid
                for e in es
            ),
        )
    mine = [e for e in events if e.get("Application-UUID") == event_uuid]
    assert [e.name for e in mine] == ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]
    start, done = mine
    assert trailing_names(start) == trailing_names("execute")
    assert trailing_names(done) == trailing_names("execute_complete")
    assert done["Application-Response"] == "FILE PLAYED"
    assert done["variable_current_application_response"] == "FILE PLAYED"
    assert micros(done) - micros(start) == 1_000_000  # a playback takes a second here


async def test_issue11_item7_failing_destinations(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("CHANNEL_HANGUP") as (pbx, rt, rx):
        for number, cause in [("busy", "USER_BUSY"), ("no-route", "NO_ROUTE_DESTINATION")]:
            reply = await rt.api("originate", f"loopback/{number} &park")
            assert reply.text == f"-ERR {cause}\n"
            hangups = await collect(rx, lambda es: len(es) == 2)  # both legs
            assert [h["Hangup-Cause"] for h in hangups] == [cause, cause]
        start = trio.current_time()
        reply = await rt.api("originate", "{originate_timeout=7}loopback/no-answer &park")
        assert reply.text == "-ERR NO_ANSWER\n"
        assert trio.current_time() - start == pytest.approx(7)
        assert pbx.calls == {}


async def test_issue11_item7_uuid_commands_and_dtmf(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("DTMF") as (pbx, rt, rx):
        uuid = pbx.originate("9664")
        await trio.sleep(1)
        b_leg = pbx.calls[uuid].b_leg_uuid
        assert (await rt.api("uuid_setvar", f"{uuid} color blue")).text == "+OK\n"
        assert (await rt.api("uuid_getvar", f"{uuid} color")).text == "blue"
        assert (await rt.api("uuid_getvar", f"{uuid} nothing")).text == "_undef_"
        dump = (await rt.api("uuid_dump", uuid)).body
        parsed = Event(EventFormat.PLAIN, dump.rstrip(b"\n") + b"\n\n")
        assert parsed["Event-Name"] == "CHANNEL_DATA"
        assert parsed["Unique-ID"] == uuid and parsed["variable_color"] == "blue"
        assert (await rt.api("uuid_send_dtmf", f"{uuid} 12")).text == "-ERR no reply\n"  # as FS
        digits = [await rx.receive() for _ in range(2)]
        assert [(d["Unique-ID"], d["DTMF-Digit"]) for d in digits] == [(b_leg, "1"), (b_leg, "2")]
        assert (await rt.api("uuid_getvar", "nope x")).text == "-ERR No such channel!\n"


async def test_issue11_item7_uuid_bridge_joins_two_calls(autojump_clock: trio.abc.Clock) -> None:
    async with pbx_runtime("CHANNEL_BRIDGE", "CHANNEL_HANGUP") as (pbx, rt, rx):
        first, second = pbx.originate("1000"), pbx.originate("1001")
        await trio.sleep(1)
        await collect(rx, lambda es: len(es) == 2)  # each call's own loopback bridge
        assert (await rt.api("uuid_bridge", f"{first} {second}")).text == f"+OK {second}\n"
        bridge = await rx.receive()
        assert isinstance(bridge, ChannelEvent)
        assert (bridge.unique_id, bridge.other_leg_unique_id) == (first, second)
        pbx.hangup(second)
        await trio.sleep(1)
        assert pbx.calls == {}  # the other side followed
