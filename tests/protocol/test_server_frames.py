"""The server-role builders write FreeSWITCH's bytes exactly (fake server fidelity)."""

from __future__ import annotations

import pytest

from esl_trio.protocol import Event, EventFormat, LocalProtocolError, classify
from esl_trio.protocol.server import (
    api_response,
    auth_request,
    command_reply,
    disconnect_notice,
    event_frame,
    log_data,
)
from tests._fixtures import FIXTURES, frames_of, raw

EVENT_FILES = sorted(
    p.relative_to(FIXTURES).as_posix()
    for p in FIXTURES.rglob("*.raw")
    if (p.name.startswith(("05", "06", "07", "10", "11", "24")) or p.parent.name == "same-event")
)


@pytest.mark.parametrize("name", EVENT_FILES)
def test_event_frames_are_byte_exact_B_EVT_1_9_12(name: str) -> None:
    """Decode a recorded event and encode it back: the bytes must be identical."""
    data = raw(name)
    (frame,) = frames_of(data)
    event = classify(frame)
    assert isinstance(event, Event)
    assert event_frame(event.format, event.headers.items(), event.body) == data


@pytest.mark.parametrize("name", EVENT_FILES)
def test_each_event_reencodes_losslessly_in_every_format(name: str) -> None:
    event = classify(frames_of(raw(name))[0])
    assert isinstance(event, Event)
    for fmt in EventFormat:
        again = classify(frames_of(event_frame(fmt, event.headers.items(), event.body))[0])
        assert isinstance(again, Event)
        assert again.headers == event.headers and again.body == event.body


def test_reply_frames_are_byte_exact() -> None:
    assert auth_request() == raw("01a-auth-request.raw")
    assert command_reply("+OK accepted") == raw("01b-auth-reply.raw")
    job = "95a4435d-79aa-4269-b68a-f292cdfd6308"
    assert command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]) == raw("04-bgapi-reply.raw")
    assert api_response(frames_of(raw("02-api-status-reply.raw"))[0].body) == raw(
        "02-api-status-reply.raw"
    )
    assert command_reply("-ERR invalid") + disconnect_notice() == raw("20-auth-failure-reply.raw")
    assert command_reply("+OK bye") + disconnect_notice() == raw("12-exit-tail.raw")


def test_log_data_layout_matches_recording_B_CT_3() -> None:
    recorded = frames_of(raw("26-log-data.raw"))[0]
    built = frames_of(log_data(recorded.body.decode(), level=6, line=7247))[0]
    assert [n for n, _ in built.headers.items()] == [n for n, _ in recorded.headers.items()]
    assert built.body == recorded.body


def test_builders_refuse_line_breaks() -> None:
    with pytest.raises(LocalProtocolError):
        command_reply("+OK\nContent-Type: api/response")
