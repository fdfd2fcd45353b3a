"""Framing of the server → client stream (B-FRAME-1…13)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_trio.protocol import (
    Frame,
    FrameParser,
    Headers,
    RemoteProtocolError,
    TruncatedFrameError,
)
from tests._fixtures import frames_of, raw, raw_files

TRANSCRIPT_FILES = [name for name in raw_files() if not name.startswith("30-")]


def feed_in_chunks(data: bytes, sizes: list[int], **limits: int) -> list[Frame]:
    parser = FrameParser(**limits)
    frames: list[Frame] = []
    pos = 0
    for size in sizes:
        if chunk := data[pos : pos + size]:  # b"" would mean end of stream
            parser.feed(chunk)
        pos += size
        frames.extend(parser.frames())
    if rest := data[pos:]:
        parser.feed(rest)
    parser.feed(b"")
    frames.extend(parser.frames())
    return frames


def all_fixture_bytes() -> bytes:
    return b"".join(raw(name) for name in TRANSCRIPT_FILES)


def test_every_recorded_frame_parses_B_FRAME_1() -> None:
    frames = frames_of(all_fixture_bytes())
    assert len(frames) >= len(TRANSCRIPT_FILES)
    assert all(frame.content_type for frame in frames)


def test_api_response_body_is_content_length_bytes_B_FRAME_1() -> None:
    (frame,) = frames_of(raw("02-api-status-reply.raw"))
    assert frame.content_type == "api/response"
    assert len(frame.body) == int(frame.headers["Content-Length"]) == 365
    assert frame.body.startswith(b"UP 0 years")


def test_no_content_length_means_no_body_B_FRAME_2() -> None:
    (frame,) = frames_of(raw("01b-auth-reply.raw"))
    assert frame.body == b""
    assert frame.headers.get("Reply-Text") == "+OK accepted"


def test_header_split_on_first_colon_space_B_FRAME_3() -> None:
    (frame,) = frames_of(b"A: b: c\nX:y\nUrl: http://h:1/\n\n")
    assert frame.headers.items() == (("A", "b: c"), ("X", "y"), ("Url", "http://h:1/"))


@pytest.mark.parametrize(
    "block", [b"no colon here\n\n", b": empty name\n\n", b" Padded: x\n\n", b"Padded : x\n\n"]
)
def test_malformed_header_line_is_remote_error_B_FRAME_3(block: bytes) -> None:
    parser = FrameParser()
    parser.feed(block)
    with pytest.raises(RemoteProtocolError):
        parser.next_frame()


def test_headers_case_insensitive_and_repeated_B_FRAME_4() -> None:
    (frame,) = frames_of(b"Content-Type: command/reply\nX-A: 1\nx-a: 2\n\n")
    assert frame.headers.get("CONTENT-TYPE") == "command/reply"
    assert frame.headers.get_all("X-a") == ["1", "2"]
    assert frame.headers["x-A"] == "1"
    assert frame.content_type == "command/reply"


def test_outer_values_not_url_decoded_B_FRAME_5() -> None:
    (frame,) = frames_of(b"Reply-Text: %2BOK%0A\n\n")
    assert frame.headers["Reply-Text"] == "%2BOK%0A"


@pytest.mark.parametrize("value", [b"-1", b"+5", b" 5", b"5 ", b"0x10", b"abc", b"\xd9\xa3"])
def test_content_length_must_be_ascii_digits_B_FRAME_6(value: bytes) -> None:
    parser = FrameParser()
    parser.feed(b"Content-Length: " + value + b"\n\n")
    with pytest.raises(RemoteProtocolError):
        parser.next_frame()


def test_content_length_zero_and_leading_zeros_B_FRAME_6() -> None:
    frames = frames_of(b"Content-Length: 0\n\nContent-Length: 003\n\nabc")
    assert [f.body for f in frames] == [b"", b"abc"]


def test_body_length_counts_bytes_not_characters_B_FRAME_1() -> None:
    body = "héllo ☎\n\n".encode()
    (frame,) = frames_of(b"Content-Length: %d\n\n" % len(body) + body)
    assert frame.body == body


def test_byte_at_a_time_equals_one_read_B_FRAME_7() -> None:
    data = all_fixture_bytes()
    assert feed_in_chunks(data, [1] * len(data)) == frames_of(data)


@pytest.mark.parametrize("seed", range(20))
def test_random_split_points_equal_one_read_B_FRAME_7(seed: int) -> None:
    data = all_fixture_bytes()
    rng = random.Random(seed)
    sizes = [rng.randint(1, 700) for _ in range(len(data) // 300)]
    assert feed_in_chunks(data, sizes) == frames_of(data)


@pytest.mark.parametrize("name", TRANSCRIPT_FILES)
def test_every_split_point_of_each_frame_type_B_FRAME_7(name: str) -> None:
    """Chunk-boundary test (h11 style): each recorded frame split at every byte."""
    data = raw(name)
    expected = frames_of(data)
    step = max(1, len(data) // 400)  # keep the big files affordable
    for cut in range(0, len(data) + 1, step):
        assert feed_in_chunks(data, [cut]) == expected, cut


def test_eof_inside_header_block_is_truncation_B_FRAME_8() -> None:
    parser = FrameParser()
    parser.feed(b"Content-Type: command/rep")
    assert parser.next_frame() is None
    parser.feed(b"")
    with pytest.raises(TruncatedFrameError):
        parser.next_frame()


def test_eof_inside_body_is_truncation_B_FRAME_8_B_DISC_4() -> None:
    parser = FrameParser()
    parser.feed(b"Content-Length: 10\n\nabc")
    assert parser.next_frame() is None
    parser.feed(b"")
    with pytest.raises(TruncatedFrameError, match="7 bytes short"):
        parser.next_frame()


def test_clean_eof_B_FRAME_8() -> None:
    parser = FrameParser()
    parser.feed(raw("01a-auth-request.raw"))
    parser.feed(b"")
    assert parser.next_frame() is not None
    assert parser.next_frame() is None
    assert parser.at_eof


def test_bare_blank_line_is_frame_without_headers_B_FRAME_9() -> None:
    (frame,) = frames_of(b"\n\n")
    assert frame.headers == Headers()
    assert frame.body == b""
    assert frame.content_type == ""


@pytest.mark.parametrize("terminator", [b"\n\n", b"\n\r\n", b"\r\n\r\n"])
def test_lf_and_lf_cr_lf_terminators_B_FRAME_10(terminator: bytes) -> None:
    line_end = b"\r\n" if terminator.startswith(b"\r") else b"\n"
    data = b"Content-Type: api/response" + line_end + b"Content-Length: 2" + terminator + b"ok"
    (frame,) = frames_of(data)
    assert frame.content_type == "api/response"
    assert frame.body == b"ok"


def test_body_over_limit_is_remote_error_B_FRAME_11() -> None:
    parser = FrameParser(max_body_bytes=100)
    parser.feed(b"Content-Length: 101\n\n")
    with pytest.raises(RemoteProtocolError, match="exceeds the limit of 100"):
        parser.next_frame()


def test_default_body_limit_is_16_mib_B_FRAME_11() -> None:
    parser = FrameParser()
    parser.feed(b"Content-Length: %d\n\n" % (16 * 1024 * 1024 + 1))
    with pytest.raises(RemoteProtocolError):
        parser.next_frame()


def test_two_gib_content_length_rejected_before_buffering_B_FRAME_11() -> None:
    parser = FrameParser()
    parser.feed(b"Content-Length: 2147483648\nContent-Type: text/event-plain\n\n")
    with pytest.raises(RemoteProtocolError):
        parser.next_frame()


def test_endless_header_block_is_bounded_B_FRAME_11() -> None:
    parser = FrameParser(max_header_bytes=1024)

    def hostile_peer() -> None:
        for _ in range(100):
            parser.feed(b"X-Junk: " + b"a" * 50 + b"\n")
            parser.next_frame()

    with pytest.raises(RemoteProtocolError, match="exceeds the limit"):
        hostile_peer()
    assert parser.buffered_bytes < 2048


def test_header_limit_applies_to_complete_blocks_too_B_FRAME_11() -> None:
    parser = FrameParser(max_header_bytes=64)
    parser.feed(b"X: " + b"a" * 100 + b"\n\n")
    with pytest.raises(RemoteProtocolError):
        parser.next_frame()


def test_errors_are_sticky_B_FRAME_12() -> None:
    parser = FrameParser()
    parser.feed(b"garbage\n\n" + raw("01a-auth-request.raw"))
    with pytest.raises(RemoteProtocolError) as first:
        parser.next_frame()
    with pytest.raises(RemoteProtocolError) as second:
        parser.next_frame()
    assert second.value is first.value
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"more")


def test_header_order_is_not_significant_B_FRAME_13() -> None:
    a = frames_of(b"Content-Length: 2\nContent-Type: api/response\n\nhi")[0]
    b = frames_of(b"Content-Type: api/response\nContent-Length: 2\n\nhi")[0]
    assert (a.content_type, a.body) == (b.content_type, b.body)


def test_many_frames_in_one_read_are_not_copied_per_frame() -> None:
    """A 256 KiB read holding ~70 events compacts the buffer once, not per frame."""
    event = raw("07-channel_create-event-plain.raw")
    data = event * 70
    parser = FrameParser()
    parser.feed(data)
    frames = list(parser.frames())
    assert len(frames) == 70
    assert parser.buffered_bytes == 0
    # The consumed prefix is still in place until the next feed compacts it, once.
    assert len(parser._rb.data) == len(data)
    parser.feed(b"Content-Type: auth/request\n")
    assert len(parser._rb.data) == len(b"Content-Type: auth/request\n")


def test_trickled_header_is_scanned_linearly() -> None:
    """Byte-at-a-time delivery must not rescan the whole buffer (slowloris)."""
    parser = FrameParser()
    for byte in b"X-Long: " + b"v" * 5000:
        parser.feed(bytes([byte]))
        assert parser.next_frame() is None
    assert parser._rb.scan >= 5000


frame_blocks = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
            lambda n: n.lower() != "content-length"
        ),
        st.from_regex(r"[ -~]{0,20}", fullmatch=True).map(str.strip),
    ),
    min_size=1,  # a frame with no header line at all is "\n\n", covered above
    max_size=5,
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[list[tuple[str, str]], bytes]]]:
    frames = draw(st.lists(st.tuples(frame_blocks, st.binary(max_size=80)), max_size=6))
    data = b""
    for pairs, body in frames:
        block = "".join(f"{n}: {v}\n" for n, v in pairs)
        length = f"Content-Length: {len(body)}\n" if body else ""
        data += (block + length + "\n").encode() + body
    return data, frames


@settings(max_examples=200, deadline=None)
@given(streams(), st.lists(st.integers(min_value=1, max_value=64), max_size=20))
def test_generated_streams_round_trip_under_any_chunking_B_FRAME_7(
    stream: tuple[bytes, list[tuple[list[tuple[str, str]], bytes]]], sizes: list[int]
) -> None:
    data, expected = stream
    frames = feed_in_chunks(data, sizes)
    assert [f.body for f in frames] == [body for _, body in expected]
    for frame, (pairs, body) in zip(frames, expected, strict=True):
        plain = [p for p in frame.headers.items() if p[0] != "Content-Length" or not body]
        assert plain == pairs


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=1, max_value=50), max_size=10))
def test_any_bytes_give_frames_or_protocol_error_B_FRAME_12(data: bytes, sizes: list[int]) -> None:
    """Hypothesis: arbitrary input never raises anything but RemoteProtocolError."""
    try:
        frames = feed_in_chunks(data, sizes, max_header_bytes=256, max_body_bytes=256)
    except RemoteProtocolError:
        return
    assert all(isinstance(f, Frame) for f in frames)
