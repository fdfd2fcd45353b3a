"""Events: one lazily decoded :class:`Event` type and typed families over it.

An event arrives as the body of a ``text/event-plain``, ``text/event-json`` or
``text/event-xml`` frame (B-EVT-1…13). Routing an event needs only a handful of fields (name,
CUSTOM subclass, Job-UUID, Unique-ID), so construction extracts the name with ``bytes.find``
and decodes nothing else. The first access to :attr:`Event.headers` (or any header that cannot be
found cheaply) decodes the whole payload once. Cheap and full lookups go through the same value
decoder, so both give identical results.

Representation choices, the same whatever the format:

* a repeated header line (``Hangup-Cause`` twice), a json array and an xml repeated element
  all become the same name appearing once per value in :class:`Headers`;
* ``_undef_`` decodes to ``""``; the framing ``Content-Length`` of the event body is not a
  header (the body is :attr:`Event.body`);
* a payload whose frame was sound but whose content cannot be decoded does not break the
  connection: :attr:`Event.decode_error` says why and :attr:`Event.raw` keeps the bytes, while
  :attr:`Event.headers` raises :class:`EventDecodeError`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from operator import itemgetter
from typing import ClassVar, cast, overload
from urllib.parse import unquote

import attrs

from ._errors import EventDecodeError
from ._formats import EventFormat
from ._headers import Headers
from ._numbers import parse_decimal
from ._percent import UNDEF, decode_value, split_array

__all__ = [
    "BackgroundJobEvent",
    "ChannelEvent",
    "CustomEvent",
    "Event",
    "EventEnvelope",
    "HeartbeatEvent",
    "make_event",
]

_JSON = json.JSONDecoder(object_pairs_hook=list)
_NEEDLES: dict[str, tuple[bytes, bytes]] = {}


def _needles(key: str) -> tuple[bytes, bytes]:
    """``b"Key: "`` and ``b"\\nKey: "``, built once per header name."""
    found = _NEEDLES.get(key)
    if found is None:
        needle = key.encode() + b": "
        found = _NEEDLES[key] = (needle, b"\n" + needle)
    return found


_BODY_KEY = "_body"
_LENGTH_KEY = "Content-Length"


@attrs.frozen
class EventEnvelope:
    """Where and when the runtime received an event (set by the runtime, not the parser)."""

    #: Connection generation: 1 for the first socket, +1 for every reconnect.
    generation: int
    #: Runtime-wide receive sequence, 1, 2, 3… across reconnects (not Event-Sequence).
    sequence: int
    #: ``trio.current_time()`` at receipt (the runtime's clock, so MockClock tests are exact).
    received_at: float


class Event:
    """A FreeSWITCH event, decoded on demand.

    ``event.get("Caller-Caller-ID-Number")`` and ``event["Unique-ID"]`` look up decoded values
    (case-insensitive, first value); :meth:`get_all` returns every value of a repeated or array
    header. :attr:`name`, :attr:`subclass`, :attr:`unique_id`, :attr:`job_uuid`,
    :attr:`sequence` are read without decoding the rest of the payload.
    """

    __slots__ = ("_body", "_error", "_headers", "envelope", "format", "name", "raw")

    #: Event names this family is selected for (empty: chosen by other rules).
    family_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, format: EventFormat, raw: bytes, name: str | None = None) -> None:
        self.format = format
        #: The frame body exactly as received.
        self.raw = raw
        self.envelope: EventEnvelope | None = None
        self._headers: Headers | None = None
        self._body = b""
        self._error: EventDecodeError | None = None
        if format is EventFormat.XML:
            self._decode()  # no cheap path for xml; it is the rare format
        if name is None:
            name = (
                self._quick_plain("Event-Name")
                if format is EventFormat.PLAIN
                else self._quick("Event-Name")
            ) or ""
        #: ``Event-Name`` ("" when absent).
        self.name = name

    # -- cheap field access ------------------------------------------------------------

    def peek(self, name: str) -> str | None:
        """The first decoded value of header ``name`` without decoding the rest of the event:
        a byte search in a plain payload (xml is decoded anyway). Spell ``name`` as FreeSWITCH
        does (``Unique-ID``): until the event is decoded the search is case-sensitive. For the
        hot path of code that reads one or two headers of many events; :meth:`get` otherwise."""
        if self._headers is not None or self._error is not None:
            return self._headers.get(name) if self._headers is not None else None
        if self.format is EventFormat.PLAIN:
            return self._quick_plain(name)
        return self._quick_json(name)

    _quick = peek  # the name the class itself uses

    def _quick_plain(self, key: str) -> str | None:
        raw = self.raw
        needle, line_needle = _needles(key)
        if raw.startswith(needle):
            start = len(needle)
        else:
            # Values are percent-encoded, so "\n<Name>: " can only start a line (B-LIM-3);
            # it is a header unless the blank line ending the headers comes before it. Not
            # looking for that blank line first saves a scan of the whole payload.
            at = raw.find(line_needle)
            if at < 0 or raw.find(b"\n\n", 0, at + 1) >= 0:
                return None
            start = at + len(line_needle)
        stop = raw.find(b"\n", start)
        value = decode_value(raw[start:stop].decode("utf-8", "replace"))
        items = split_array(value)
        return value if items is None else items[0]

    def _quick_json(self, key: str) -> str | None:
        value = _json_quick_value(self.raw, _json_needle(key))
        if value is not None:
            return value
        # Absent, escaped or not a plain string: ask the full decoder.
        headers = self._decoded_headers_or_none()
        return None if headers is None else headers.get(key)

    @property
    def subclass(self) -> str | None:
        """``Event-Subclass`` of a CUSTOM event (e.g. ``sofia::register``)."""
        return self._quick("Event-Subclass")

    @property
    def unique_id(self) -> str | None:
        """``Unique-ID``: the channel UUID, for channel events."""
        return self._quick("Unique-ID")

    @property
    def job_uuid(self) -> str | None:
        """``Job-UUID``: set on BACKGROUND_JOB events."""
        return self._quick("Job-UUID")

    @property
    def core_uuid(self) -> str | None:
        """``Core-UUID``: identifies the FreeSWITCH process (changes on restart)."""
        return self._quick("Core-UUID")

    @property
    def sequence(self) -> int | None:
        """``Event-Sequence``: FreeSWITCH's process-wide counter (B-EVN-4)."""
        value = self._quick("Event-Sequence")
        return None if value is None else parse_decimal(value)

    # -- full decoding -----------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """Every decoded header. Raises :class:`EventDecodeError` for an undecodable payload."""
        headers = self._decoded_headers_or_none()
        if headers is None:
            assert self._error is not None
            raise self._error
        return headers

    @property
    def body(self) -> bytes:
        """The event body (e.g. a BACKGROUND_JOB result), ``b""`` when there is none."""
        self.headers  # noqa: B018 -- decoding fills the body
        return self._body

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    @property
    def decode_error(self) -> EventDecodeError | None:
        """Why the payload could not be decoded, or None if it decodes."""
        self._decoded_headers_or_none()
        return self._error

    def _decoded_headers_or_none(self) -> Headers | None:
        if self._headers is None and self._error is None:
            self._decode()
        return self._headers

    def _decode(self) -> None:
        try:
            pairs, body = _DECODERS[self.format](self)
        except EventDecodeError as exc:
            self._error = exc
        except (ValueError, TypeError, ET.ParseError, RecursionError) as exc:
            self._error = EventDecodeError(f"undecodable {self.format} event: {exc}")
        else:
            self._headers = Headers(pairs)
            self._body = body

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first decoded value of header ``name`` (any case), or ``default``.

        With a ``str`` default the result is typed ``str``: ``event.get("Hangup-Cause", "")``.
        """
        return self.headers.get(name) if default is None else self.headers.get(name, default)

    def get_all(self, name: str) -> list[str]:
        """Every decoded value of header ``name``, in order."""
        return self.headers.get_all(name)

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.headers

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of the headers, plus ``_body`` when there is a body."""
        out: dict[str, object] = dict(self.headers.to_dict())
        if self.body:
            out[_BODY_KEY] = self.text
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.format is other.format and self.raw == other.raw

    def __hash__(self) -> int:
        return hash((self.format, self.raw))

    def __repr__(self) -> str:
        extra = f" {self.subclass}" if self.name == "CUSTOM" else ""
        return f"<{type(self).__name__} {self.name}{extra} ({self.format}, {len(self.raw)} bytes)>"


