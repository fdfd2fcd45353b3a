"""The fake dialer against mod_event_socket.c, mod_commands.c and mod_dptools' applications.

Single-channel control (``socket ... async`` without ``full``), ``getvar``, the first command,
static mode, applications over ``sendmsg``, the api commands of the outbound socket, fault
injection, and what a hangup leaves on a static socket. Each test states the FreeSWITCH code it
follows; ``test_dialer.py`` has the recorded-session checks.
"""

from __future__ import annotations

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from esl_trio.protocol import CommandReply, DisconnectNotice, Event, classify
from esl_trio.testing import FakeDialer, open_fake_dialer
from esl_trio.testing._dialer_data import CHANNEL, VARIABLES
from esl_trio.testing._events import Identity
from esl_trio.testing._outbound_session import (
    Channel,
    OutboundCommand,
    OutboundSession,
    c_atoi,
)
from tests.testing.test_dialer import App, connected

NOT_FOUND = "-ERR command not found"


def execute(name: str, arg: str = "", *extra: str) -> bytes:
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {name}"]
    if arg:
        lines.append(f"execute-app-arg: {arg}")
    return ("\n".join([*lines, *extra]) + "\n\n").encode()


async def events_until(app: App, name: str) -> list[Event]:
    """Events up to and including the first named ``name`` (replies are not expected)."""
    seen = []
    while True:
        message = await app.next()
        assert isinstance(message, Event), message
        seen.append(message)
        if message.name == name:
            return seen


async def subscribed(dialer: FakeDialer, **options) -> tuple:
    call, app, _ = await connected(dialer, **options)
    assert await app.command(b"myevents\n\n") == "+OK Events Enabled"
    return call, app


# -- 1. single-channel control -------------------------------------------------------------


FULL_ONLY = [
    (b"linger 5\n\n", "+OK will linger 5 seconds"),
    (b"nolinger\n\n", "+OK will not linger"),
    (b"event plain DTMF\n\n", "+OK event listener enabled plain"),
    (b"nixevent DTMF\n\n", "+OK events nixed"),
    (b"noevents\n\n", "-ERR not listening for events"),
    (b"log 7\n\n", "+OK log level 7 [7]"),
    (b"nolog\n\n", "-ERR not loging"),
]


@pytest.mark.parametrize(("command", "full_reply"), FULL_ONLY)
async def test_single_channel_stops_after_sendmsg(command, full_reply):
    """parse_command: ``if (LFLAG_OUTBOUND && !LFLAG_FULL) goto done;`` after sendmsg, and
    ``done:`` fills the empty reply. With ``full`` the same command has its own reply."""
    async with open_fake_dialer() as dialer:
        _call, app, _ = await connected(dialer, full=False)
        assert await app.command(command) == NOT_FOUND
        _call, app, _ = await connected(dialer)
        assert await app.command(command) == full_reply


@pytest.mark.parametrize("command", [b"api status\n\n", b"bgapi status\n\n",
                                     b"sendevent CUSTOM\n\n"])  # fmt: skip
async def test_single_channel_refuses_api_bgapi_sendevent_with_a_command_reply(command):
    async with open_fake_dialer() as dialer:
        _call, app, _ = await connected(dialer, full=False)
        await app.send(command)
        frame = await app.frame()
        assert frame.content_type == "command/reply"
        assert frame.headers.get("Reply-Text") == NOT_FOUND


async def test_single_channel_keeps_the_session_commands():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer, full=False, variables={"caller": "1000"})
        assert await app.command(b"getvar caller\n\n") == "1000"
        assert await app.command(b"filter Unique-ID x\n\n") == "+OK filter added. [Unique-ID]=[x]"
        assert await app.command(b"filter delete Unique-ID x\n\n") == (
            "+OK filter deleted. [Unique-ID][x]"
        )
        assert await app.command(b"divert_events on\n\n") == "+OK events diverted"
        assert await app.command(b"resume\n\n") == "+OK"
        assert call.variables["socket_resume"] == "true"
        assert await app.command(b"myevents\n\n") == "+OK Events Enabled"
        assert await app.command(execute("answer")) == "+OK"
        await events_until(app, "CHANNEL_EXECUTE_COMPLETE")
        assert await app.command(b"exit\n\n") == "+OK bye"
        (goodbye,) = await app.read_to_eof()
        assert isinstance(goodbye, DisconnectNotice)


