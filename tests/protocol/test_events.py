"""Event decoding: plain, json, xml as FreeSWITCH really emits them (B-EVT-1…13)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_trio.protocol import (
    BackgroundJobEvent,
    ChannelEvent,
    CustomEvent,
    Event,
    EventDecodeError,
    EventFormat,
    HeartbeatEvent,
    classify,
    make_event,
)
from esl_trio.protocol.server import encode_event
from tests._fixtures import FIXTURES, one_frame

SAME_EVENTS = sorted({p.name.split(".")[0] for p in (FIXTURES / "same-event").glob("*.raw")})
CHANNEL_FILES = sorted(p.name for p in FIXTURES.glob("07-channel_*-event-plain.raw"))


def fixture_event(name: str) -> Event:
    message = classify(one_frame(name))
    assert isinstance(message, Event)
    return message


def eager(event: Event) -> Event:
    """The same payload, fully decoded before any field is read."""
    copy = make_event(event.format, event.raw)
    copy.headers
    return copy


@pytest.mark.parametrize("name", SAME_EVENTS)
def test_same_event_in_three_formats_decodes_identically_B_EVT_1_9_12(name: str) -> None:
    plain, js, xml = (
        fixture_event(f"same-event/{name}.{fmt}.raw") for fmt in ("plain", "json", "xml")
    )
    assert plain.headers.items() == js.headers.items() == xml.headers.items()
    assert plain.body == js.body == xml.body
    assert plain.name == js.name == xml.name
    assert plain.sequence == js.sequence == xml.sequence


def test_repeated_header_kept_in_every_format_B_EVT_4() -> None:
    for fmt in ("plain", "json", "xml"):
        event = fixture_event(f"same-event/channel_hangup_complete.{fmt}.raw")
        assert event.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
        assert event.get("hangup-cause") == "NORMAL_CLEARING"


@pytest.mark.parametrize("name", CHANNEL_FILES)
def test_channel_events_are_typed_and_decoded_B_EVT_1(name: str) -> None:
    event = fixture_event(name)
    assert isinstance(event, ChannelEvent)
    assert event.name.startswith("CHANNEL_")
    assert event.unique_id == event.get("Unique-ID")
    assert event.channel_name == event.get("Channel-Name")
    assert event.get("Event-Date-Local") is not None
    assert "%" not in (event.get("Event-Date-Local") or "")  # URL-decoded
    assert event.body == b""


def test_plain_values_are_percent_decoded_only_B_EVT_5() -> None:
    event = make_event(EventFormat.PLAIN, b"Event-Name: X\nA: a%2Bb+c%zz%4\nB: %C3%A9\n\n")
    assert event["A"] == "a+b+c%zz%4"
    assert event["B"] == "é"


def test_undef_is_empty_B_EVT_3() -> None:
    event = make_event(EventFormat.PLAIN, b"Event-Name: X\nEmpty: _undef_\n\n")
    assert event.get("Empty") == ""


def test_array_values_become_repeated_values_B_EVT_4() -> None:
    payload = b"Event-Name: X\nList: ARRAY%3A%3Aone%7C%3Atwo%7C%3A\nAfter: 1\n\n"
    event = make_event(EventFormat.PLAIN, payload)
    assert event.get_all("List") == ["one", "two", ""]
    assert event.get("list") == "one"
    assert [n for n, _ in event.headers.items()] == ["Event-Name", "List", "List", "List", "After"]


def test_plain_body_with_inner_content_length_B_EVT_1_B_EVT_6() -> None:
    event = fixture_event("05-background-job-event-plain.raw")
    assert isinstance(event, BackgroundJobEvent)
    assert len(event.body) == 365
    assert "Content-Length" not in event.headers
    assert event.job_command == "status"
    assert event.result.startswith("UP 0 years")
    assert not event.ok  # B-BGW-8: status output is plain text


def test_plain_body_may_contain_blank_lines_B_EVT_6() -> None:
    body = b"line1\n\nline3\n\n"
    payload = b"Event-Name: CUSTOM\nEvent-Subclass: a%3A%3Ab\nContent-Length: 14\n\n" + body
    event = make_event(EventFormat.PLAIN, payload)
    assert isinstance(event, CustomEvent)
    assert event.subclass == "a::b"
    assert event.body == body


def test_sendevent_keeps_its_own_content_length_header_B_CMD_6() -> None:
    event = fixture_event("24-custom-event-plain-with-body.raw")
    assert isinstance(event, CustomEvent)
    assert event.subclass == "my::test"
    assert event.get("content-length") == "21"
    assert event.body == b"hello from sendevent\n"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"Event-Name: X\nNo-Terminator: 1\n", "blank line"),
        (b"Event-Name: X\nbroken line\n\n", "without a colon"),
        (b"Event-Name: X\nContent-Length: 5\n\nabc", "does not match"),
        (b"Event-Name: X\nContent-Length: x\n\nabc", "does not match"),
    ],
)
def test_undecodable_plain_payload_is_not_a_protocol_error_B_EVT_6(
    payload: bytes, reason: str
) -> None:
    event = make_event(EventFormat.PLAIN, payload)
    assert event.name == "X"  # routing still works
    assert event.decode_error is not None
    assert reason in str(event.decode_error)
    with pytest.raises(EventDecodeError):
        event.headers
    assert event.raw == payload


def test_json_body_and_header_values_B_EVT_9_B_EVT_11() -> None:
    event = fixture_event("10-background-job-event-json.raw")
    assert isinstance(event, BackgroundJobEvent)
    assert event.get("FreeSWITCH-IPv6") == "fd00::2"
    assert event.body.startswith(b"UP 0 years")
    assert len(event.body) == 364
    assert "_body" not in event.headers and "Content-Length" not in event.headers


def test_json_arrays_newlines_and_duplicates_B_EVT_10() -> None:
    payload = (
        b'{"Event-Name":"X","Arr":["a","b"],"Sdp":"v=0\\r\\no=- 1\\n",'
        b'"Dup":"1","Dup":"2","Num":5,"Null":null}'
    )
    event = make_event(EventFormat.JSON, payload)
    assert event.get_all("Arr") == ["a", "b"]
    assert event["Sdp"] == "v=0\r\no=- 1\n"
    assert event.get_all("Dup") == ["1", "2"]
    assert event["Num"] == "5"
    assert event["Null"] == ""


@pytest.mark.parametrize(
    "payload",
    [
        b'["not", "an", "object"]',
        b'{"Event-Name":"X","Nested":{"a":"b"}}',
        b'{"Event-Name":"X","Content-Length":"3","_body":"abcd"}',
        b'{"Event-Name":"X",',
    ],
)
def test_undecodable_json_payload_B_EVT_10(payload: bytes) -> None:
    event = make_event(EventFormat.JSON, payload)
    assert isinstance(event.decode_error, EventDecodeError)


def test_xml_values_decoded_and_body_trimmed_to_content_length_B_EVT_12() -> None:
    event = fixture_event("11-background-job-event-xml.raw")
    assert isinstance(event, BackgroundJobEvent)
    assert event.get("FreeSWITCH-IPv6") == "fd00::2"
    assert event.get("Event-Date-Local") == "2026-11-26 11:00:32"
    assert len(event.body) == 109
    assert event.body.endswith(b"64bit)\n")  # the two padding spaces are not body


def test_ill_formed_xml_is_an_undecodable_event_B_EVT_12() -> None:
    payload = b"<event><headers><Event-Name>CUSTOM</Event-Name></headers><body><!x</body></event>"
    event = make_event(EventFormat.XML, payload)
    assert event.decode_error is not None
    assert event.name == ""
    assert event.raw == payload


def test_percent_41_is_lossy_in_plain_but_exact_in_json_B_EVT_2() -> None:
    headers = [("Event-Name", "CUSTOM"), ("Event-Subclass", "a::b"), ("Literal", "x%41y%2b")]
    plain = make_event(EventFormat.PLAIN, encode_event(EventFormat.PLAIN, headers))
    js = make_event(EventFormat.JSON, encode_event(EventFormat.JSON, headers))
    assert plain["Literal"] == "xAy%2b"  # FreeSWITCH's no-double-encode quirk
    assert js["Literal"] == "x%41y%2b"


def test_multibyte_values_and_bodies_count_bytes_B_EVT_1() -> None:
    headers = [("Event-Name", "CUSTOM"), ("Event-Subclass", "x::y"), ("Name", "Zoë ☎")]
    body = "héllo ☎".encode()
    for fmt in EventFormat:
        event = make_event(fmt, encode_event(fmt, headers, body))
        assert event.headers.items() == tuple(headers)
        assert event.body == body


def test_typed_families_and_unknown_names_B_CORE_EV_2() -> None:
    heartbeat = fixture_event("06-heartbeat-event-plain.raw")
    assert isinstance(heartbeat, HeartbeatEvent)
    assert heartbeat.session_count is not None
    unknown = make_event(EventFormat.PLAIN, b"Event-Name: PRESENCE_IN\n\n")
    assert type(unknown) is Event
    nameless = make_event(EventFormat.PLAIN, b"Other: 1\n\n")
    assert nameless.name == ""


def test_background_job_ok_heuristic_B_BGW_8() -> None:
    ok = make_event(EventFormat.PLAIN, encode_event(EventFormat.PLAIN, _job(), b"+OK abc\n"))
    err = make_event(EventFormat.PLAIN, encode_event(EventFormat.PLAIN, _job(), b"-ERR NO\n"))
    assert isinstance(ok, BackgroundJobEvent) and isinstance(err, BackgroundJobEvent)
    assert ok.ok and not err.ok
    assert ok.job_uuid == "j-1"


def _job() -> list[tuple[str, str]]:
    return [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "j-1"), ("Job-Command", "originate")]


def test_to_dict_is_json_ready() -> None:
    event = fixture_event("same-event/channel_hangup_complete.plain.raw")
    data = event.to_dict()
    assert data["Hangup-Cause"] == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
    assert data["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"


def test_equality_and_repr() -> None:
    a = fixture_event("06-heartbeat-event-plain.raw")
    b = fixture_event("06-heartbeat-event-plain.raw")
    assert a == b and hash(a) == hash(b)
    assert "HEARTBEAT" in repr(a)


# -- lazy decoding gives exactly what eager decoding gives ---------------------------

header_names = st.from_regex(r"[A-Z][A-Za-z0-9-]{0,12}", fullmatch=True).filter(
    lambda n: n.lower() not in {"content-length", "event-name"}
)
header_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
routing_names = ["Unique-ID", "Job-UUID", "Event-Subclass", "Event-Sequence", "Core-UUID"]


@st.composite
def events(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bytes]:
    name = draw(st.sampled_from(["CHANNEL_ANSWER", "BACKGROUND_JOB", "CUSTOM", "HEARTBEAT", "X"]))
    pairs = [("Event-Name", name)]
    extra = st.tuples(st.sampled_from(routing_names) | header_names, header_values)
    pairs += draw(st.lists(extra, max_size=8))
    draw(st.randoms()).shuffle(pairs)
    # Bodies are text: json carries a string and xml cannot hold control characters.
    text = st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\n")
    body = draw(st.text(alphabet=text, max_size=40)).encode()
    return pairs, body


@settings(max_examples=300, deadline=None)
@given(events(), st.sampled_from(list(EventFormat)))
def test_lazy_fields_equal_eager_decoding(
    generated: tuple[list[tuple[str, str]], bytes], fmt: EventFormat
) -> None:
    pairs, body = generated
    lazy = make_event(fmt, encode_event(fmt, pairs, body))
    full = eager(lazy)
    assert lazy.name == (full.get("Event-Name") or "")
    assert lazy.subclass == full.get("Event-Subclass")
    assert lazy.unique_id == full.get("Unique-ID")
    assert lazy.job_uuid == full.get("Job-UUID")
    assert lazy.core_uuid == full.get("Core-UUID")
    assert lazy.sequence == full.sequence
    assert type(lazy) is type(full)


@settings(max_examples=300, deadline=None)
@given(events())
def test_json_round_trip_is_lossless_B_EVT_9(
    generated: tuple[list[tuple[str, str]], bytes],
) -> None:
    pairs, body = generated
    event = make_event(EventFormat.JSON, encode_event(EventFormat.JSON, pairs, body))
    assert event.headers.items() == tuple(pairs)
    assert event.body == body


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(list(EventFormat)))
def test_any_payload_gives_an_event_never_an_exception(data: bytes, fmt: EventFormat) -> None:
    event = make_event(fmt, data)
    assert isinstance(event.name, str)
    error = event.decode_error
    if error is None:
        assert all(isinstance(v, str) for _, v in event.headers.items())
    else:
        assert isinstance(error, EventDecodeError)
