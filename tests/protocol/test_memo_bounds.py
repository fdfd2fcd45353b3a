"""Issue 9 item 2: the decoder memos cannot hold a peer's data hostage after the events are gone.

The percent-decoding memo and the plain-line memo are process-wide (they speed up every
connection), so they outlive the events and the runtime. They must be bounded by size: these
tests send the attack from the issue and measure, with tracemalloc, what is still allocated once
every event has been dropped.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import pytest

from esl_trio.protocol import EventFormat, FrameParser, _events, _percent, classify
from esl_trio.protocol._events import Event
from esl_trio.protocol.server import event_frame

MiB = 1024 * 1024
#: What the memos may keep in the worst case (documented: about 3 MB + about 7 MB).
RETAINED_LIMIT = 12 * MiB


def _clear_memos() -> None:
    _events._PLAIN_LINES.clear()
    _percent._MEMO.clear()


def hostile_frames(count: int, value_bytes: int) -> Iterator[bytes]:
    """Plain events whose routing fields carry a unique, percent-encoded value each.

    Encoded by hand (``event_frame`` encodes byte by byte in Python, too slow for 300 MB). One
    ``%20`` is enough to make a value go through the percent decoder and its memo.
    """
    for i in range(count):
        tag = f"%20{i:08d}"
        encoded = "x" * (value_bytes - len(tag)) + tag
        payload = (
            f"Event-Name: CUSTOM%20{encoded}\nUnique-ID: {encoded}\nX-Data: {encoded}\n\n"
        ).encode()
        yield b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(payload), payload)


def retained_after(frames: Iterator[bytes], *, full: bool) -> int:
    """Bytes still allocated after routing (and maybe decoding) every frame, then dropping it."""
    _clear_memos()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        parser = FrameParser()
        for data in frames:
            parser.feed(data)
            for frame in parser.frames():
                event = classify(frame)
                assert isinstance(event, Event)
                _ = event.name, event.unique_id, event.subclass
                if full:
                    _ = event.headers.items()
            del data
        del parser
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
        _clear_memos()


@pytest.mark.parametrize("full", [False, True], ids=["routing", "full decode"])
def test_issue9_item2_unique_64k_values_leave_little_behind(full: bool) -> None:
    """1 500 events with a unique 64 KiB value each: ~188 MiB were kept before the bound."""
    retained = retained_after(hostile_frames(1500, 64 * 1024), full=full)
    assert retained < RETAINED_LIMIT, f"{retained / MiB:.1f} MiB retained"


def test_issue9_item2_unique_1mib_values_leave_little_behind() -> None:
    """Megabyte values: 40 of them kept would be 80+ MiB (value and decoded copy)."""
    retained = retained_after(hostile_frames(40, 1024 * 1024), full=True)
    assert retained < RETAINED_LIMIT, f"{retained / MiB:.1f} MiB retained"


def test_issue9_item2_short_repeated_values_are_still_memoised() -> None:
    """The bound must not switch the memos off for the traffic they exist for."""
    _clear_memos()
    frame = event_frame(
        EventFormat.PLAIN,
        [("Event-Name", "CHANNEL_ANSWER"), ("Event-Date-Local", "2026-11-26 11:00:32")],
    )
    parser = FrameParser()
    parser.feed(frame)
    (decoded,) = [classify(f) for f in parser.frames()]
    assert isinstance(decoded, Event)
    assert decoded.get("Event-Date-Local") == "2026-11-26 11:00:32"
    assert "Event-Date-Local: 2026-11-26%2011%3A00%3A32" in _events._PLAIN_LINES
    _clear_memos()


def test_issue9_item2_memos_never_exceed_their_entry_bound() -> None:
    _clear_memos()
    lines = [("Event-Name", "CUSTOM")] + [
        (f"H{i}", f"v {i}") for i in range(_events._PLAIN_LINES_MAX + 10)
    ]
    parser = FrameParser()
    parser.feed(event_frame(EventFormat.PLAIN, lines))
    (event,) = [classify(f) for f in parser.frames()]
    assert isinstance(event, Event)
    assert len(event.headers) == len(lines)
    assert len(_events._PLAIN_LINES) <= _events._PLAIN_LINES_MAX
    for i in range(_percent.MEMO_MAX_ENTRIES + 10):
        _percent.decode_value(f"v%20{i}")
    assert len(_percent._MEMO) <= _percent.MEMO_MAX_ENTRIES
    _clear_memos()