async def test_full_only_commands_in_full_mode():
    async with open_fake_dialer() as dialer:
        _call, app, _ = await connected(dialer)
        reply = await app.command(b"sendevent CUSTOM\n\n")
        assert reply.startswith("+OK ") and len(reply) == 40  # +OK <event uuid>
        job = "7e1b7a8c-0000-4000-8000-000000000001"
        await app.send(f"bgapi nosuch x\nJob-UUID: {job}\n\n".encode())
        frame = await app.frame()
        assert frame.headers.get("Reply-Text") == f"+OK Job-UUID: {job}"
        assert frame.headers.get("Job-UUID") == job
        assert await app.command(b"log\n\n") == "+OK log level  [7]"  # level_s stays ""
        assert await app.command(b"log crit\n\n") == "+OK log level crit [2]"
        assert await app.command(b"log loud\n\n") == "-ERR invalid log level"
        assert await app.command(b"nolog\n\n") == "+OK no longer logging"


async def test_bgapi_job_is_a_background_job_event_for_its_subscribers():
    async with open_fake_dialer() as dialer:
        dialer.api_handlers["echo"] = lambda args: args
        _call, app, _ = await connected(dialer)
        assert await app.command(b"event plain BACKGROUND_JOB\n\n") == (
            "+OK event listener enabled plain"
        )
        await app.send(b"bgapi echo hello\n\n")
        reply, job = await app.next(), await app.next()
        assert isinstance(reply, CommandReply) and isinstance(job, Event)
        assert job.name == "BACKGROUND_JOB" and job.body == b"hello"
        assert job.headers.get("Job-UUID") == reply.headers.get("Job-UUID")
        assert job.headers.get("Job-Command") == "echo"
        assert job.headers.get("Job-Command-Arg") == "hello"


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"linger\n\n", "+OK will linger"),
        (b"linger \n\n", "+OK will linger 0 seconds"),  # *(cmd+7) is the newline: atoi -> 0
        (b"linger 7s\n\n", "+OK will linger 7 seconds"),
        (b"linger -1\n\n", "+OK will linger"),
        (b"filter\n\n", NOT_FOUND),  # strncasecmp(cmd, "filter ", 7)
        (b"filter Unique-ID\n\n", "-ERR invalid syntax"),
        (b"divert_events    off\n\n", "+OK events not diverted"),
        (b"api\n\n", NOT_FOUND),  # strncasecmp(cmd, "api ", 4)
        (b"events plain DTMF\n\n", "+OK event listener enabled plain"),  # "event" prefix
        (b"EXIT\n\n", "+OK bye"),
    ],
)
async def test_prefix_matching_like_strncasecmp(command, reply):
    async with open_fake_dialer() as dialer:
        _call, app, _ = await connected(dialer)
        assert await app.command(command) == reply


# -- 2. getvar -----------------------------------------------------------------------------


async def test_getvar_answers_the_bare_value_or_command_not_found():
    """``val = ""`` for an unset variable; an empty reply is filled at ``done:``."""
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer, variables={"caller": "1000 x", "empty": ""})
        assert await app.command(b"getvar caller\n\n") == "1000 x"
        assert await app.command(b"getvar uuid\n\n") == call.uuid  # a recorded variable
        assert await app.command(b"getvar direction\n\n") == "outbound"
        assert await app.command(b"getvar nosuch\n\n") == NOT_FOUND
        assert await app.command(b"getvar empty\n\n") == NOT_FOUND
        assert await app.command(b"getvar\n\n") == NOT_FOUND
        assert await app.command(b"getvar  caller\n\n") == NOT_FOUND  # the name is " caller"


# -- the first command -----------------------------------------------------------------------


