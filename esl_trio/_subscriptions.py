"""Desired subscription state and the commands that apply it (B-SUBS-*).

The runtime keeps what the user wants (format, names or ALL, CUSTOM subclasses, filters) and
turns every change into the smallest correct command: ``event`` only adds, so removal uses
``nixevent`` (G-1); filters use ``filter``/``filter delete``. State changes only after the
server said ``+OK``. The same state is replayed on every new connection: events first, then
filters (B-SUBS-10).

BACKGROUND_JOB is always subscribed, because bgapi completions arrive as that event
(B-BGW-5), and once any user filter exists a ``filter Event-Name BACKGROUND_JOB`` is kept in
front of them, because FreeSWITCH applies filters to job completions too (B-SUBW-5, G-2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import attrs

from ._config import SubscriptionConfig
from .protocol import (
    Command,
    EventFormat,
    EventSubscribe,
    FilterAdd,
    FilterDelete,
    LocalProtocolError,
    NixEvent,
)

__all__ = ["SubscriptionState", "Subscriptions"]

JOB_EVENT = "BACKGROUND_JOB"


def _upper(names: Iterable[str]) -> tuple[str, ...]:
    """Upper-cased, de-duplicated event names; anything that is not a token is refused.

    Refused, not stripped: ``"\nX"`` must never quietly become ``X`` on the wire (B-SER-2).
    """
    out: list[str] = []
    for name in names:
        if not name or any(c.isspace() or c == "\0" for c in name):
            raise LocalProtocolError(f"event names must be non-empty tokens, got {name!r}")
        upper = name.upper()
        if upper not in out:
            out.append(upper)
    return tuple(out)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


@attrs.frozen
class SubscriptionState:
    """What this runtime wants FreeSWITCH to send it. Immutable; see :class:`Subscriptions`."""

    format: EventFormat = EventFormat.JSON
    names: tuple[str, ...] = ()
    all: bool = False
    #: With ``all``: names removed from ALL by ``nixevent``.
    excluded: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    #: Internal names (BACKGROUND_JOB, HEARTBEAT) the runtime itself needs.
    internal: tuple[str, ...] = (JOB_EVENT,)

    @classmethod
    def from_config(cls, config: SubscriptionConfig, *, heartbeat: bool) -> SubscriptionState:
        internal = (JOB_EVENT, "HEARTBEAT") if heartbeat else (JOB_EVENT,)
        return cls(
            format=config.format,
            names=_upper(config.events),
            all=config.all,
            custom=_unique(config.custom),
            filters=tuple(dict.fromkeys(config.filters)),
            internal=internal,
        )

    def wire_filters(self) -> tuple[tuple[str, str], ...]:
        """Filters as applied on the socket.

        Once any user filter exists FreeSWITCH drops every event no positive filter matches,
        so the runtime's own events (BACKGROUND_JOB, and HEARTBEAT when liveness uses it) get
        an ``Event-Name`` filter in front, unless the user already has one for them.
        """
        if not self.filters:
            return self.filters
        internal = tuple(
            ("Event-Name", name)
            for name in self.internal
            if not _has_name_filter(self.filters, name)
        )
        return (*internal, *self.filters)

    def restore_commands(self) -> list[Command]:
        """Everything a fresh connection needs, in order: events, exclusions, filters."""
        commands: list[Command] = []
        if self.all:
            commands.append(EventSubscribe(format=self.format, names=("ALL",)))
            if self.excluded:
                commands.append(NixEvent(names=self.excluded))
        else:
            names = _upper((*self.internal, *self.names))
            commands.append(EventSubscribe(format=self.format, names=names, custom=self.custom))
        commands.extend(FilterAdd(header=h, value=v) for h, v in self.wire_filters())
        return commands

    def to_dict(self) -> dict[str, object]:
        return {
            "format": str(self.format),
            "all": self.all,
            "names": list(self.names),
            "excluded": list(self.excluded),
            "custom": list(self.custom),
            "filters": [list(f) for f in self.filters],
        }


def _has_name_filter(filters: Iterable[tuple[str, str]], name: str) -> bool:
    return any(h.lower() == "event-name" and v == name for h, v in filters)


def filter_commands(before: SubscriptionState, after: SubscriptionState) -> list[Command]:
    """The ``filter`` commands turning ``before``'s wire filters into ``after``'s."""
    old, new = before.wire_filters(), after.wire_filters()
    removed = [FilterDelete(header=h, value=v) for h, v in old if (h, v) not in new]
    added = [FilterAdd(header=h, value=v) for h, v in new if (h, v) not in old]
    # Add first, and delete user filters before the job filter, so that job completions are
    # never filtered out while the change is half applied.
    return [*added, *reversed(removed)]


Apply = Callable[[list[Command], str, dict[str, object]], Awaitable[None]]


class Subscriptions:
    """``rt.subscriptions``: change what FreeSWITCH sends, live and after reconnects.

    Every method is a no-op that sends nothing when the state already matches (B-SUBS-3). A
    ``-ERR`` raises :class:`CommandError` and leaves the desired state unchanged (B-SUBS-7).
    """

    def __init__(self, state: SubscriptionState, apply: Apply) -> None:
        self._state = state
        self._apply = apply

    @property
    def state(self) -> SubscriptionState:
        """The desired state (what is restored after a reconnect)."""
        return self._state

    async def subscribe(self, *names: str) -> None:
        """Receive these events too (``event <format> <names>``, additive)."""
        if "ALL" in _upper(names):
            await self.subscribe_all()  # ALL covers every other name given with it
            return
        state = self._state
        new = [n for n in _upper(names) if n not in state.names]
        if state.all:
            back = [n for n in new if n in state.excluded]
            if back:
                after = attrs.evolve(
                    state, excluded=tuple(n for n in state.excluded if n not in back)
                )
                await self._change(after, [self._event(back)], "subscribe")
            return
        if new:
            after = attrs.evolve(state, names=(*state.names, *new))
            await self._change(after, [self._event(new)], "subscribe")

    async def subscribe_custom(self, *subclasses: str) -> None:
        """Receive these CUSTOM subclasses (``event <format> CUSTOM a::b``, B-EVN-2)."""
        state = self._state
        new = [s for s in _unique(subclasses) if s not in state.custom]
        if new:
            EventSubscribe(format=state.format, custom=tuple(new))  # validate first
        if new and not state.all:
            after = attrs.evolve(state, custom=(*state.custom, *new))
            command = EventSubscribe(format=state.format, names=(), custom=tuple(new))
            await self._change(after, [command], "subscribe")
        elif new:
            self._state = attrs.evolve(state, custom=(*state.custom, *new))

    async def subscribe_all(self) -> None:
        """Receive every event (``event <format> ALL``)."""
        state = self._state
        if state.all and not state.excluded:
            return
        after = attrs.evolve(state, all=True, excluded=())
        await self._change(after, [self._event(["ALL"])], "subscribe")

    async def unsubscribe(self, *names: str) -> None:
        """Stop receiving these events (``nixevent``; never a shorter ``event`` list, G-1)."""
        state = self._state
        wanted = _upper(names)
        if state.all:
            gone = [n for n in wanted if n not in state.excluded and n not in state.internal]
            after = attrs.evolve(state, excluded=(*state.excluded, *gone))
        else:
            gone = [n for n in wanted if n in state.names and n not in state.internal]
            after = attrs.evolve(state, names=tuple(n for n in state.names if n not in wanted))
        if gone:
            await self._change(after, [NixEvent(names=tuple(gone))], "unsubscribe")
        else:
            self._state = after  # nothing to send (internal names stay subscribed)

    async def unsubscribe_custom(self, *subclasses: str) -> None:
        state = self._state
        gone = [s for s in _unique(subclasses) if s in state.custom]
        if gone:
            after = attrs.evolve(state, custom=tuple(s for s in state.custom if s not in gone))
            await self._change(after, [NixEvent(names=(), custom=tuple(gone))], "unsubscribe")

    async def set_format(self, format: EventFormat | str) -> None:
        """Switch the connection's event format (plain, json, xml) for every event."""
        fmt = EventFormat(format)
        if fmt is self._state.format:
            return
        after = attrs.evolve(self._state, format=fmt)
        command = EventSubscribe(format=fmt, names=(after.internal[0],))
        await self._change(after, [command], "format")

    async def add_filter(self, header: str, value: str) -> None:
        """Only let through events whose ``header`` matches ``value`` (FreeSWITCH semantics)."""
        state = self._state
        if (header, value) in state.filters:
            return
        FilterAdd(header=header, value=value)  # validate before touching anything
        after = attrs.evolve(state, filters=(*state.filters, (header, value)))
        await self._change(after, filter_commands(state, after), "filter")

    async def remove_filter(self, header: str, value: str) -> None:
        state = self._state
        if (header, value) not in state.filters:
            return
        after = attrs.evolve(state, filters=tuple(f for f in state.filters if f != (header, value)))
        await self._change(after, filter_commands(state, after), "filter")

    def _event(self, names: Iterable[str]) -> EventSubscribe:
        return EventSubscribe(format=self._state.format, names=tuple(names))

    async def _change(self, after: SubscriptionState, commands: list[Command], kind: str) -> None:
        before = self._state
        detail: dict[str, object] = {"before": before.to_dict(), "after": after.to_dict()}
        await self._apply(commands, kind, detail)  # raises on gate failure or -ERR
        self._state = after