class ChannelEvent(Event):
    """A ``CHANNEL_*`` event: the life of one call leg."""

    __slots__ = ()

    @property
    def channel_name(self) -> str | None:
        return self.get("Channel-Name")

    @property
    def channel_state(self) -> str | None:
        return self.get("Channel-State")

    @property
    def call_state(self) -> str | None:
        return self.get("Channel-Call-State")

    @property
    def answer_state(self) -> str | None:
        return self.get("Answer-State")

    @property
    def call_direction(self) -> str | None:
        return self.get("Call-Direction")

    @property
    def caller_id_name(self) -> str | None:
        return self.get("Caller-Caller-ID-Name")

    @property
    def caller_id_number(self) -> str | None:
        return self.get("Caller-Caller-ID-Number")

    @property
    def destination_number(self) -> str | None:
        return self.get("Caller-Destination-Number")

    @property
    def hangup_cause(self) -> str | None:
        return self.get("Hangup-Cause")

    @property
    def other_leg_unique_id(self) -> str | None:
        return self.get("Other-Leg-Unique-ID")

    @property
    def application(self) -> str | None:
        return self.get("Application")


class BackgroundJobEvent(Event):
    """``BACKGROUND_JOB``: completion of a ``bgapi`` command; the body is the output."""

    __slots__ = ()
    family_names = frozenset({"BACKGROUND_JOB"})

    @property
    def job_command(self) -> str | None:
        return self.get("Job-Command")

    @property
    def job_command_arg(self) -> str | None:
        return self.get("Job-Command-Arg")

    @property
    def result(self) -> str:
        """The command output (the event body as text)."""
        return self.text

    @property
    def ok(self) -> bool:
        """True when the output starts with ``+OK`` (B-BGW-8).

        A heuristic FreeSWITCH imposes: informational commands (``status``) print plain text
        and are "not ok" by this test; inspect :attr:`result` for those.
        """
        return self.result.lstrip().startswith("+OK")