async def test_first_command_runs_but_its_reply_is_not_written():
    """listener_run parses the first command without writing ``reply`` (connect writes its
    own CHANNEL_DATA)."""
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory(variables={"caller": "1000"})
        app = App(stream)
        await app.send(b"myevents\n\ngetvar caller\n\n")
        assert (await app.frame()).headers.get("Reply-Text") == "1000"
        call.send_dtmf("4")  # myevents was applied
        assert (await app.next()).headers.get("DTMF-Digit") == "4"
        assert not call.connected


async def test_exit_as_first_command_gets_only_the_goodbye():
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory()
        app = App(stream)
        await app.send(b"exit\n\n")
        (goodbye,) = await app.read_to_eof()
        assert isinstance(goodbye, DisconnectNotice)
        await call.wait_closed()
        assert call.close_reason == "exit"


async def test_no_first_command_within_25_seconds_closes(autojump_clock):
    """``read_packet(listener, &ievent, 25)`` fails: "Socket Error!", goodbye, close."""
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory()
        app = App(stream)
        start = trio.current_time()
        await app.send(b"con")  # a partial command does not count
        (goodbye,) = await app.read_to_eof()
        assert isinstance(goodbye, DisconnectNotice)
        assert trio.current_time() - start == pytest.approx(25)
        await call.wait_closed()
        assert call.close_reason == "connect timeout"
        assert call.hangup_cause is None


async def test_a_first_command_in_time_disarms_the_timeout(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory()
        app = App(stream)
        await trio.sleep(24)
        await app.send(b"connect\n\n")
        await app.frame()
        await trio.sleep(3600)
        assert not call.closed


# -- 3. static mode --------------------------------------------------------------------------


async def test_static_mode_replies_after_the_application_then_its_events(autojump_clock):
    """switch_ivr_parse_event runs inside parse_command: the events it queues are written by
    the same listener thread after the reply, and later commands wait."""
    async with open_fake_dialer() as dialer:
        dialer.app_durations["playback"] = 2.0
        call, app = await subscribed(dialer, async_mode=False)
        start = trio.current_time()
        await app.send(execute("playback", "a.wav") + b"getvar uuid\n\n")
        await trio.sleep(1)
        call.send_dtmf("9")  # queued while the application runs
        reply = await app.next()
        assert isinstance(reply, CommandReply) and reply.text == "+OK"
        assert trio.current_time() - start == pytest.approx(2)
        names = [(await app.next()).name for _ in range(3)]
        assert names == ["CHANNEL_EXECUTE", "DTMF", "CHANNEL_EXECUTE_COMPLETE"]  # no park
        assert (await app.next()).text == call.uuid  # the next command, only now


async def test_static_mode_async_header_queues_the_application(autojump_clock):
    async with open_fake_dialer() as dialer:
        dialer.app_durations["playback"] = 2.0
        _call, app = await subscribed(dialer, async_mode=False)
        start = trio.current_time()
        assert await app.command(execute("playback", "a.wav", "async: true")) == "+OK"
        assert trio.current_time() == start
        assert (await app.next()).name == "CHANNEL_EXECUTE"


async def test_static_mode_hangup_leaves_the_state_events_after_close():
    """The session thread is inside the socket application: only CHANNEL_HANGUP reaches the
    socket; the socket application's completion and the states come once it closed."""
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer, async_mode=False)
        call.hangup()
        messages = await app.read_to_eof()
        assert [getattr(m, "name", "notice") for m in messages] == ["CHANNEL_HANGUP", "notice"]
        await call.wait_closed()
        after = [e.name for e in call.events[1:]]
        assert after == ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE", "CHANNEL_STATE",
                         "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]  # fmt: skip


async def test_static_mode_linger_keeps_the_socket_then_closes(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer, async_mode=False)
        assert await app.command(b"linger 5\n\n") == "+OK will linger 5 seconds"
        call.hangup()
        hangup, notice = await app.next(), await app.next()
        assert hangup.name == "CHANNEL_HANGUP"
        assert notice.headers.get("Content-Disposition") == "linger"
        start = trio.current_time()
        (goodbye,) = await app.read_to_eof()
        assert goodbye.headers.get("Content-Disposition") == "disconnect"
        assert trio.current_time() - start == pytest.approx(5)
        assert call.events[-2].name == "CHANNEL_HANGUP_COMPLETE"


