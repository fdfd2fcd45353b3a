"""Routes each event to the receivers that asked for it.

Receivers match by event name (case-insensitive, B-EVN-1), by CUSTOM subclass, or everything.
Routing is two dict lookups per event plus one call per matching receiver; nothing here
awaits, allocates per receiver, or logs.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ._receivers import GapReason, Overflow, Receiver
from .protocol import Event

__all__ = ["EventHub", "EventReceiver"]

EventReceiver = Receiver[Event]


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

    def close_all(self) -> None:
        for receiver in list(self._interests):
            receiver.close()


def _discard(index: dict[str, list[EventReceiver]], key: str, receiver: EventReceiver) -> None:
    receivers = index.get(key)
    if receivers is not None:
        receivers.remove(receiver)
        if not receivers:
            del index[key]