class HeartbeatEvent(Event):
    """``HEARTBEAT``: FreeSWITCH's periodic status event (every 20 s by default)."""

    __slots__ = ()
    family_names = frozenset({"HEARTBEAT"})

    @property
    def up_time(self) -> str | None:
        return self.get("Up-Time")

    @property
    def session_count(self) -> int | None:
        value = self.get("Session-Count")
        return None if value is None else parse_decimal(value)


class CustomEvent(Event):
    """``CUSTOM``: a module-defined event; :attr:`subclass` names it (``sofia::register``)."""

    __slots__ = ()
    family_names = frozenset({"CUSTOM"})


_FAMILIES: dict[str, type[Event]] = {
    name: cls
    for cls in (BackgroundJobEvent, HeartbeatEvent, CustomEvent)
    for name in cls.family_names
}


def make_event(format: EventFormat, raw: bytes) -> Event:
    """Build the typed event for a payload: a dict lookup on the cheaply extracted name."""
    if format is EventFormat.XML:
        return _relabelled(Event(format, raw))  # xml decodes eagerly: build once, then re-label
    name = _plain_name(raw) if format is EventFormat.PLAIN else _json_name(raw)
    if name is None:
        return _relabelled(Event(format, raw))  # the name needs a full decode: do it once
    return _family(name)(format, raw, name)


def _relabelled(event: Event) -> Event:
    """``event`` as its family class, built once (never a second object that decodes again)."""
    cls = _family(event.name)
    if cls is not Event:
        # The families add properties only (empty __slots__), so the layout is identical.
        event.__class__ = cls
    return event


def _family(name: str) -> type[Event]:
    cls = _FAMILIES.get(name)
    if cls is None:
        return ChannelEvent if name.startswith("CHANNEL_") else Event
    return cls


_JSON_SPACE = b" \t\n\r"
_JSON_NEEDLES: dict[str, bytes] = {}


def _json_needle(key: str) -> bytes:
    """``b'"Key":'``, built once per header name."""
    found = _JSON_NEEDLES.get(key)
    if found is None:
        found = _JSON_NEEDLES[key] = b'"' + key.encode() + b'":'
    return found