# -- 4. applications -------------------------------------------------------------------------


async def test_set_sets_the_variable_before_its_completion():
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute("set", "color=blue green"))
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert done.headers.get("variable_color") == "blue green"
        assert await app.command(b"getvar color\n\n") == "blue green"
        await app.command(execute("set", "color="))  # nothing unsets it
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert done.headers.get("variable_color") is None
        assert "color" not in call.variables


async def test_execute_events_carry_the_application_variables_in_freeswitch_order():
    """switch_core_session_exec: current_application, then its data, EXECUTE, then
    current_application again (fixture 07); loops set current_loop / total_loops first."""
    async with open_fake_dialer() as dialer:
        _call, app = await subscribed(dialer)
        await app.command(execute("log", "INFO hi"))
        started, done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-2:]

        def tail(event: Event) -> list[str]:
            return [n for n, _ in event.headers.items() if n.startswith("variable_")][-4:]

        assert tail(started) == ["variable_current_loop", "variable_total_loops",
                                 "variable_current_application",
                                 "variable_current_application_data"]  # fmt: skip
        assert tail(done)[-2:] == ["variable_current_application_data",
                                   "variable_current_application"]  # fmt: skip


async def test_loops_runs_the_application_again():
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute("log", "x", "loops: 2"))
        events = await events_until(app, "CHANNEL_EXECUTE_COMPLETE")
        events += await events_until(app, "CHANNEL_EXECUTE_COMPLETE")
        loops = [(e.name, e.headers.get("variable_current_loop")) for e in events[1:]]
        assert loops == [("CHANNEL_EXECUTE", "1"), ("CHANNEL_EXECUTE_COMPLETE", "1"),
                         ("CHANNEL_EXECUTE", "2"), ("CHANNEL_EXECUTE_COMPLETE", "2")]  # fmt: skip
        assert "current_loop" not in call.variables


async def test_playback_completes_with_file_played(autojump_clock):
    async with open_fake_dialer() as dialer:
        dialer.app_durations["playback"] = 1.5
        _call, app = await subscribed(dialer)
        await app.command(execute("playback", "ivr/welcome.wav"))
        start = trio.current_time()
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert trio.current_time() - start == pytest.approx(1.5)
        assert done.headers.get("Application-Response") == "FILE PLAYED"
        assert done.headers.get("variable_current_application_response") == "FILE PLAYED"
        assert done.headers.get("variable_playback_ms") == "1500"


async def test_sleep_takes_its_milliseconds(autojump_clock):
    async with open_fake_dialer() as dialer:
        _call, app = await subscribed(dialer)
        await app.command(execute("sleep", "2500"))
        start = trio.current_time()
        await events_until(app, "CHANNEL_EXECUTE_COMPLETE")
        assert trio.current_time() - start == pytest.approx(2.5)


async def test_park_completes_only_with_the_hangup(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute("park"))
        names = [e.name for e in await events_until(app, "CHANNEL_EXECUTE")]
        assert (await app.next()).name == "CHANNEL_PARK"  # park's own
        assert names == ["CHANNEL_PARK", "CHANNEL_EXECUTE"]  # the socket's, then park's
        await trio.sleep(3600)
        call.hangup()
        rest = [getattr(m, "name", "notice") for m in await app.read_to_eof()]
        assert rest[:4] == ["CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
                            "CHANNEL_UNPARK"]  # fmt: skip
        assert rest[-1] == "notice"


async def test_transfer_completes_and_an_unknown_application_hangs_up():
    """switch_core_session_execute_application: "Invalid Application" hangs up with
    DESTINATION_OUT_OF_ORDER before any CHANNEL_EXECUTE."""
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute("transfer", "1000 XML default"))
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert done.headers.get("Application") == "transfer"
        await app.command(execute("no_such_app"))
        hangup = await app.next()
        assert hangup.name == "CHANNEL_HANGUP"
        assert hangup.headers.get("Hangup-Cause") == "DESTINATION_OUT_OF_ORDER"
        assert call.applications[-1] == ("no_such_app", "")
        assert "no_such_app" not in [e.header("Application") for e in call.events]


