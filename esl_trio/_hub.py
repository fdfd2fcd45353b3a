"""Routes each event to the receivers that asked for it.

Receivers match by event name (case-insensitive, B-EVN-1), by CUSTOM subclass, everything, or
by call: a per-``Unique-ID`` index serves receivers opened with ``unique_id=`` and the sinks
the calls module registers, one dict lookup per event however many calls are open. Routing is
a few dict lookups per event plus one call per matching feed; nothing here awaits, allocates
per receiver, or logs. ``Unique-ID`` is only read while the call index is non-empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import attrs

from ._receivers import Feed, GapReason, Overflow, Receiver, ReceiverStatistics, open_receiver
from .protocol import Event

__all__ = ["EventHub", "EventReceiver", "EventSink"]

EventReceiver = Receiver[Event]
_EventFeed = Feed[Event]


class EventSink(Protocol):
    """What the calls module registers per Unique-ID (a :class:`Feed` is one too)."""

    def offer(self, event: Event, generation: int) -> bool: ...
    def mark_gap(self, reason: GapReason, generation: int) -> None: ...
    def flush_gap(self) -> None: ...
    def close(self, error: BaseException | None = None) -> None: ...


@attrs.frozen
class _Interest:
    names: frozenset[str]
    subclasses: frozenset[str]
    unique_id: str | None

    @property
    def everything(self) -> bool:
        return not self.names and not self.subclasses

    def matches(self, event: Event) -> bool:
        """For per-call receivers only (a handful per call): the by-name check, spelled out."""
        if self.everything:
            return True
        name = event.name.upper()
        return name in self.names or (name == "CUSTOM" and event.subclass in self.subclasses)


class _Call:
    """Everything routed by one Unique-ID: filtered receivers and unfiltered sinks."""

    __slots__ = ("feeds", "sinks")

    def __init__(self) -> None:
        self.feeds: list[tuple[_EventFeed, _Interest]] = []
        self.sinks: list[EventSink] = []


class EventHub:
    """The registry of event receivers and the synchronous fan-out the reader calls."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[_EventFeed]] = {}
        self._by_subclass: dict[str, list[_EventFeed]] = {}
        self._everything: list[_EventFeed] = []
        self._by_call: dict[str, _Call] = {}
        self._interests: dict[_EventFeed, _Interest] = {}
        self._blocked: list[_EventFeed] = []
        self._dropped_by_closed = 0
        self._ended = False  # close_all ran: the runtime stopped for good
        self._end_error: BaseException | None = None

    def open(
        self,
        names: Iterable[str],
        subclasses: Iterable[str],
        *,
        unique_id: str | None = None,
        max_buffer: int,
        overflow: Overflow,
    ) -> EventReceiver:
        """Register a receiver; no names and no subclasses means every event (of the call,
        with ``unique_id``). After :meth:`close_all` the receiver is born ended."""
        interest = _Interest(frozenset(n.upper() for n in names), frozenset(subclasses), unique_id)
        label = ",".join(sorted(interest.names | interest.subclasses)) or "*"
        if unique_id is not None:
            label = f"{label}@{unique_id}"
        receiver, feed = open_receiver(label, max_buffer, overflow, self._remove)
        if self._ended:
            feed.close(self._end_error)
            return receiver
        self._interests[feed] = interest
        if unique_id is not None:
            self._by_call.setdefault(unique_id, _Call()).feeds.append((feed, interest))
        elif interest.everything:
            self._everything.append(feed)
        for name in () if unique_id is not None else interest.names:
            self._by_name.setdefault(name, []).append(feed)
        for subclass in () if unique_id is not None else interest.subclasses:
            self._by_subclass.setdefault(subclass, []).append(feed)
        return receiver

    def add_unique_id_sink(self, unique_id: str, sink: EventSink) -> None:
        """Route every event whose ``Unique-ID`` is ``unique_id`` to ``sink`` too.

        After :meth:`close_all` the sink is closed at once with the same error instead.
        """
        if self._ended:
            sink.close(self._end_error)
            return
        self._by_call.setdefault(unique_id, _Call()).sinks.append(sink)

    def remove_unique_id_sink(self, unique_id: str, sink: EventSink) -> None:
        """Forget ``sink`` (no error if it is not registered); the sink is not closed."""
        call = self._by_call.get(unique_id)
        if call is not None and sink in call.sinks:
            call.sinks.remove(sink)
            self._forget_call_if_empty(unique_id, call)

    def routed_unique_ids(self) -> list[str]:
        """The Unique-IDs with a receiver or sink in the per-call index (for health, tests)."""
        return list(self._by_call)

    def dropped_total(self) -> int:
        """Events dropped by every receiver ever opened (closed ones included)."""
        open_drops = sum(feed.statistics().dropped for feed in self._interests)
        return self._dropped_by_closed + open_drops

    def statistics(self) -> tuple[ReceiverStatistics, ...]:
        """One snapshot per open receiver (sinks keep their own accounts)."""
        return tuple(feed.statistics() for feed in self._interests)

    def _remove(self, feed: _EventFeed) -> None:
        interest = self._interests.pop(feed, None)
        if interest is None:
            return
        self._dropped_by_closed += feed.statistics().dropped
        if interest.unique_id is not None:
            call = self._by_call[interest.unique_id]
            call.feeds.remove((feed, interest))
            self._forget_call_if_empty(interest.unique_id, call)
            return
        if interest.everything:
            self._everything.remove(feed)
        for name in interest.names:
            _discard(self._by_name, name, feed)
        for subclass in interest.subclasses:
            _discard(self._by_subclass, subclass, feed)

    def _forget_call_if_empty(self, unique_id: str, call: _Call) -> None:
        if not call.feeds and not call.sinks:
            del self._by_call[unique_id]

    def deliver(self, event: Event, generation: int) -> Sequence[_EventFeed]:
        """Offer ``event`` to every match; returns the BLOCK feeds that were full.

        The returned list is reused by the next call: use it before delivering again.
        """
        blocked = self._blocked
        blocked.clear()
        name = event.name
        targets = self._by_name.get(name) or self._by_name.get(name.upper())
        if targets:
            for feed in targets:
                if not feed.offer(event, generation):
                    blocked.append(feed)
        if name == "CUSTOM" and self._by_subclass:
            subclass = event.subclass
            for feed in self._by_subclass.get(subclass or "", ()):
                if feed not in (targets or ()) and not feed.offer(event, generation):
                    blocked.append(feed)
        for feed in self._everything:
            if not feed.offer(event, generation):
                blocked.append(feed)
        if self._by_call:  # only then is Unique-ID worth reading
            self._deliver_to_call(event, generation, blocked)
        return blocked

    def _deliver_to_call(self, event: Event, generation: int, blocked: list[_EventFeed]) -> None:
        unique_id = event.unique_id
        call = self._by_call.get(unique_id) if unique_id else None
        if call is None:
            return
        for feed, interest in call.feeds:
            if interest.matches(event) and not feed.offer(event, generation):
                blocked.append(feed)
        for sink in call.sinks:
            sink.offer(event, generation)  # a sink applies its own overflow policy

    def mark_gap(self, reason: GapReason, generation: int) -> None:
        """A pending marker on every receiver and sink (before the new socket's first event)."""
        for feed in self._interests:
            feed.mark_gap(reason, generation)
        for sink in self._sinks():
            sink.mark_gap(reason, generation)

    def flush_gaps(self) -> None:
        """Make every pending marker readable now (on READY), waking waiting consumers."""
        for feed in self._interests:
            feed.flush_gap()
        for sink in self._sinks():
            sink.flush_gap()

    def close_all(self, error: BaseException | None = None) -> None:
        """End every receiver and sink: buffered items stay readable, then ``receive``
        raises ``error`` (or ends the stream when None). Later opens are born ended, with
        the first call's error: leaving the block after a stop keeps saying why it stopped."""
        if not self._ended:
            self._ended = True
            self._end_error = error
        sinks = self._sinks()
        for feed in list(self._interests):
            feed.close(error)  # each one unregisters itself
        self._by_call.clear()
        for sink in sinks:
            sink.close(error)

    def _sinks(self) -> list[EventSink]:
        return [sink for call in self._by_call.values() for sink in call.sinks]


def _discard(index: dict[str, list[_EventFeed]], key: str, feed: _EventFeed) -> None:
    feeds = index.get(key)
    if feeds is not None:
        feeds.remove(feed)
        if not feeds:
            del index[key]
