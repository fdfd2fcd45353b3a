"""log, sendevent, sendmsg, session-bound commands and unknown commands (B-CMD-*)."""

from __future__ import annotations

import pytest
import trio

from esl_trio.protocol import (
    CommandReply,
    DisconnectNotice,
    DivertEvents,
    Linger,
    Log,
    LogLine,
    MyEvents,
    NoLinger,
    NoLog,
    SendEvent,
    SendMsg,
)
from esl_trio.protocol.server import GOODBYE
from esl_trio.testing import open_fake_freeswitch
from tests._fixtures import one_frame, raw
from tests.testing._raw_client import connect

# -- log (B-CMD-5, B-CT-3) ---------------------------------------------------------------------


async def test_log_reply_bytes_and_log_data_b_cmd_5():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send(Log(7))
        expected = raw("25-log-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected
        text = "2026-11-26 11:00:32.526768 99.43% [INFO] mod_commands.c:7247 hello-from-esl-test\n"
        assert fs.emit_log(text, 6, line=7247) == [1]
        expected = raw("26-log-data.raw")
        assert await client.raw_bytes(len(expected)) == expected


async def test_log_levels_and_names_b_cmd_5():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        assert await client.text(Log("err")) == "+OK log level err [3]"
        assert fs.connection(1).log_level == 3
        assert fs.emit_log("debug line\n", 7) == []
        assert fs.emit_log("error line\n", 3) == [1]
        line = await client.next()
        assert isinstance(line, LogLine)
        assert line.level == 3
        assert line.text == "error line\n"
        assert await client.text(b"log nonsense\n\n") == "-ERR invalid log level"


async def test_nolog_b_cmd_5():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        assert await client.text(NoLog()) == "-ERR not loging"  # sic
        await client.text(Log(7))
        assert await client.text(NoLog()) == "+OK no longer logging"
        assert fs.emit_log("ignored\n", 1) == []


# -- sendevent (B-CMD-6) -----------------------------------------------------------------------


async def test_sendevent_fires_like_fixture_b_cmd_6():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        listener = await connect(fs, events="plain CUSTOM my::test")
        sender = await connect(fs)
        command = SendEvent(
            "CUSTOM",
            [("Event-Subclass", "my::test"), ("X-Test-Header", "abc def")],
            b"hello from sendevent\n",
        )
        reply = await sender.text(command)
        assert reply.startswith("+OK ")
        event_uuid = reply[4:]
        event = await listener.event()
        assert event.subclass == "my::test"
        assert event.get("Event-UUID") == event_uuid
        assert event.body == b"hello from sendevent\n"
        real = one_frame("24-custom-event-plain-with-body.raw")
        real_names = [
            line.split(":")[0] for line in real.body.split(b"\n\n")[0].decode().splitlines()
        ]
        assert [n for n, _ in event.headers.items()] == real_names[:-1]  # minus Content-Length
        assert event.get("Command") == "sendevent CUSTOM"
        assert event.get("Event-Calling-Function") == "parse_command"


async def test_sendevent_reply_shape_like_fixture_b_cmd_6():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        reply = await client.command(SendEvent("HEARTBEAT"))
        real = one_frame("23-sendevent-reply.raw")
        assert isinstance(reply, CommandReply)
        assert list(reply.headers) == list(real.headers)
        assert len(reply.text) == len(real.headers["Reply-Text"])


# -- sendmsg (B-CMD-7) -------------------------------------------------------------------------


async def test_sendmsg_b_cmd_7():
    async with open_fake_freeswitch() as fs:
        fs.channels.add("chan-1")
        client = await connect(fs)
        assert await client.text(SendMsg.hangup("chan-1")) == "+OK"
        assert await client.text(SendMsg.execute("chan-2", "playback", "x.wav")) == (
            "-ERR invalid session id [chan-2]"
        )
        assert await client.text(b"sendmsg\n\n") == "-ERR invalid session id []"
        received = await fs.wait_command(SendMsg, count=2)
        assert received.uuid == "chan-2"
        assert ("execute-app-name", "playback") in received.headers


# -- session-bound commands on an inbound socket (B-CMD-2/3/4) ---------------------------------


async def test_session_commands_without_a_session_b_cmd_3_4():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        assert await client.text(Linger()) == "-ERR not controlling a session"
        assert await client.text(Linger(10)) == "-ERR not controlling a session"
        assert await client.text(NoLinger()) == "-ERR not controlling a session"
        assert await client.text(DivertEvents(True)) == "-ERR not controlling a session."
        assert await client.text(b"divert_events\n\n") == "-ERR not controlling a session."
        assert await client.text(MyEvents("nosuch", "plain")) == "-ERR invalid uuid"


async def test_session_commands_with_myevents_b_cmd_2_3_4():
    async with open_fake_freeswitch() as fs:
        fs.channels.add("chan-1")
        client = await connect(fs)
        assert await client.text(MyEvents("chan-1")) == "+OK Events Enabled"
        assert await client.text(Linger(10)) == "+OK will linger 10 seconds"
        assert await client.text(Linger()) == "+OK will linger"
        assert await client.text(NoLinger()) == "+OK will not linger"
        assert await client.text(DivertEvents(True)) == "+OK events diverted"
        assert await client.text(DivertEvents(False)) == "+OK events not diverted"
        assert await client.text(b"divert_events\n\n") == "-ERR missing value."


async def test_hangup_of_bound_channel_b_disc_2_3():
    async with open_fake_freeswitch() as fs:
        fs.channels.update({"chan-1", "chan-2"})
        plain = await connect(fs)
        await plain.text(MyEvents("chan-1"))
        lingering = await connect(fs)
        await lingering.text(MyEvents("chan-2"))
        await lingering.text(Linger())
        fs.hangup_channel("chan-1")
        fs.hangup_channel("chan-2")
        messages = await plain.expect_close()
        notice = messages[-1]
        assert isinstance(notice, DisconnectNotice)
        assert notice.disposition == "disconnect"
        assert notice.headers["Controlled-Session-UUID"] == "chan-1"
        assert notice.body == GOODBYE
        linger = await lingering.next()
        assert isinstance(linger, DisconnectNotice)
        assert linger.is_linger
        assert linger.body == b""
        assert await lingering.api("echo still open") == b"still open"


async def test_linger_time_then_close_b_disc_3(autojump_clock):
    async with open_fake_freeswitch() as fs:
        fs.channels.add("chan-1")
        client = await connect(fs)
        await client.text(MyEvents("chan-1"))
        await client.text(Linger(5))
        fs.hangup_channel("chan-1")
        linger = await client.next()
        assert isinstance(linger, DisconnectNotice)
        assert linger.is_linger
        assert linger.headers["Linger-Time"] == "5"
        start = trio.current_time()
        messages = await client.expect_close(timeout=60)
        assert trio.current_time() - start == pytest.approx(5)
        assert messages[-1].disposition == "disconnect"
        assert messages[-1].body == GOODBYE


# -- unknown commands (B-CMD-8) ----------------------------------------------------------------


async def test_unknown_command_reply_bytes_b_cmd_8():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send_raw(b"nosuchcommand\n\n")
        expected = raw("29-unknown-command-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected
        assert await client.text(b"getvar foo\n\n") == "-ERR command not found"  # outbound only
        assert await client.text(b"api\n\n") == "-ERR command not found"
