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
import trio

from ._config import SubscriptionConfig
from ._event_names import check_event_names
from .protocol import (
    Command,
    EventFormat,
    EventSubscribe,
    FilterAdd,
    FilterDelete,
    NixEvent,
)

__all__ = ["SubscriptionState", "Subscriptions", "restore_commands"]

JOB_EVENT = "BACKGROUND_JOB"


def _upper(names: Iterable[str]) -> tuple[str, ...]:
    """Upper-cased, de-duplicated, known event names (``ALL`` included); see check_event_names."""
    return check_event_names(names, allow_all=True)


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

    def to_dict(self) -> dict[str, object]:
        return {
            "format": str(self.format),
            "all": self.all,
            "names": list(self.names),
            "excluded": list(self.excluded),
            "custom": list(self.custom),
            "filters": [list(f) for f in self.filters],
        }


def restore_commands(state: SubscriptionState) -> list[Command]:
    """Everything a fresh connection needs for ``state``, in order: events, exclusions, filters."""
    commands: list[Command] = []
    if state.all:
        commands.append(EventSubscribe(format=state.format, names=("ALL",)))
        if state.excluded:
            commands.append(NixEvent(names=state.excluded))
    else:
        names = _upper((*state.internal, *state.names))
        commands.append(EventSubscribe(format=state.format, names=names, custom=state.custom))
    commands.extend(FilterAdd(header=h, value=v) for h, v in state.wire_filters())
    return commands


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


#: Runs the commands in order through the runtime's gates, raising on the first failure.
#: Contract: it removes each command from the front of the list once FreeSWITCH said +OK,
#: so after a failure the list holds exactly what was not applied.
Apply = Callable[[list[Command], str, dict[str, object]], Awaitable[None]]


@attrs.frozen
class _Change:
    after: SubscriptionState
    commands: list[Command]
    kind: str


_Plan = Callable[[SubscriptionState], "_Change | None"]


class Subscriptions:
    """``rt.subscriptions``: change what FreeSWITCH sends, live and after reconnects.

    Every method is a no-op that sends nothing when the state already matches (B-SUBS-3). A
    ``-ERR`` raises :class:`CommandError` and leaves the desired state unchanged (B-SUBS-7).

    Changes are serialised: each one is planned from the state the previous one left, so
    concurrent callers never overwrite each other. Once a change starts sending it runs to
    its end even if the caller is cancelled (each command is bounded by
    ``Timeouts.command``); it then returns normally, because the change did happen, and the
    cancellation takes effect at the caller's next checkpoint. So the desired state always
    says what FreeSWITCH has. A change of several commands that fails half-way
    (``-ERR``, refused) is undone; a lost connection is reconciled by the restore.
    """

    def __init__(self, state: SubscriptionState, apply: Apply) -> None:
        self._state = state
        self._apply = apply
        self._lock = trio.Lock()

    @property
    def state(self) -> SubscriptionState:
        """The desired state (what is restored after a reconnect)."""
        return self._state

    async def subscribe(self, *names: str) -> None:
        """Receive these events too (``event <format> <names>``, additive)."""
        await self._run(_plan_subscribe(_upper(names)))

    async def subscribe_custom(self, *subclasses: str) -> None:
        """Receive these CUSTOM subclasses (``event <format> CUSTOM a::b``, B-EVN-2)."""
        wanted = _unique(subclasses)
        if wanted:
            EventSubscribe(format=self._state.format, custom=wanted)  # validate first
        await self._run(lambda state: _plan_subscribe_custom(state, wanted))

    async def subscribe_all(self) -> None:
        """Receive every event (``event <format> ALL``)."""
        await self._run(_plan_subscribe_all)

    async def unsubscribe(self, *names: str) -> None:
        """Stop receiving these events (``nixevent``; never a shorter ``event`` list, G-1)."""
        wanted = check_event_names(names)
        await self._run(lambda state: _plan_unsubscribe(state, wanted))

    async def unsubscribe_custom(self, *subclasses: str) -> None:
        wanted = _unique(subclasses)
        await self._run(lambda state: _plan_unsubscribe_custom(state, wanted))

    async def set_format(self, format: EventFormat | str) -> None:
        """Switch the connection's event format (plain, json, xml) for every event."""
        fmt = EventFormat(format)
        await self._run(lambda state: _plan_format(state, fmt))

    async def add_filter(self, header: str, value: str) -> None:
        """Only let through events whose ``header`` matches ``value`` (FreeSWITCH semantics)."""
        FilterAdd(header=header, value=value)  # validate before touching anything
        wanted = (header, value)
        await self._run(
            lambda state: (
                None if wanted in state.filters else _plan_filters(state, (*state.filters, wanted))
            )
        )

    async def remove_filter(self, header: str, value: str) -> None:
        await self._run(
            lambda state: _plan_filters(
                state, tuple(f for f in state.filters if f != (header, value))
            )
        )

    async def _run(self, plan: _Plan) -> None:
        async with self._lock:  # cancellable: nothing has happened yet
            change = plan(self._state)
            if change is None:
                return
            if change.commands:
                await self._send(change)
            self._state = change.after

    async def _send(self, change: _Change) -> None:
        before = self._state
        detail: dict[str, object] = {"before": before.to_dict(), "after": change.after.to_dict()}
        pending = list(change.commands)
        # Shielded so that the outcome of every command is known (a reply we stopped waiting
        # for would leave the wire unknown). Each command has its own reply deadline.
        with trio.CancelScope(shield=True):
            try:
                await self._apply(pending, change.kind, detail)  # raises on refusal or -ERR
            except Exception as exc:
                done = change.commands[: len(change.commands) - len(pending)]
                if done:
                    await self._undo(done, change.kind, exc)
                raise

    async def _undo(self, done: list[Command], kind: str, error: Exception) -> None:
        """Put back what a half-applied change did, newest first (best effort)."""
        undo = [_inverse(c) for c in reversed(done)]
        try:
            await self._apply(undo, kind, {"undo": [c.describe() for c in done]})
        except Exception as exc:  # the connection died: the restore reconciles it
            error.add_note(f"undoing the applied part failed too: {exc!r}")