async def test_app_durations_make_any_name_an_application(autojump_clock):
    async with open_fake_dialer() as dialer:
        dialer.app_durations["my_app"] = 4.0
        _call, app = await subscribed(dialer)
        await app.command(execute("my_app"))
        start = trio.current_time()
        await events_until(app, "CHANNEL_EXECUTE_COMPLETE")
        assert trio.current_time() - start == pytest.approx(4)


PAGD = "play_and_get_digits"


async def test_play_and_get_digits_collects_digits_sent_while_it_runs(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute(PAGD, r"1 4 3 5000 # p.wav bad.wav pin \d+"))
        await events_until(app, "CHANNEL_EXECUTE")
        await trio.sleep(2)
        call.send_dtmf("12#")
        events = await events_until(app, "CHANNEL_EXECUTE_COMPLETE")
        assert [e.name for e in events] == ["DTMF", "DTMF", "DTMF", "CHANNEL_EXECUTE_COMPLETE"]
        done = events[-1]
        assert done.headers.get("variable_pin") == "12"
        assert done.headers.get("variable_read_result") == "success"
        assert done.headers.get("variable_read_terminator_used") == "#"
        assert call.variables["pin"] == "12"
        assert await app.command(b"getvar pin\n\n") == "12"


async def test_play_and_get_digits_reads_digits_queued_before_it(autojump_clock):
    """switch_channel_queue_dtmf keeps the digits on the channel until something reads them."""
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        call.send_dtmf("734")
        await events_until(app, "DTMF")
        await events_until(app, "DTMF")
        await events_until(app, "DTMF")
        start = trio.current_time()
        await app.command(execute(PAGD, "3 3 1 5000 # p.wav bad.wav code"))
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert done.headers.get("variable_code") == "734"  # max digits reached
        assert trio.current_time() == start


async def test_play_and_get_digits_times_out_every_try(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute(PAGD, "1 4 3 5000 # p.wav bad.wav pin"))
        start = trio.current_time()
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert trio.current_time() - start == pytest.approx(15)
        assert done.headers.get("variable_pin") is None
        assert done.headers.get("variable_read_result") == "failure"
        assert done.headers.get("Application-Response") == "_none_"
        assert "pin" not in call.variables


async def test_play_and_get_digits_digit_timeout_ends_a_long_enough_entry(autojump_clock):
    """A timeout with at least ``min`` digits is a success (switch_play_and_get_digits)."""
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute(PAGD, "2 6 1 5000 # p.wav bad.wav pin . 1500"))
        await events_until(app, "CHANNEL_EXECUTE")
        call.send_dtmf("42")
        start = trio.current_time()
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert trio.current_time() - start == pytest.approx(1.5)  # the digit timeout
        assert done.headers.get("variable_pin") == "42"
        assert done.headers.get("variable_read_result") == "timeout"


