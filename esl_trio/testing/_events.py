"""Events the fake fires: the standard headers FreeSWITCH stamps on every event, and encoding.

Real events start with the same block (B-EVN-4, fixtures ``05``/``06``/``07``): ``Event-Name``,
``Core-UUID``, ``FreeSWITCH-Hostname``, ``-Switchname``, ``-IPv4``, ``-IPv6``,
``Event-Date-Local``, ``Event-Date-GMT``, ``Event-Date-Timestamp`` (µs), ``Event-Calling-File``,
``-Function``, ``-Line-Number`` and ``Event-Sequence`` (one counter per FreeSWITCH process), then
the event's own headers. A CUSTOM event made with a subclass carries ``Event-Subclass`` first.
Headers given by the test that share a name with a standard one replace its value in place, so a
test can pin ``Event-Date-Timestamp`` or ``Core-UUID``.

An event is encoded once per format, lazily, the first time a connection in that format writes
it (the real server also serialises at dequeue time, in the connection's current format).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping
from typing import Final, TypeAlias

import attrs

from esl_trio.protocol import EventFormat
from esl_trio.protocol.server import event_frame

__all__ = [
    "EmittedEvent",
    "HeadersInput",
    "Identity",
    "compose_headers",
    "normalize_headers",
    "subclass_first",
]

HeadersInput: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
Pairs: TypeAlias = list[tuple[str, str]]


def normalize_headers(headers: HeadersInput | None) -> Pairs:
    """A mapping or (name, value) pairs as a list of pairs, order and duplicates kept."""
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name), str(value)) for name, value in items]


@attrs.define
class Identity:
    """Who the fake FreeSWITCH is: what every event says about its origin."""

    core_uuid: str
    hostname: str
    ipv4: str = "127.0.0.1"
    ipv6: str = "::1"


_STANDARD_NAMES: Final = frozenset(
    {
        "event-name",
        "core-uuid",
        "freeswitch-hostname",
        "freeswitch-switchname",
        "freeswitch-ipv4",
        "freeswitch-ipv6",
        "event-date-local",
        "event-date-gmt",
        "event-date-timestamp",
        "event-calling-file",
        "event-calling-function",
        "event-calling-line-number",
        "event-sequence",
    }
)
_date_cache: dict[int, tuple[str, str]] = {}


def _dates(now: float) -> Pairs:
    """The three date headers; the two texts are memoised per second (emit can be hot)."""
    second = int(now)
    texts = _date_cache.get(second)
    if texts is None:
        if len(_date_cache) > 64:
            _date_cache.clear()
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        texts = _date_cache[second] = (local, email.utils.formatdate(second, usegmt=True))
    return [
        ("Event-Date-Local", texts[0]),
        ("Event-Date-GMT", texts[1]),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
    ]


def compose_headers(
    identity: Identity,
    name: str,
    sequence: int,
    now: float,
    calling: tuple[str, str, int],
    extra: Pairs,
    *,
    standard_first: bool = True,
) -> Pairs:
    """The standard headers and ``extra``; an extra header named like a standard one wins.

    ``standard_first=False`` puts the standard block after ``extra``, as for ``sendevent``
    (fixture ``24``), whose headers come from the client before FreeSWITCH stamps its own.
    """
    file, function, line = calling
    standard: Pairs = [
        ("Event-Name", name),
        ("Core-UUID", identity.core_uuid),
        ("FreeSWITCH-Hostname", identity.hostname),
        ("FreeSWITCH-Switchname", identity.hostname),
        ("FreeSWITCH-IPv4", identity.ipv4),
        ("FreeSWITCH-IPv6", identity.ipv6),
        *_dates(now),
        ("Event-Calling-File", file),
        ("Event-Calling-Function", function),
        ("Event-Calling-Line-Number", str(line)),
        ("Event-Sequence", str(sequence)),
    ]
    overrides = {n.lower(): v for n, v in reversed(extra) if n.lower() in _STANDARD_NAMES}
    if not standard_first:
        return [*extra, *((n, v) for n, v in standard if n.lower() not in overrides)]
    if overrides:  # the first value of a name wins, in the standard header's place
        standard = [(n, overrides.get(n.lower(), v)) for n, v in standard]
        extra = [(n, v) for n, v in extra if n.lower() not in _STANDARD_NAMES]
    return standard + extra


def subclass_first(headers: Pairs) -> Pairs:
    """Move ``Event-Subclass`` to the front, where a CUSTOM event created with one has it."""
    head = [(n, v) for n, v in headers if n.lower() == "event-subclass"]
    return [*head, *((n, v) for n, v in headers if n.lower() != "event-subclass")]


class EmittedEvent:
    """An event the fake fired: what was sent, and which connections queued it.

    Attributes:
        name: ``Event-Name``.
        subclass: ``Event-Subclass`` of a CUSTOM event, else None.
        headers: every header, in wire order (values not encoded).
        body: the event body.
        sequence: its ``Event-Sequence``.
        queued_for: ids of the connections that accepted it (subscribed, filters passed, queue
            not full). Being queued is not being read: a stalled client may never see it.
    """

    __slots__ = (
        "_frames",
        "_lookup",
        "body",
        "headers",
        "name",
        "queued_for",
        "sequence",
        "subclass",
    )

    def __init__(
        self, name: str, subclass: str | None, headers: Pairs, body: bytes, sequence: int
    ) -> None:
        self.name = name
        self.subclass = subclass
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
        self.body = body
        self.sequence = sequence
        self.queued_for: list[int] = []
        self._frames: dict[EventFormat, bytes] = {}
        self._lookup: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        """First value of a header, name compared case-insensitively (as filters do)."""
        if self._lookup is None:
            self._lookup = {}
            for key, value in self.headers:
                self._lookup.setdefault(key.lower(), value)
        return self._lookup.get(name.lower())

    def frame(self, format: EventFormat) -> bytes:
        """The complete ``text/event-<format>`` frame, encoded once per format."""
        encoded = self._frames.get(format)
        if encoded is None:
            encoded = self._frames[format] = event_frame(format, self.headers, self.body)
        return encoded

    def __repr__(self) -> str:
        return f"<EmittedEvent {self.name} seq={self.sequence} queued_for={self.queued_for}>"
