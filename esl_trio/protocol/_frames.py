"""Incremental framing of the server → client byte stream.

Wire format (B-FRAME-1…13): a frame is a block of ``Name: Value`` lines ended by an empty
line, then exactly ``Content-Length`` body bytes when that header is present. FreeSWITCH ends
lines with a bare LF; we also accept CRLF lines and the LF-CR-LF terminator libesl accepts
(B-FRAME-10).

Strategy: bytes go into the shared :class:`~esl_trio.protocol._buffer.ReceiveBuffer`; a read
offset walks forward over complete frames and the consumed prefix is dropped in amortised O(1),
so a 256 KiB read holding 70 events costs at most one compaction, not 70 buffer copies. The
search for the header terminator resumes where the previous search stopped, so a peer trickling
bytes one at a time costs linear, not quadratic, work. Errors are sticky: after a
:class:`~esl_trio.protocol.RemoteProtocolError` the stream has no resynchronisation point
(replies have no ids), so every later call raises the same error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ._buffer import ReceiveBuffer
from ._errors import LocalProtocolError, RemoteProtocolError, TruncatedFrameError
from ._headers import Headers
from ._numbers import MAX_DIGITS, parse_decimal

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "Frame",
    "FrameParser",
    "encode_frame",
    "parse_header_block",
]

#: libesl reads header packets through a 64 KiB buffer (B-FRAME-11).
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
#: libesl's ESL_MAX_CONTENT_LENGTH: bigger bodies fail the connection (B-FRAME-11).
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


# Event frames dominate the stream; their header block is always exactly this (B-FRAME-13).
_EVENT_BLOCK = re.compile(
    rb"Content-Length: (\d{1,10})\nContent-Type: (text/event-(?:plain|json|xml))"
)
_EVENT_TYPES = {
    b"text/event-plain": "text/event-plain",
    b"text/event-json": "text/event-json",
    b"text/event-xml": "text/event-xml",
}


class Frame:
    """One outer frame: raw headers (never URL-decoded, B-FRAME-5) and body bytes."""

    __slots__ = ("body", "content_type", "headers")

    def __init__(self, headers: Headers, body: bytes, content_type: str) -> None:
        self.headers = headers
        self.body = body
        #: The Content-Type, trimmed and lower-cased (B-CT-1); "" when missing.
        self.content_type = content_type

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self.headers == other.headers and self.body == other.body

    def __hash__(self) -> int:
        return hash((self.headers, self.body))

    def __repr__(self) -> str:
        return (
            f"Frame({self.headers!r}, body={self.body[:64]!r}{'…' if len(self.body) > 64 else ''})"
        )


def parse_header_block(text: str) -> list[tuple[str, str]]:
    """Split a header block into pairs (B-FRAME-3).

    The name ends at the first ``": "``; a line with a colon but no space after it is
    tolerated (value left-trimmed). Trailing CR is dropped per line, empty lines are skipped.
    """
    pairs = []
    for line in text.split("\n"):
        name, sep, value = line.partition(": ")
        if not sep or not name or line[-1:] == "\r" or name != name.strip():
            if not line or line == "\r":
                continue
            name, value = _parse_unusual_line(line)
        pairs.append((name, value))
    return pairs


def _parse_unusual_line(line: str) -> tuple[str, str]:
    """The slow path: CRLF line ends, ``Name:value`` without a space, or an invalid name."""
    line = line.removesuffix("\r")
    name, sep, value = line.partition(": ")
    if not sep:
        name, sep, value = line.partition(":")
        if not sep:
            raise RemoteProtocolError(f"header line without a colon: {line[:80]!r}")
        value = value.lstrip()
    if not name or name != name.strip():
        raise RemoteProtocolError(f"invalid header name in line {line[:80]!r}")
    return name, value


def _framing_fields(pairs: list[tuple[str, str]], max_body: int) -> tuple[int, str]:
    """(Content-Length, lower-cased Content-Type) of a header block; (0, "") when absent."""
    length = -1
    ctype = None
    for name, value in pairs:
        key = name.lower()
        if key == "content-length" and length < 0:
            length = _parse_length(value, max_body)
        elif key == "content-type" and ctype is None:
            ctype = value.strip().lower()
    return max(length, 0), ctype or ""


def _parse_length(value: str, max_body: int) -> int:
    length = parse_decimal(value)
    if length is None:
        # Also catches a 5 000-digit value, which int() itself would refuse with a ValueError.
        raise RemoteProtocolError(
            f"Content-Length is not a number of at most {MAX_DIGITS} digits: {value[:40]!r}"
        )
    if length > max_body:
        raise RemoteProtocolError(f"Content-Length {length} exceeds the limit of {max_body} bytes")
    return length


class FrameParser:
    """Bytes in, :class:`Frame` objects out. No I/O.

    Feed bytes with :meth:`feed` (``b""`` means end of stream), then call :meth:`next_frame`
    until it returns ``None`` (or iterate :meth:`frames`).
    """

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if max_header_bytes < 1 or max_body_bytes < 0:
            raise ValueError("frame limits must be positive")
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._rb = ReceiveBuffer()
        # (headers, content type, body length, body start) of a frame awaiting its body
        self._pending: tuple[Headers, str, int, int] | None = None
        self._eof = False
        self._error: RemoteProtocolError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._rb)

    @property
    def at_eof(self) -> bool:
        """True once end of stream was fed."""
        return self._eof

    def feed(self, data: bytes | bytearray) -> None:
        """Append received bytes; ``b""`` marks the end of the stream."""
        if self._error is not None:
            raise self._error
        if not data:
            self._eof = True
            return
        if self._eof:
            raise RuntimeError("data fed after end of stream")
        shift = self._rb.append(data)
        if shift and self._pending is not None:
            headers, ctype, length, start = self._pending
            self._pending = (headers, ctype, length, start - shift)

    def frames(self) -> Iterator[Frame]:
        """Every complete frame currently buffered."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def next_frame(self) -> Frame | None:
        """The next complete frame, or ``None`` when more bytes are needed (or at clean EOF).

        Raises :class:`RemoteProtocolError` (sticky) for malformed input or exceeded limits and
        :class:`TruncatedFrameError` when the stream ended inside a frame.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_frame()
        except RemoteProtocolError as exc:
            self._error = exc
            raise

    def _next_frame(self) -> Frame | None:
        if self._pending is None and not self._read_header_block():
            return None
        assert self._pending is not None
        headers, ctype, length, start = self._pending
        end = start + length
        rb = self._rb
        data = rb.data
        if len(data) < end:
            if self._eof:
                raise TruncatedFrameError(
                    f"stream ended {end - len(data)} bytes short of a {length}-byte body"
                )
            return None
        body = bytes(data[start:end]) if length else b""
        self._pending = None
        rb.start = rb.scan = end  # consumed (ReceiveBuffer.skip, inlined on the hot path)
        return Frame(headers, body, ctype)

    def _read_header_block(self) -> bool:
        rb = self._rb
        data, pos = rb.data, rb.start
        found = self._find_terminator(data, pos)
        if found is None:
            return False
        end, term_len = found
        block_len = end - pos
        if block_len > self.max_header_bytes:
            raise self._too_big(block_len)
        fast = _EVENT_BLOCK.fullmatch(data, pos, end)
        if fast is not None:
            # The event frame layout FreeSWITCH always writes: valid by construction.
            length_text, ctype = fast[1].decode(), _EVENT_TYPES[fast[2]]
            length = _parse_length(length_text, self.max_body_bytes)
            headers = Headers((("Content-Length", length_text), ("Content-Type", ctype)))
        else:
            pairs = parse_header_block(data[pos:end].decode("utf-8", "replace"))
            length, ctype = _framing_fields(pairs, self.max_body_bytes)
            headers = Headers(pairs)
        self._pending = (headers, ctype, length, end + term_len)
        return True

    def _find_terminator(self, buf: bytearray, pos: int) -> tuple[int, int] | None:
        """(end, terminator length) of the header block starting at ``pos``, or None."""
        # A frame may start with its terminator (a bare "\n\n" is a frame with no headers).
        scan = self._rb.scan
        start = scan - 2 if scan - 2 > pos else pos
        lf = buf.find(b"\n\n", start)
        limit = lf if lf >= 0 else len(buf)
        lfcrlf = buf.find(b"\n\r\n", start, limit + 1)
        if lfcrlf >= 0 and (lf < 0 or lfcrlf < lf):
            return lfcrlf, 3
        if lf >= 0:
            return lf, 2
        waiting = len(buf) - pos
        if waiting > self.max_header_bytes:
            raise self._too_big(waiting)
        if self._eof and waiting:
            raise TruncatedFrameError(f"stream ended inside a header block ({waiting} bytes)")
        self._rb.scan = len(buf)
        return None

    def _too_big(self, size: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"header block of {size}+ bytes exceeds the limit of {self.max_header_bytes} bytes"
        )


def encode_frame(headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    """Serialise a frame exactly as given (server role; the caller orders the headers).

    Raises :class:`LocalProtocolError` if a name or value would break the framing.
    """
    lines = []
    for name, value in headers:
        if not name or any(c in name for c in ":\r\n") or name != name.strip():
            raise LocalProtocolError(f"invalid header name {name!r}")
        if "\n" in value or "\r" in value:
            raise LocalProtocolError(f"header {name} value contains a line break: {value!r}")
        lines.append(f"{name}: {value}\n")
    lines.append("\n")
    return "".join(lines).encode() + body