def _json_quick_value(raw: bytes, needle: bytes) -> str | None:
    """The string value after ``"Key":`` found with ``bytes.find``, or None to decode fully.

    Inside a JSON string every ``"`` is escaped, so ``"Key":`` can only be a member name. Any
    whitespace may follow the colon: FreeSWITCH writes ``"Key":"v"``, ``json.dumps`` and some
    proxies ``"Key": "v"``, and both must stay on the fast path. A value with an escape, or not
    a string, is left to the full decoder.
    """
    at = raw.find(needle)
    if at < 0:
        return None
    start = at + len(needle)
    while start < len(raw) and raw[start] in _JSON_SPACE:
        start += 1
    if raw[start : start + 1] != b'"':
        return None
    stop = raw.find(b'"', start + 1)
    if stop < 0:
        return None
    segment = raw[start + 1 : stop]
    return None if b"\\" in segment else segment.decode("utf-8", "replace")


def _json_name(raw: bytes) -> str | None:
    """The fast path for ``Event-Name`` (FreeSWITCH writes it first; any member works)."""
    if raw.startswith(b'{"Event-Name":"'):  # FreeSWITCH's own layout: one check, no search
        stop = raw.find(b'"', 15)
        value = raw[15:stop]
        if stop >= 0 and b"\\" not in value:
            return value.decode("utf-8", "replace")
    return _json_quick_value(raw, b'"Event-Name":')


def _plain_name(raw: bytes) -> str | None:
    """The fast path for FreeSWITCH's layout: ``Event-Name`` is the first line."""
    if not raw.startswith(b"Event-Name: "):
        return None
    stop = raw.find(b"\n", 12)
    if stop < 0:
        return None
    value = raw[12:stop].decode("utf-8", "replace")
    return value if "%" not in value and "_" not in value[:1] and "ARRAY" not in value else None


# -- decoders: payload -> (header pairs, body) -----------------------------------------


def _decode_plain(event: Event) -> tuple[list[tuple[str, str]], bytes]:
    raw = event.raw
    end = raw.find(b"\n\n")
    if end < 0:
        raise EventDecodeError("plain event payload lacks the blank line ending its headers")
    lines = raw[:end].decode("utf-8", "replace").split("\n")
    # Most lines repeat verbatim from one event to the next, so a line-level memo turns the
    # common case into one C-level map() over the lines.
    decoded = list(map(_PLAIN_LINES.get, lines))
    if None in decoded:
        _decode_missing_lines(lines, decoded)
    if raw.find(b"ARRAY%3A%3A", 0, end) >= 0:
        pairs = _expand_arrays(decoded)
    else:
        pairs = cast("list[tuple[str, str]]", decoded)
    body = raw[end + 2 :]
    if pairs[-1][0] == _LENGTH_KEY:
        _check_length(pairs.pop()[1], body)
    return pairs, body


# The line memo is process-wide and outlives every connection, so it is bounded by size: at most
# _PLAIN_LINES_MAX entries of at most _PLAIN_LINE_MAX_CHARS ASCII characters (about 7 MB in the
# worst case, whatever a peer sends). Longer lines are decoded every time: the lines that repeat
# are short, and a long line costs in proportion to its length anyway. FreeSWITCH
# percent-encodes every non-ASCII byte, so a non-ASCII line is a peer's oddity: not kept either
# (a str of wide characters takes up to four bytes per character).
_PLAIN_LINES: dict[str, tuple[str, str]] = {}
_PLAIN_LINES_MAX = 8192
_PLAIN_LINE_MAX_CHARS = 256


def _decode_missing_lines(lines: list[str], decoded: list[tuple[str, str] | None]) -> None:
    memo = _PLAIN_LINES
    if len(memo) + len(lines) > _PLAIN_LINES_MAX:
        memo.clear()  # bounded: a stream of unique lines costs a clear, not memory
    # An event with more lines than the memo holds would overfill it: decode, do not keep.
    keep = len(lines) <= _PLAIN_LINES_MAX
    # Inlined common case: this loop is the whole cost when most lines are new.
    for i, line in enumerate(lines):
        if decoded[i] is None:
            name, sep, value = line.partition(": ")
            if not sep or not name:
                pair = _decode_plain_line(line)
            elif "%" in value:
                pair = (name, unquote(value, errors="replace"))
            else:
                pair = (name, "" if value == UNDEF else value)
            decoded[i] = pair
            if keep and len(line) <= _PLAIN_LINE_MAX_CHARS and line.isascii():
                memo[line] = pair


