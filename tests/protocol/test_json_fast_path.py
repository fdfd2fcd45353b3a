"""Issue 8 item 16: no performance cliff for json spaced the way ``json.dumps`` writes it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_trio.protocol import (
    BackgroundJobEvent,
    ChannelEvent,
    Event,
    EventFormat,
    _events,
    make_event,
)

UUID = "0b7f0c3e-6a4e-4f1e-9a55-4b0a2f7d1c11"
PAIRS = [
    ("Event-Name", "CHANNEL_ANSWER"),
    ("Core-UUID", "c0"),
    ("Unique-ID", UUID),
    ("Event-Sequence", "518"),
    ("Caller-Caller-ID-Name", "Alice"),
]

LAYOUTS: dict[str, dict[str, Any]] = {
    "freeswitch": {"separators": (",", ":")},
    "json.dumps": {},  # ", " and ": "
    "indented": {"indent": 2},
    "tabs": {"indent": "\t", "separators": (",", ":\t")},
}


def dump(pairs: list[tuple[str, str]], **options: Any) -> bytes:
    return json.dumps(dict(pairs), ensure_ascii=False, **options).encode()


def decoded(event: Event) -> bool:
    return event._headers is not None or event._error is not None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_issue8_item16_routing_fields_without_a_full_decode(layout: str) -> None:
    event = make_event(EventFormat.JSON, dump(PAIRS, **LAYOUTS[layout]))
    assert isinstance(event, ChannelEvent)
    assert (event.name, event.unique_id, event.core_uuid, event.sequence) == (
        "CHANNEL_ANSWER",
        UUID,
        "c0",
        518,
    )
    assert event.job_uuid is None  # absent: found by the full decoder, correctly
    assert decoded(event)
    fresh = make_event(EventFormat.JSON, dump(PAIRS, **LAYOUTS[layout]))
    _ = fresh.name, fresh.unique_id, fresh.core_uuid, fresh.sequence
    assert not decoded(fresh)  # the cliff: every spaced event used to be fully decoded


def test_issue8_item16_one_event_object_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name only the full decoder can read (an escape) still builds a single Event."""
    built = []
    original = Event.__init__

    def counting(self: Event, *args: object, **kwargs: object) -> None:
        built.append(type(self))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_events.Event, "__init__", counting)
    payload = b'{"Event-Name": "BACKGROUND\\u005fJOB", "Job-UUID": "j1", "_body": "+OK"}'
    event = make_event(EventFormat.JSON, payload)
    assert isinstance(event, BackgroundJobEvent)
    assert (event.name, event.job_uuid, event.result) == ("BACKGROUND_JOB", "j1", "+OK")
    assert len(built) == 1


header_names = st.sampled_from(["Event-Name", "Unique-ID", "Job-UUID", "Core-UUID", "X"])
values = st.text(max_size=12) | st.sampled_from(['a"b', "a\\b", "é", "", " ", '":"'])


@given(
    pairs=st.lists(st.tuples(header_names, values), max_size=6),
    layout=st.sampled_from(sorted(LAYOUTS)),
    noise=st.sampled_from(["", '"Event-Name": "x"', "Unique-ID"]),
)
def test_issue8_item16_fast_path_agrees_with_the_full_decoder(
    pairs: list[tuple[str, str]], layout: str, noise: str
) -> None:
    """Whatever the spacing and the values (quotes, escapes, look-alike text), the cheap
    lookups give exactly what decoding everything gives."""
    members = dict(pairs)
    members["Noise"] = noise  # a value that looks like a member must not be mistaken for one
    payload = dump(list(members.items()), **LAYOUTS[layout])
    cheap = make_event(EventFormat.JSON, payload)
    got = (cheap.name, cheap.unique_id, cheap.job_uuid, cheap.core_uuid)
    full = make_event(EventFormat.JSON, payload)
    headers = full.headers
    expected = (
        headers.get("Event-Name", ""),
        headers.get("Unique-ID"),
        headers.get("Job-UUID"),
        headers.get("Core-UUID"),
    )
    assert got == expected
