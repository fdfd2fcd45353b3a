"""The fake dialer: FreeSWITCH's side of an outbound Event Socket session (issue 12 item 5).

What it must reproduce comes from the recorded outbound session (fixtures 30-34) and
mod_event_socket.c: the ``connect`` reply is one CHANNEL_DATA header block without
Content-Length; ``sendmsg`` without a uuid controls the socket's own channel; execute gives
CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE carrying the message's Event-UUID as
Application-UUID; a hangup ends with the session goodbye, or with linger the linger notice.
"""

from __future__ import annotations

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from esl_trio.protocol import (
    DisconnectNotice,
    Event,
    Frame,
    FrameParser,
    LocalProtocolError,
    RemoteProtocolError,
    classify,
)
from esl_trio.protocol._percent import decode_value
from esl_trio.testing import FakeDialer, OutboundCommand, open_fake_dialer
from esl_trio.testing._outbound_session import OutboundCommandReader
from tests._fixtures import raw

RECORDED_UUID = "74bfaba6-c80f-4938-ac25-144cf48ff82f"
RECORDED_CORE = "f187fe88-5728-41c5-ad41-b38aaaa6e879"


class App:
    """The application side of one outbound connection, over the dialer's stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.parser = FrameParser()
        self.eof = False

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def frame(self) -> Frame:
        with trio.fail_after(30):
            while (frame := self.parser.next_frame()) is None:
                assert not self.eof, "EOF"
                data = await self.stream.receive_some(65536)
                self.eof = not data
                self.parser.feed(data)
            return frame

    async def next(self):
        return classify(await self.frame())

    async def command(self, data: bytes) -> str:
        """The Reply-Text (read from the frame: ``getvar`` answers any text at all)."""
        await self.send(data)
        frame = await self.frame()
        assert frame.content_type == "command/reply", frame
        return frame.headers.get("Reply-Text") or ""

    async def read_to_eof(self) -> list:
        out = []
        with trio.fail_after(30):
            while True:
                try:
                    out.append(await self.next())
                except AssertionError:
                    return out


async def connected(dialer: FakeDialer, **options) -> tuple:
    call, stream = await dialer.dial_memory(**options)
    app = App(stream)
    await app.send(b"connect\n\n")
    reply = ConnectReply(await app.frame())
    return call, app, reply


class ConnectReply:
    """The connect reply: one header block, every value percent-encoded (fixture 30)."""

    def __init__(self, frame: Frame) -> None:
        assert frame.content_type == "command/reply"
        self.headers = {n: decode_value(v) for n, v in frame.headers.items()}
        self.text = self.headers["Reply-Text"]


def header_lines(data: bytes) -> list[tuple[str, str]]:
    block = data.split(b"\n\n", 1)[0].decode()
    return [tuple(line.split(": ", 1)) for line in block.split("\n")]  # type: ignore[misc]


# -- connect ---------------------------------------------------------------------------------


async def test_issue12_item5_connect_reply_matches_fixture_30():
    """Every header of the recorded reply, in order, encoded the same way; only the date, the
    time stamps, the sequence and the second leg's uuid are the dialer's own."""
    async with open_fake_dialer(core_uuid=RECORDED_CORE, hostname="vm") as dialer:
        call, stream = await dialer.dial_memory(uuid=RECORDED_UUID)
        await stream.send_all(b"connect\n\n")
        with trio.fail_after(5):
            data = b""
            while not data.endswith(b"\n\n"):
                data += await stream.receive_some(65536)
    recorded = raw("30-outbound-connect-reply.raw")
    assert data.count(b"\n\n") == 1 and b"Content-Length" not in data  # one header block
    mine, theirs = header_lines(data), header_lines(recorded)
    assert [n for n, _ in mine] == [n for n, _ in theirs]
    own = {"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Sequence", "variable_socket_host",
           "variable_other_loopback_leg_uuid", "variable_current_application_data"}  # fmt: skip
    for (name, value), (_, expected) in zip(mine, theirs, strict=True):
        if name in own or name.startswith("Event-Date") or name.endswith("-Time"):
            continue
        assert value == expected, name
    assert dict(mine)["Reply-Text"] == "%2BOK%0A"
    assert decode_value(dict(mine)["variable_current_application_data"]) == (
        "127.0.0.1:8084 async full"
    )
    assert call.connected


async def test_issue12_item5_connect_reply_parses_as_a_command_reply_with_channel_data():
    async with open_fake_dialer() as dialer:
        call, _app, reply = await connected(dialer, variables={"caller": "1000 x"})
        assert reply.text == "+OK\n"
        assert reply.headers.get("Unique-ID") == call.uuid
        assert reply.headers.get("variable_caller") == "1000 x"
        assert reply.headers.get("Socket-Mode") == "async"
        assert reply.headers.get("Control") == "full"


async def test_issue12_item5_static_single_channel_modes():
    async with open_fake_dialer() as dialer:
        _call, _app, reply = await connected(dialer, async_mode=False, full=False)
        assert reply.headers.get("Socket-Mode") == "static"
        assert reply.headers.get("Control") == "single-channel"


# -- replies ---------------------------------------------------------------------------------


async def test_issue12_item5_replies_match_fixtures_31_to_33():
    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory()
        await stream.send_all(b"connect\n\n")
        await call.wait_connected()
        app = App(stream)
        await app.frame()
        for command, fixture in [
            (b"myevents\n\n", "31-outbound-myevents-reply.raw"),
            (b"linger\n\n", "32-outbound-linger-reply.raw"),
            (b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n",
             "33-outbound-sendmsg-reply.raw"),
        ]:  # fmt: skip
            await app.send(command)
            expected = raw(fixture)
            got = b""
            with trio.fail_after(5):
                while len(got) < len(expected):
                    got += await stream.receive_some(len(expected) - len(got))
            assert got == expected


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"linger 5\n\n", "+OK will linger 5 seconds"),
        (b"linger -1\n\n", "+OK will linger"),
        (b"linger soon\n\n", "+OK will linger 0 seconds"),
        (b"nolinger\n\n", "+OK will not linger"),
        (b"divert_events on\n\n", "+OK events diverted"),
        (b"divert_events off\n\n", "+OK events not diverted"),
        (b"divert_events\n\n", "-ERR missing value."),
        (b"event plain DTMF\n\n", "+OK event listener enabled plain"),
        (b"filter Unique-ID abc\n\n", "+OK filter added. [Unique-ID]=[abc]"),
        (b"resume\n\n", "+OK"),
        (b"getvar caller\n\n", "1000"),
        (b"getvar nosuch\n\n", "-ERR command not found"),  # empty reply, filled at done:
        (b"sendmsg 00000000-0000-4000-8000-000000000000\n\n",
         "-ERR invalid session id [00000000-0000-4000-8000-000000000000]"),
        (b"nosuchcommand\n\n", "-ERR command not found"),
        (b"sendmsg\ncall-command: execute\nexecute-app-name: playback\nloops: x\n\n",
         "+OK"),  # atoi: 0 loops, nothing runs
    ],
)  # fmt: skip
async def test_issue12_item5_reply_texts_of_mod_event_socket(command, reply):
    async with open_fake_dialer() as dialer:
        _call, app, _ = await connected(dialer, variables={"caller": "1000"})
        assert await app.command(command) == reply


async def test_issue12_item5_myevents_twice_and_json_format():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        assert await app.command(b"myevents json\n\n") == "+OK Events Enabled"
        assert await app.command(b"myevents\n\n") == "-ERR aready enabled."
        call.send_dtmf("5")
        event = await app.next()
        assert isinstance(event, Event) and event.format.value == "json"
        assert event.headers.get("DTMF-Digit") == "5"


# -- execute, answer, hangup -----------------------------------------------------------------


async def test_issue12_item5_execute_gives_execute_and_complete_with_event_uuid():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        app_uuid = "6d6b3c1e-0f6a-4c4e-9a51-1f1e3c0c6d01"
        reply = await app.command(
            b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
            b"execute-app-arg: tone_stream://%(100,0,440)\nEvent-UUID: "
            + app_uuid.encode()
            + b"\n\n"
        )
        assert reply == "+OK"
        park, started, done = await app.next(), await app.next(), await app.next()
        assert park.name == "CHANNEL_PARK"  # the socket application's park, before any app
        assert (started.name, done.name) == ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
        for event in (started, done):
            assert event.headers.get("Application") == "playback"
            assert event.headers.get("Application-Data") == "tone_stream://%(100,0,440)"
            assert event.headers.get("Application-UUID") == app_uuid
            assert event.headers.get("Unique-ID") == call.uuid
        assert done.headers.get("Application-Response") == "FILE PLAYED"
        assert call.applications == [("playback", "tone_stream://%(100,0,440)")]


async def test_issue12_item5_sendmsg_with_own_uuid_and_session_id_header():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        for command in (
            f"sendmsg {call.uuid}\ncall-command: execute\nexecute-app-name: log\n\n",
            f"sendmsg\nsession-id: {call.uuid}\ncall-command: execute\nexecute-app-name: log\n\n",
        ):
            assert await app.command(command.encode()) == "+OK"
            if not call.applications[1:]:
                assert (await app.next()).name == "CHANNEL_PARK"
            assert (await app.next()).name == "CHANNEL_EXECUTE"
            assert (await app.next()).name == "CHANNEL_EXECUTE_COMPLETE"


async def test_issue12_item5_applications_run_in_order_on_trio_time(autojump_clock):
    async with open_fake_dialer() as dialer:
        dialer.app_durations["playback"] = 3.0
        _call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        start = trio.current_time()
        await app.send(
            b"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: a\n\n"
            b"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: b\n\n"
        )
        seen = []
        assert (await app.next()).text == "+OK"
        assert (await app.next()).text == "+OK"
        assert (await app.next()).name == "CHANNEL_PARK"
        while len(seen) < 4:
            message = await app.next()
            label = message.name if isinstance(message, Event) else message.text
            arg = message.headers.get("Application-Data") if isinstance(message, Event) else ""
            seen.append((label, arg, trio.current_time() - start))
        assert seen == [
            ("CHANNEL_EXECUTE", "a", 0),
            ("CHANNEL_EXECUTE_COMPLETE", "a", 3.0),
            ("CHANNEL_EXECUTE", "b", 3.0),
            ("CHANNEL_EXECUTE_COMPLETE", "b", 6.0),
        ]


async def test_issue12_item5_answer_app_answers_a_ringing_channel():
    async with open_fake_dialer() as dialer:
        call, app, reply = await connected(dialer, answered=False)
        assert reply.headers.get("Answer-State") == "ringing"
        await app.command(b"myevents\n\n")
        await app.command(b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n")
        names = [(await app.next()).name for _ in range(4)]
        assert names == ["CHANNEL_PARK", "CHANNEL_EXECUTE", "CHANNEL_ANSWER",
                         "CHANNEL_EXECUTE_COMPLETE"]  # fmt: skip
        assert call.answered


#: What follows a hangup on an async socket, as fixture 34 recorded it (then the notice).
AFTER_HANGUP = ["CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE",
                "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"]  # fmt: skip


def _names(messages) -> list[str]:
    return [getattr(m, "name", type(m).__name__) for m in messages]


async def test_issue12_item5_hangup_without_linger_sends_goodbye_and_closes():
    """read_packet drains the queued events before it checks for the hangup: the same events as
    with linger (fixture 34), then the goodbye instead of the linger notice."""
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        call.hangup("USER_BUSY")
        messages = await app.read_to_eof()
        assert _names(messages) == ["CHANNEL_PARK", *AFTER_HANGUP, "DisconnectNotice"]
        hangup, notice = messages[1], messages[-1]
        assert hangup.headers.get("Hangup-Cause") == "USER_BUSY"
        assert hangup.headers.get("Answer-State") == "hangup"
        assert hangup.headers.get("Channel-State-Number") == "10"
        assert messages[-2].headers.get("variable_hangup_cause_q850") == "17"
        assert isinstance(notice, DisconnectNotice)
        assert notice.headers.get("Content-Disposition") == "disconnect"
        assert notice.headers.get("Controlled-Session-UUID") == call.uuid
        assert notice.body.startswith(b"Disconnected, goodbye.")
        await call.wait_closed()
        assert call.close_reason == "hangup"
        # CHANNEL_DESTROY waits for the listener to let go of the session: fired, never sent.
        assert call.events[-1].name == "CHANNEL_DESTROY"


async def test_issue12_item5_after_hangup_stream_matches_fixture_34():
    """The recorded session (connect, myevents, linger, sendmsg answer, far end hangs up):
    every event's headers in order, values equal but for dates, times and uuids."""
    async with open_fake_dialer(core_uuid=RECORDED_CORE, hostname="vm") as dialer:
        call, app, _ = await connected(dialer, uuid=RECORDED_UUID)
        await app.command(b"myevents\n\n")
        await app.command(b"linger\n\n")
        await app.send(b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n")
        got = [await app.next() for _ in range(4)]  # reply, park, execute, complete
        call.hangup()
        got += [await app.next() for _ in range(7)]
    recorded = _messages(raw("34-outbound-after-hangup-stream.raw"))
    assert _names(got) == _names(recorded)
    own = {"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Sequence", "Application-UUID",
           "variable_socket_host", "variable_other_loopback_leg_uuid", "Application-Data",
           "variable_current_application_data", "variable_caller_id"}  # fmt: skip
    for mine, theirs in zip(got[1:], recorded[1:], strict=True):
        assert [n for n, _ in mine.headers.items()] == [n for n, _ in theirs.headers.items()], (
            getattr(theirs, "name", theirs)
        )
        for (name, value), (_, expected) in zip(
            mine.headers.items(), theirs.headers.items(), strict=True
        ):
            timed = ("Date", "Time", "epoch", "stamp", "sec", "usec", "mduration", "uduration")
            if name in own or any(word in name for word in timed):
                continue
            assert value == expected, (getattr(theirs, "name", ""), name)


async def test_issue12_item5_hangup_with_linger_then_closes_after_the_linger_time(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        assert await app.command(b"linger 10\n\n") == "+OK will linger 10 seconds"
        assert (
            await app.command(b"sendmsg\ncall-command: hangup\nhangup-cause: CALL_REJECTED\n\n")
            == "+OK"
        )
        start = trio.current_time()
        names = [(await app.next()).name for _ in range(7)]
        assert names == ["CHANNEL_PARK", *AFTER_HANGUP]
        linger = await app.next()
        assert isinstance(linger, DisconnectNotice)
        recorded = _messages(raw("34-outbound-after-hangup-stream.raw"))[-1]
        assert [n for n, _ in linger.headers.items()] == [n for n, _ in recorded.headers.items()]
        assert linger.headers.get("Linger-Time") == "10"
        assert linger.body == b""
        # The socket stays usable while lingering; then the goodbye, then close.
        assert await app.command(b"getvar hangup_cause\n\n") == "CALL_REJECTED"
        await app.send(b"api uuid_exists " + call.uuid.encode() + b"\n\n")
        assert (await app.frame()).body == b"false"  # locate refuses a channel that is down
        (goodbye,) = await app.read_to_eof()
        assert goodbye.headers.get("Content-Disposition") == "disconnect"
        assert trio.current_time() - start == pytest.approx(10)
        assert call.close_reason == "linger timeout"
        assert [e.name for e in call.events][-1] == "CHANNEL_DESTROY"


async def test_issue12_item5_linger_forever_stays_open_until_exit(autojump_clock):
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        await app.command(b"linger\n\n")
        call.hangup()
        for _ in range(8):
            await app.next()
        with trio.move_on_after(3600):
            await call.wait_closed()
        assert not call.closed
        assert await app.command(b"exit\n\n") == "+OK bye"
        (goodbye,) = await app.read_to_eof()
        assert goodbye.headers.get("Controlled-Session-UUID") == call.uuid
        await call.wait_closed()
        assert call.close_reason == "exit"


async def test_issue12_item5_hangup_app_hangs_up_inside_the_application():
    """The hangup application hangs up while it runs: CHANNEL_HANGUP before its completion."""
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        await app.command(
            b"sendmsg\ncall-command: execute\nexecute-app-name: hangup\n"
            b"execute-app-arg: NO_ANSWER\n\n"
        )
        messages = await app.read_to_eof()
        assert _names(messages) == ["CHANNEL_PARK", "CHANNEL_EXECUTE", "CHANNEL_HANGUP",
                                    "CHANNEL_EXECUTE_COMPLETE", *AFTER_HANGUP[1:],
                                    "DisconnectNotice"]  # fmt: skip
        assert messages[3].headers.get("Application") == "hangup"
        assert call.hangup_cause == "NO_ANSWER"


async def test_issue12_item5_dtmf_injection_and_filters():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        await app.command(b"filter DTMF-Digit 2\n\n")
        call.send_dtmf("123")
        event = await app.next()
        assert event.name == "DTMF" and event.headers.get("DTMF-Digit") == "2"
        assert event.headers.get("DTMF-Duration") == "2000"
        assert [e.header("DTMF-Digit") for e in call.events if e.name == "DTMF"] == ["1", "2", "3"]
        with pytest.raises(ValueError, match="not a DTMF digit"):
            call.send_dtmf("x")


async def test_issue12_item5_no_events_without_a_subscription():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        call.send_dtmf("1")
        assert await app.command(b"resume\n\n") == "+OK"  # the DTMF was not written before it


async def test_issue12_item5_commands_are_recorded_and_awaitable():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.send(b"sendmsg\ncall-command: execute\nexecute-app-name: park\n\n")
        command = await call.wait_command("sendmsg")
        assert command == OutboundCommand(
            "sendmsg", (("call-command", "execute"), ("execute-app-name", "park"))
        )
        assert [c.verb for c in call.commands] == ["connect", "sendmsg"]
        assert await call.wait_command(lambda c: c.header("execute-app-name") == "park") is command


async def test_issue12_item5_injection_refuses_cr_lf_nul():
    async with open_fake_dialer() as dialer:
        call, _app, _ = await connected(dialer)
        with pytest.raises(LocalProtocolError):
            call.hangup("NORMAL\nX-Forged: 1")
        with pytest.raises(LocalProtocolError):
            call.emit("CUSTOM", {"X": "a\r\nb"})
        with pytest.raises(LocalProtocolError):
            await dialer.dial_memory(variables={"v": "a\nb"})


async def test_issue12_item5_full_outbox_raises_instead_of_hanging():
    async with open_fake_dialer(outbox_frames=5, stream_buffer=1) as dialer:
        call, app, _ = await connected(dialer)
        await app.command(b"myevents\n\n")
        with pytest.raises(RuntimeError, match="not reading"):
            call.send_dtmf("1" * 100)


async def test_issue12_item5_garbled_command_drops_the_socket():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.send(b"sendmsg\nX: \xff\xfe\n\n")
        assert await app.read_to_eof() == []
        await call.wait_closed()
        assert call.close_reason == "protocol error"


async def test_issue12_item5_application_closing_ends_the_call():
    async with open_fake_dialer() as dialer:
        call, app, _ = await connected(dialer)
        await app.stream.aclose()
        await call.wait_closed()
        assert call.close_reason == "application closed"


async def test_issue12_item5_over_tcp():
    async def server(stream: trio.SocketStream) -> None:
        app = App(stream)
        await app.send(b"connect\n\n")
        reply = ConnectReply(await app.frame())
        assert reply.headers.get("variable_socket_host") == "127.0.0.1"
        assert await app.command(b"myevents\n\n") == "+OK Events Enabled"
        await app.send(b"sendmsg\ncall-command: hangup\n\n")
        messages = await app.read_to_eof()
        assert isinstance(messages[-1], DisconnectNotice)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, server, 0)
        port = listeners[0].socket.getsockname()[1]
        async with open_fake_dialer() as dialer:
            call = await dialer.dial(("127.0.0.1", port))
            with trio.fail_after(30):
                await call.wait_closed()
            assert call.hangup_cause == "NORMAL_CLEARING"
            assert call.close_reason == "hangup"
        nursery.cancel_scope.cancel()


async def test_issue12_item5_dial_outside_the_block_is_an_error():
    async with open_fake_dialer() as dialer:
        pass
    with pytest.raises(RuntimeError, match="not running"):
        await dialer.dial_memory()


async def test_issue12_item5_fixture(fake_dialer):
    call, stream = await fake_dialer.dial_memory()
    app = App(stream)
    await app.send(b"connect\n\n")
    assert ConnectReply(await app.frame()).headers["Unique-ID"] == call.uuid


def _messages(data: bytes) -> list:
    parser = FrameParser()
    parser.feed(data)
    parser.feed(b"")
    return [classify(frame) for frame in parser.frames()]


# -- the command reader ----------------------------------------------------------------------

_line = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0:"), min_size=1, max_size=20)
_header = st.tuples(
    _line.map(lambda s: s.strip() or "h").filter(lambda s: s.lower() != "content-length"),
    _line.map(str.lstrip),
)


@given(
    commands=st.lists(
        st.tuples(_line.map(lambda s: s.strip() or "x"), st.lists(_header, max_size=3),
                  st.binary(max_size=30)),
        min_size=1, max_size=4,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=5),
)  # fmt: skip
def test_issue12_item5_reader_reads_any_command_sequence_whatever_the_chunking(commands, cuts):
    wire = b""
    expected = []
    for line, headers, body in commands:
        pairs = [*headers, *([("content-length", str(len(body)))] if body else [])]
        block = "".join(f"{n}: {v}\n" for n, v in pairs)
        wire += f"{line}\n{block}\n".encode() + body
        expected.append(OutboundCommand(line, tuple(pairs), body))
    reader = OutboundCommandReader()
    got = []
    start = 0
    for cut in [*sorted(c for c in cuts if c < len(wire)), len(wire)]:
        reader.receive_data(wire[start:cut])
        start = cut
        while (command := reader.next_command()) is not None:
            got.append(command)
    assert got == expected


def test_issue12_item5_reader_refuses_a_header_without_colon():
    reader = OutboundCommandReader()
    reader.receive_data(b"sendmsg\nno colon here\n\n")
    with pytest.raises(RemoteProtocolError):
        reader.next_command()