def _decode_plain_line(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(": ")
    if not sep:
        name, sep, value = line.partition(":")
        if not sep or not name:
            raise EventDecodeError(f"plain event header line without a colon: {line[:80]!r}")
    return name, decode_value(value)


def _expand_arrays(decoded: list[tuple[str, str] | None]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in decoded:
        assert item is not None
        name, value = item
        items = split_array(value)
        if items is None:
            pairs.append(item)
        else:
            pairs.extend((name, element) for element in items)
    return pairs


def _check_length(declared: str, body: bytes) -> None:
    if parse_decimal(declared) != len(body):
        raise EventDecodeError(
            f"event Content-Length {declared!r} does not match the {len(body)}-byte body"
        )


def _decode_json(event: Event) -> tuple[list[tuple[str, str]], bytes]:
    text = event.raw.decode("utf-8")
    # object_pairs_hook=list turns objects into lists of pairs, so arrays and objects both
    # come back as lists: tell them apart by the payload's first character.
    if not text.lstrip().startswith("{"):
        raise EventDecodeError("json event payload is not an object")
    members = _JSON.decode(text)
    # Fast path (every FreeSWITCH event without arrays): all values are strings, checked
    # with C-level iteration; the body, if any, is the last member after its Content-Length.
    if set(map(type, map(_SECOND, members))) <= _STR_ONLY:
        if members and members[-1][0] == _BODY_KEY:
            return _json_with_body(members)
        return members, b""
    return _decode_json_general(members)


_SECOND = itemgetter(1)
_STR_ONLY = {str}


def _json_with_body(members: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bytes]:
    body = members.pop()[1].encode()
    if members and members[-1][0] == _LENGTH_KEY:
        _check_length(members.pop()[1], body)
    return members, body


def _decode_json_general(members: list[tuple[str, object]]) -> tuple[list[tuple[str, str]], bytes]:
    pairs: list[tuple[str, str]] = []
    body: bytes | None = None
    length: str | None = None
    for name, value in members:
        if name == _BODY_KEY and isinstance(value, str):
            body = value.encode()
        elif name == _LENGTH_KEY and length is None:
            length = _json_scalar(name, value)
        elif isinstance(value, list):
            pairs.extend((name, _json_scalar(name, item)) for item in value)
        else:
            pairs.append((name, _json_scalar(name, value)))
    if body is None:
        if length is not None:
            pairs.append((_LENGTH_KEY, length))  # a header, not the framing of a body
        return pairs, b""
    if length is not None:
        _check_length(length, body)
    return pairs, body


def _json_scalar(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    raise EventDecodeError(f"json event header {name!r} has a nested value")


def _decode_xml(event: Event) -> tuple[list[tuple[str, str]], bytes]:
    root = ET.fromstring(event.raw)  # noqa: S314 -- stdlib parser; no external entities are resolved
    if root.tag != "event":
        raise EventDecodeError(f"xml event root is <{root.tag}>, not <event>")
    pairs: list[tuple[str, str]] = []
    body_text: str | None = None
    length: str | None = None
    for child in root:
        if child.tag == "headers":
            pairs.extend((item.tag, decode_value(item.text or "")) for item in child)
        elif child.tag == _LENGTH_KEY:
            length = (child.text or "").strip()
        elif child.tag == "body":
            body_text = child.text or ""
    if body_text is None:
        return pairs, b""
    body = body_text.encode()
    # FreeSWITCH pads a body that ends in a newline with two spaces: trust Content-Length.
    size = None if length is None else parse_decimal(length)
    if size is not None and size <= len(body):
        body = body[:size]
    return pairs, body


_DECODERS = {
    EventFormat.PLAIN: _decode_plain,
    EventFormat.JSON: _decode_json,
    EventFormat.XML: _decode_xml,
}
