"""Groundwork for outbound mode: the recorded outbound traffic classifies, the verbs exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from esl_trio.protocol import (
    ChannelData,
    ChannelEvent,
    Command,
    CommandReader,
    CommandReply,
    Connect,
    DisconnectNotice,
    FrameParser,
    Message,
    MyEvents,
    Resume,
    SendMsg,
    classify,
    parse_command,
)
from esl_trio.protocol.server import command_reply

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "freeswitch-1.11"
CHANNEL = "74bfaba6-c80f-4938-ac25-144cf48ff82f"


def messages(name: str) -> list[Message]:
    parser = FrameParser()
    parser.feed((FIXTURES / name).read_bytes())
    parser.feed(b"")
    out = [classify(frame) for frame in parser.frames()]
    assert parser.buffered_bytes == 0
    return out


def test_outbound_connect_reply_is_channel_data() -> None:
    (data,) = messages("30-outbound-connect-reply.raw")
    assert isinstance(data, ChannelData)
    assert isinstance(data, CommandReply)  # it fills the reply slot of `connect`
    assert data.text == "+OK"  # Reply-Text: %2BOK%0A, decoded
    assert data.ok and not data.is_error
    assert data.unique_id == CHANNEL
    assert data.channel_name == "loopback/9196-a"
    assert data.get("Channel-Caller-ID-Name") == "Outbound Call"  # %20 decoded
    assert data.get("FreeSWITCH-IPv6") == "fd00::2"
    assert data.get("No-Such-Header") is None
    assert data.get("No-Such-Header", "") == ""
    assert data.variable("current_application_data") == "127.0.0.1:34253 async full"
    assert data.variable("socket_host") == "127.0.0.1"
    assert (data.socket_mode, data.control) == ("async", "full")
    assert data.get("Event-Name") == "CHANNEL_DATA"


def test_outbound_channel_data_decodes_undef_and_arrays() -> None:
    frame = command_reply(
        "%2BOK%0A",
        [
            ("Event-Name", "CHANNEL_DATA"),
            ("Unique-ID", "u1"),
            ("variable_empty", "_undef_"),
            ("variable_list", "ARRAY::a%20b|:c"),
        ],
    )
    parser = FrameParser()
    parser.feed(frame)
    (data,) = [classify(f) for f in parser.frames()]
    assert isinstance(data, ChannelData)
    assert data.variable("empty") == ""
    assert data.get_all("variable_list") == ["a b", "c"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("31-outbound-myevents-reply.raw", "+OK Events Enabled"),
        ("32-outbound-linger-reply.raw", "+OK will linger"),
        ("33-outbound-sendmsg-reply.raw", "+OK"),
    ],
)
def test_outbound_replies_are_plain_command_replies(name: str, text: str) -> None:
    (reply,) = messages(name)
    assert type(reply) is CommandReply
    assert reply.text == text and reply.ok


def test_outbound_after_hangup_stream() -> None:
    first, *events, last = messages("34-outbound-after-hangup-stream.raw")
    assert type(first) is CommandReply and first.ok
    assert events and all(isinstance(e, ChannelEvent) for e in events)
    assert {e.unique_id for e in events if isinstance(e, ChannelEvent)} == {CHANNEL}
    assert isinstance(last, DisconnectNotice)
    assert last.is_linger
    assert last.headers.get("Controlled-Session-UUID") == CHANNEL


# -- the outbound verbs, exact bytes and read back -----------------------------------------------

OUTBOUND_VERBS = [
    (Connect(), b"connect\n\n"),
    (MyEvents(), b"myevents\n\n"),
    (MyEvents(format="json"), b"myevents json\n\n"),
    (Resume(), b"resume\n\n"),
    (SendMsg(headers=[("call-command", "execute")]), b"sendmsg\ncall-command: execute\n\n"),
    (
        SendMsg.execute(None, "answer"),
        b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n",
    ),
]


@pytest.mark.parametrize(("command", "wire"), OUTBOUND_VERBS, ids=lambda x: repr(x)[:40])
def test_outbound_verbs_exact_bytes_and_read_back(command: Command, wire: bytes) -> None:
    assert command.to_bytes() == wire
    reader = CommandReader()
    reader.receive_data(wire)
    assert reader.next_command() == command


def test_outbound_myevents_format_word_is_never_a_uuid() -> None:
    assert parse_command("myevents JSON") == MyEvents(format="json")
    assert parse_command("myevents u1 json") == MyEvents("u1", "json")
    with pytest.raises(ValueError, match="event format"):
        MyEvents("json")


def test_existing_sendmsg_callers_keep_working() -> None:
    assert SendMsg("u1", {"call-command": "hangup"}).to_bytes() == (
        b"sendmsg u1\ncall-command: hangup\n\n"
    )
    assert SendMsg.execute("u1", "park").uuid == "u1"
    assert SendMsg().uuid is None
