"""Routes each event to the receivers that asked for it.

Receivers match by event name (case-insensitive, B-EVN-1), by CUSTOM subclass, or everything.
Routing is two dict lookups per event plus one call per matching receiver; nothing here
awaits, allocates per receiver, or logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import attrs

from ._receivers import GapReason, Overflow, Receiver
from .protocol import Event

__all__ = ["EventHub", "EventReceiver", "EventSink"]

EventReceiver = Receiver[Event]


class EventSink(Protocol):
    """A consumer fed by Unique-ID (a call): the hub's per-channel index calls it."""

    def offer(self, event: Event, generation: int) -> bool: ...  # never awaits; True = taken
    def mark_gap(self, reason: GapReason, generation: int) -> None: ...  # events were lost
    def flush_gap(self) -> None: ...  # the runtime is READY again
    def close(self, error: BaseException | None = None) -> None: ...  # the runtime stopped


@attrs.frozen
class _Interest:
    names: frozenset[str]
    subclasses: frozenset[str]
    everything: bool


class EventHub:
    """The registry of event receivers and the synchronous fan-out the reader calls."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[EventReceiver]] = {}
        self._by_subclass: dict[str, list[EventReceiver]] = {}
        self._everything: list[EventReceiver] = []
        self._interests: dict[EventReceiver, _Interest] = {}
        self._blocked: list[EventReceiver] = []
        self._dropped_by_closed = 0
        self._by_unique_id: dict[str, list[EventSink]] = {}

    @property
    def receivers(self) -> list[EventReceiver]:
        return list(self._interests)

    def open(
        self,
        names: Iterable[str],
        subclasses: Iterable[str],
        *,
        max_buffer: int,
        overflow: Overflow,
    ) -> EventReceiver:
        """Register a receiver; no names and no subclasses means every event."""
        interest = _Interest(
            frozenset(n.upper() for n in names), frozenset(subclasses), everything=False
        )
        if not interest.names and not interest.subclasses:
            interest = attrs.evolve(interest, everything=True)
        label = ",".join(sorted(interest.names | interest.subclasses)) or "*"
        receiver = EventReceiver(label, max_buffer, overflow, self._remove)
        self._interests[receiver] = interest
        if interest.everything:
            self._everything.append(receiver)
        for name in interest.names:
            self._by_name.setdefault(name, []).append(receiver)
        for subclass in interest.subclasses:
            self._by_subclass.setdefault(subclass, []).append(receiver)
        return receiver

    def add_unique_id_sink(self, unique_id: str, sink: EventSink) -> None:
        self._by_unique_id.setdefault(unique_id, []).append(sink)

    def remove_unique_id_sink(self, unique_id: str, sink: EventSink) -> None:
        sinks = self._by_unique_id.get(unique_id)
        if sinks is not None and sink in sinks:
            sinks.remove(sink)
            if not sinks:
                del self._by_unique_id[unique_id]

    def dropped_total(self) -> int:
        """Events dropped by every receiver ever opened (closed ones included)."""
        open_drops = sum(r.statistics().dropped for r in self._interests)
        return self._dropped_by_closed + open_drops

    def _remove(self, receiver: EventReceiver) -> None:
        interest = self._interests.pop(receiver, None)
        if interest is None:
            return
        self._dropped_by_closed += receiver.statistics().dropped
        if interest.everything:
            self._everything.remove(receiver)
        for name in interest.names:
            _discard(self._by_name, name, receiver)
        for subclass in interest.subclasses:
            _discard(self._by_subclass, subclass, receiver)

    def deliver(self, event: Event, generation: int) -> list[EventReceiver]:
        """Offer ``event`` to every match; returns the BLOCK receivers that were full."""
        blocked = self._blocked
        blocked.clear()
        if self._by_unique_id:
            sinks = self._by_unique_id.get(event.unique_id or "")
            if sinks:
                for sink in tuple(sinks):  # a sink may remove itself on hangup
                    sink.offer(event, generation)
        name = event.name
        targets = self._by_name.get(name) or self._by_name.get(name.upper())
        if targets:
            for receiver in targets:
                if not receiver.offer(event, generation):
                    blocked.append(receiver)
        if name == "CUSTOM" and self._by_subclass:
            subclass = event.subclass
            for receiver in self._by_subclass.get(subclass or "", ()):
                if receiver not in (targets or ()) and not receiver.offer(event, generation):
                    blocked.append(receiver)
        for receiver in self._everything:
            if not receiver.offer(event, generation):
                blocked.append(receiver)
        return blocked

    def mark_gap(self, reason: GapReason, generation: int) -> None:
        for receiver in self._interests:
            receiver.mark_gap(reason, generation)
        for sinks in list(self._by_unique_id.values()):
            for sink in tuple(sinks):
                sink.mark_gap(reason, generation)

    def flush_gaps(self) -> None:
        for sinks in list(self._by_unique_id.values()):
            for sink in tuple(sinks):
                sink.flush_gap()

    def close_all(self, error: BaseException | None = None) -> None:
        for receiver in list(self._interests):
            receiver.close()
        for sinks in list(self._by_unique_id.values()):
            for sink in tuple(sinks):
                sink.close(error)


def _discard(index: dict[str, list[EventReceiver]], key: str, receiver: EventReceiver) -> None:
    receivers = index.get(key)
    if receivers is not None:
        receivers.remove(receiver)
        if not receivers:
            del index[key]