def _inverse(command: Command) -> Command:
    """Only filter changes take several commands, so only they are ever undone."""
    if isinstance(command, FilterAdd):
        return FilterDelete(header=command.header, value=command.value)
    if isinstance(command, FilterDelete) and command.value is not None:
        return FilterAdd(header=command.header, value=command.value)
    raise AssertionError(f"no inverse for {command.describe()}")


# -- plans: the state a change leads to and the commands that get there --------------


def _plan_subscribe(names: tuple[str, ...]) -> _Plan:
    def plan(state: SubscriptionState) -> _Change | None:
        if "ALL" in names:
            return _plan_subscribe_all(state)  # ALL covers every other name given with it
        new = [n for n in names if n not in state.names]
        if state.all:
            back = [n for n in new if n in state.excluded]
            if not back:
                return None
            after = attrs.evolve(state, excluded=tuple(n for n in state.excluded if n not in back))
            # Nothing excluded any more: say ALL again, as the restore would. FreeSWITCH's
            # "every type but X" is not ALL (it drops unlisted CUSTOM subclasses).
            command = _event(state, back if after.excluded else ["ALL"])
            return _Change(after, [command], "subscribe")
        if not new:
            return None
        after = attrs.evolve(state, names=(*state.names, *new))
        return _Change(after, [_event(state, new)], "subscribe")

    return plan


def _plan_subscribe_custom(state: SubscriptionState, wanted: tuple[str, ...]) -> _Change | None:
    new = tuple(s for s in wanted if s not in state.custom)
    if not new:
        return None
    after = attrs.evolve(state, custom=(*state.custom, *new))
    if state.all:
        return _Change(after, [], "subscribe")  # ALL already delivers them
    command = EventSubscribe(format=state.format, names=(), custom=new)
    return _Change(after, [command], "subscribe")


def _plan_subscribe_all(state: SubscriptionState) -> _Change | None:
    if state.all and not state.excluded:
        return None
    after = attrs.evolve(state, all=True, excluded=())
    return _Change(after, [_event(state, ["ALL"])], "subscribe")


def _plan_unsubscribe(state: SubscriptionState, wanted: tuple[str, ...]) -> _Change | None:
    if state.all:
        gone = [n for n in wanted if n not in state.excluded and n not in state.internal]
        after = attrs.evolve(state, excluded=(*state.excluded, *gone))
    else:
        gone = [n for n in wanted if n in state.names and n not in state.internal]
        after = attrs.evolve(state, names=tuple(n for n in state.names if n not in wanted))
    if after == state:
        return None
    # Internal names stay subscribed on the wire: nothing to send for them.
    commands: list[Command] = [NixEvent(names=tuple(gone))] if gone else []
    return _Change(after, commands, "unsubscribe")


def _plan_unsubscribe_custom(state: SubscriptionState, wanted: tuple[str, ...]) -> _Change | None:
    gone = tuple(s for s in wanted if s in state.custom)
    if not gone:
        return None
    after = attrs.evolve(state, custom=tuple(s for s in state.custom if s not in gone))
    return _Change(after, [NixEvent(names=(), custom=gone)], "unsubscribe")


def _plan_format(state: SubscriptionState, fmt: EventFormat) -> _Change | None:
    if fmt is state.format:
        return None
    after = attrs.evolve(state, format=fmt)
    return _Change(after, [EventSubscribe(format=fmt, names=(after.internal[0],))], "format")


def _plan_filters(state: SubscriptionState, filters: tuple[tuple[str, str], ...]) -> _Change | None:
    if filters == state.filters:
        return None
    after = attrs.evolve(state, filters=filters)
    return _Change(after, filter_commands(state, after), "filter")


def _event(state: SubscriptionState, names: Iterable[str]) -> EventSubscribe:
    return EventSubscribe(format=state.format, names=tuple(names))
