"""Issue 9 items 7 and 8, issue 8 item 10: reply classification, bounded numbers, typed get()."""

from __future__ import annotations

import sys
from typing import assert_type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_trio.protocol import (
    ClientProtocol,
    CommandReply,
    EventDecodeError,
    EventFormat,
    FrameParser,
    HeartbeatEvent,
    LogLine,
    RemoteProtocolError,
    classify,
    make_event,
)
from esl_trio.protocol._numbers import MAX_DIGITS, parse_decimal
from esl_trio.protocol.server import command_reply, encode_event

LONG = "7" * 5001  # more digits than int() accepts (sys.get_int_max_str_digits() is 4300)


def frames(data: bytes) -> list[object]:
    parser = FrameParser()
    parser.feed(data)
    return [classify(frame) for frame in parser.frames()]


# -- item 7: every command/reply is a CommandReply ---------------------------------------------

reply_texts = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=60
) | st.sampled_from(["+OK", "-ERR", "+OK accepted", "-ERR invalid", "+", "-", "OK", "ERR x"])


@given(text=reply_texts)
def test_issue9_item7_any_reply_text_is_a_command_reply(text: str) -> None:
    (reply,) = frames(command_reply(text))
    assert type(reply) is CommandReply
    assert reply.text == text
    assert reply.ok == text.startswith("+OK")
    assert reply.is_error == text.startswith("-ERR")
    assert not (reply.ok and reply.is_error)
    assert reply.reason == (text[4:].lstrip() if reply.is_error else "")


def test_issue9_item7_a_value_reply_fills_exactly_one_reply_slot() -> None:
    """Outbound ``getvar`` answers with the bare value: still the reply to that command."""
    (reply,) = frames(b"Content-Type: command/reply\nReply-Text: 1000\n\n")
    assert isinstance(reply, CommandReply)
    assert (reply.text, reply.ok, reply.is_error) == ("1000", False, False)


# -- item 8: no bare ValueError from a long number ----------------------------------------------


def test_issue9_item8_int_really_refuses_long_strings() -> None:
    """The premise: without the bound, these fields would raise a bare ValueError."""
    assert sys.get_int_max_str_digits() < len(LONG)
    with pytest.raises(ValueError, match="digits"):
        int(LONG)


def test_issue9_item8_greeting_with_a_5000_digit_content_length() -> None:
    data = b"Content-Type: auth/request\nContent-Length: " + b"5" * 5000 + b"\n\n"
    with pytest.raises(RemoteProtocolError, match="not a number of at most 18 digits"):
        frames(data)
    client = ClientProtocol()
    client.receive_data(data)
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_issue9_item8_log_line_numeric_fields_are_none() -> None:
    data = (
        b"Content-Type: log/data\nContent-Length: 2\nLog-Level: "
        + LONG.encode()
        + b"\nLog-Line: "
        + LONG.encode()
        + b"\n\nhi"
    )
    (line,) = frames(data)
    assert isinstance(line, LogLine)
    assert line.level is None and line.line is None
    assert line.text == "hi"


@pytest.mark.parametrize("fmt", [EventFormat.PLAIN, EventFormat.JSON, EventFormat.XML])
def test_issue9_item8_event_sequence_and_session_count_are_none(fmt: EventFormat) -> None:
    payload = encode_event(
        fmt, [("Event-Name", "HEARTBEAT"), ("Event-Sequence", LONG), ("Session-Count", LONG)]
    )
    event = make_event(fmt, payload)
    assert isinstance(event, HeartbeatEvent)
    assert event.sequence is None
    assert event.session_count is None
    assert event.get("Event-Sequence") == LONG  # the text itself is still there


def test_issue9_item8_inner_content_length_too_long_is_a_decode_error() -> None:
    payload = b"Event-Name: CUSTOM\nContent-Length: " + LONG.encode() + b"\n\nbody"
    event = make_event(EventFormat.PLAIN, payload)
    assert isinstance(event.decode_error, EventDecodeError)
    json_payload = b'{"Event-Name":"CUSTOM","Content-Length":"' + LONG.encode() + b'","_body":"x"}'
    assert isinstance(make_event(EventFormat.JSON, json_payload).decode_error, EventDecodeError)


def test_issue9_item8_xml_content_length_too_long_keeps_the_body() -> None:
    xml = encode_event(EventFormat.XML, [("Event-Name", "CUSTOM")], b"body")
    assert b"<Content-Length>4<" in xml
    xml = xml.replace(b"<Content-Length>4<", b"<Content-Length>" + LONG.encode() + b"<")
    event = make_event(EventFormat.XML, xml)
    assert event.decode_error is None
    assert event.body == b"body"


digit_strings = st.text("0123456789", min_size=1, max_size=6000) | st.builds(
    lambda zeros, digits: "0" * zeros + digits,
    st.integers(0, 5000),
    st.text("0123456789", min_size=1, max_size=MAX_DIGITS + 2),
)


@given(digits=digit_strings)
def test_issue9_item8_any_digit_string_parses_or_is_refused(digits: str) -> None:
    """One rule everywhere: at most 18 significant digits is a number, anything else is not."""
    significant = digits.lstrip("0")
    expected = int(significant or "0") if len(significant) <= MAX_DIGITS else None
    assert parse_decimal(digits) == expected
    # framing: a number or a RemoteProtocolError, never a bare ValueError
    data = f"Content-Type: api/response\nContent-Length: {digits}\n\n".encode()
    parser = FrameParser(max_body_bytes=10**18)
    parser.feed(data)
    if expected is None:
        with pytest.raises(RemoteProtocolError):
            parser.next_frame()
    elif expected:
        assert parser.next_frame() is None  # waiting for the announced body
    else:
        frame = parser.next_frame()
        assert frame is not None and frame.body == b""
    # lazy event fields: an int or None
    event = make_event(
        EventFormat.PLAIN,
        encode_event(EventFormat.PLAIN, [("Event-Name", "HEARTBEAT"), ("Event-Sequence", digits)]),
    )
    assert event.sequence == expected
    (line,) = frames(f"Content-Type: log/data\nLog-Level: {digits}\n\n".encode())
    assert isinstance(line, LogLine)
    assert line.level == expected


@given(text=st.text(max_size=30))
def test_issue9_item8_parse_decimal_never_raises(text: str) -> None:
    value = parse_decimal(text)
    assert value is None or (value >= 0 and text.isascii() and text.isdigit())


# -- issue 8 item 10: get() with a str default is typed str -------------------------------------


def test_issue8_item10_get_with_str_default_is_str() -> None:
    event = make_event(EventFormat.PLAIN, encode_event(EventFormat.PLAIN, [("Event-Name", "X")]))
    cause = event.get("Hangup-Cause", "")
    assert_type(cause, str)  # checked by mypy (tests are type-checked); "" at run time
    assert cause == ""
    assert_type(event.get("Hangup-Cause"), str | None)
    assert event.get("Event-Name", "") == "X"