async def test_play_and_get_digits_regexp_mismatch_tries_again(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        call.send_dtmf("99#")
        for _ in range(3):
            await events_until(app, "DTMF")
        await app.command(execute(PAGD, "1 4 2 5000 # p.wav bad.wav pin ^1"))
        await events_until(app, "CHANNEL_EXECUTE")
        await trio.sleep(1)
        assert call.variables["pin_invalid"] == "99"
        call.send_dtmf("12#")
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert done.headers.get("variable_pin") == "12"
        assert done.headers.get("variable_pin_invalid") == "99"


async def test_play_and_get_digits_ends_with_the_hangup(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        await app.command(execute(PAGD, "1 4 3 5000 # p.wav bad.wav pin"))
        await events_until(app, "CHANNEL_EXECUTE")
        await trio.sleep(1)
        call.hangup()
        names = [e.name for e in await events_until(app, "CHANNEL_EXECUTE_COMPLETE")]
        assert names == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
        call.send_dtmf("1")  # the channel is gone: no DTMF any more
        assert "DTMF" not in [e.name for e in call.events]


async def test_play_and_get_digits_with_nothing_to_collect_tries_again():
    """min 0 max 0: switch_ivr_read collects nothing (success, no digits), which is no
    success for the loop: every try fails at once."""
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        call.send_dtmf("5")
        await events_until(app, "DTMF")
        await app.command(execute(PAGD, "0 0 2 5000 # p.wav bad.wav pin"))
        done = (await events_until(app, "CHANNEL_EXECUTE_COMPLETE"))[-1]
        assert done.headers.get("variable_read_result") == "success"
        assert done.headers.get("variable_pin") is None
        assert call._session.dtmf_queue == ["5"]  # not read


def test_c_atoi():
    assert [c_atoi(t) for t in ("12", " -3x", "x", "", "\n5", "+7")] == [12, -3, 0, 0, 5, 7]


# -- 5. api on the outbound socket ------------------------------------------------------------


async def api(app: App, command: str) -> bytes:
    await app.send(f"api {command}\n\n".encode())
    frame = await app.frame()
    assert frame.content_type == "api/response", frame
    return frame.body


async def test_uuid_api_commands_on_the_own_channel():
    """mod_commands.c texts, for this channel and for any other uuid."""
    other = "00000000-0000-4000-8000-000000000000"
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer, variables={"caller": "1000"})
        me = call.uuid
        assert await api(app, f"uuid_exists {me}") == b"true"
        assert await api(app, f"uuid_exists {other}") == b"false"
        assert await api(app, f"uuid_getvar {me} caller") == b"1000"
        assert await api(app, f"uuid_getvar {me} nosuch") == b"_undef_"
        assert await api(app, f"uuid_getvar {other} caller") == b"-ERR No Such Channel!\n"
        assert await api(app, f"uuid_getvar {me}") == b"-USAGE: <uuid> <var>\n"
        assert await api(app, f"uuid_setvar {me} color red") == b"+OK\n"
        assert await app.command(b"getvar color\n\n") == "red"
        assert await api(app, f"uuid_setvar {me} color") == b"+OK\n"  # no value: unset
        assert "color" not in call.variables
        assert await api(app, f"uuid_setvar {other} a b") == b"-ERR No Such Channel!\n"
        assert await api(app, "uuid_setvar") == b"-USAGE: <uuid> <var> [value]\n"
        assert await api(app, f"uuid_send_dtmf {other} 1") == b"-ERR Cannot locate session!\n"
        assert await api(app, "uuid_send_dtmf") == b"-USAGE: <uuid> <dtmf_data>\n"
        assert await api(app, "uuid_kill") == b"-USAGE: <uuid> [cause]\n"
        assert await api(app, f"uuid_kill {other}") == b"-ERR No Such Channel!\n"
        assert await api(app, "nosuch") == b"-ERR nosuch Command not found!\n"


async def test_uuid_send_dtmf_sends_out_of_the_channel():
    """switch_core_session_send_dtmf_string: the digits go to the far end (the loopback B
    leg), so no DTMF event here; mod_commands writes nothing, api_exec says -ERR no reply."""
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        assert await api(app, f"uuid_send_dtmf {call.uuid} 12#") == b"-ERR no reply\n"
        assert call.sent_dtmf == ["12#"]
        assert "DTMF" not in [e.name for e in call.events]


async def test_uuid_kill_hangs_up_after_its_reply():
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        assert await api(app, f"uuid_kill {call.uuid} USER_BUSY") == b"+OK\n"
        messages = await app.read_to_eof()
        assert messages[1].name == "CHANNEL_HANGUP"  # after the socket's CHANNEL_PARK
        assert messages[1].headers.get("Hangup-Cause") == "USER_BUSY"
        assert call.hangup_cause == "USER_BUSY"


async def test_user_api_handlers_win_and_single_channel_has_no_api():
    async with open_fake_dialer() as dialer:
        dialer.api_handlers["uuid_exists"] = lambda args: "maybe"
        call, app, _ = await connected(dialer)
        assert await api(app, f"uuid_exists {call.uuid}") == b"maybe"
        _call, app, _ = await connected(dialer, full=False)
        assert await app.command(b"api uuid_exists x\n\n") == NOT_FOUND


# -- 6. fault injection ----------------------------------------------------------------------


async def test_send_raw_goes_out_in_order():
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        call.send_dtmf("1")
        call.send_raw(b"Content-Type: text/garbage\n\n")
        call.send_dtmf("2")
        first, raw, second = await app.frame(), await app.frame(), await app.frame()
        assert b"DTMF-Digit: 1" in first.body and b"DTMF-Digit: 2" in second.body
        assert raw.content_type == "text/garbage"


async def test_send_oversize_frame_announces_more_than_it_sends():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        call.send_oversize_frame(1 << 30, b"abc")
        with trio.fail_after(5):
            data = await app.stream.receive_some(65536)
        assert data == b"Content-Length: 1073741824\nContent-Type: text/event-plain\n\nabc"


async def test_drop_closes_without_a_notice():
    async with open_fake_dialer() as dialer:
        call, app = await subscribed(dialer)
        call.drop()
        call.send_dtmf("1")  # nothing more is written
        assert await app.read_to_eof() == []
        await call.wait_closed()
        assert call.close_reason == "dropped"
        assert call.hangup_cause is None


async def test_connect_never_answered(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory(connect_reply=False)
        await stream.send_all(b"connect\n\n")
        await call.wait_connected()
        with trio.move_on_after(60):
            await stream.receive_some(65536)
            pytest.fail("the connect was answered")
        assert call.connected and not call.closed


async def test_connect_reply_delayed(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory(connect_delay=7.0)
        app = App(stream)
        start = trio.current_time()
        await app.send(b"connect\n\ngetvar uuid\n\n")
        await app.frame()
        assert trio.current_time() - start == pytest.approx(7)
        assert (await app.frame()).headers.get("Reply-Text") == call.uuid


async def test_an_application_that_never_reads_does_not_hang_the_dialer(autojump_clock):
    with trio.fail_after(10):
        async with open_fake_dialer(stream_buffer=16) as dialer:
            call, _app, _ = await connected(dialer)
            call.emit("CUSTOM", {"X": "y" * 1000})
            call.hangup()  # written to nobody
    assert call.closed


# -- the command dispatch, for any line --------------------------------------------------------


def _session(full: bool) -> OutboundSession:
    channel = Channel("u-1", "u-2", 1, "127.0.0.1", "127.0.0.1:8084 async full",
                      control="full" if full else "single-channel")  # fmt: skip
    return OutboundSession(channel, Identity("core", "host"), next_sequence=lambda: 1,
                           now=lambda: 1.0)  # fmt: skip


_WRITES_ITSELF = ("exit", "...", "connect", "api ", "sendmsg", "bgapi ")


@given(line=st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0"), max_size=30),
       full=st.booleans())  # fmt: skip
def test_any_other_command_line_gets_exactly_one_command_reply(line, full):
    """Every command but those that write their own frames answers one command/reply, never
    an empty one (``done:``); single-channel answers only the session commands."""
    session = _session(full)
    session.handle(OutboundCommand("resume"))  # the first command's reply is not written
    output = session.handle(OutboundCommand(line))
    if line.lower().startswith(_WRITES_ITSELF):
        return
    (frame,) = output.frames
    message = classify(next(iter(_frames(frame))))
    assert isinstance(message, CommandReply)
    assert message.text
    session_command = line.lower().startswith(
        ("filter ", "resume", "getvar", "myevents", "divert_events")
    )
    if not full and not session_command:
        assert message.text == NOT_FOUND
    assert not output.close


def _frames(data: bytes):
    from esl_trio.protocol import FrameParser

    parser = FrameParser()
    parser.feed(data)
    return parser.frames()


def test_layouts_split_as_recorded():
    """Events start with CHANNEL (Channel-State ... Caller-Privacy-Hide-Number), then the
    variables (fixture 34: 13 standard headers, 44 channel headers, Hangup-Cause once down)."""
    assert CHANNEL[0][0] == "Channel-State" and len(CHANNEL) == 44
    assert all(name.startswith("variable_") for name, _ in VARIABLES)
