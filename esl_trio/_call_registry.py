"""The calls of one runtime: their scopes, and the one task that keeps them true.

:class:`CallRegistry` opens call scopes (``rt.originate`` / ``rt.attach``), registers each call
in the hub's Unique-ID index *before* anything is sent, and runs a single task for all calls:

* when the connection drops, in-flight executes fail with ``ConnectionLostError``;
* once READY again, every call is resynced (``uuid_exists``, then ``uuid_dump``): a channel
  that ended meanwhile ends its call with ``ENDED_WHILE_DISCONNECTED``;
* hangups that could not be sent when a scope was left (no connection, or an originate whose
  channel did not exist yet) are sent later, and forgotten after ``kill_window`` seconds;
* when the runtime stops for good, every call ends (its waits raise, its receivers end).
"""

from __future__ import annotations

import math
import uuid as uuid_module
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Final

import trio
import trio.lowlevel

from ._call import Call, CallRuntime
from ._call_dial import check_word, dial_string
from ._errors import (
    BackpressureError,
    ConnectionLostError,
    DrainError,
    EslError,
    EslTimeoutError,
    NotReadyError,
)
from ._hub import EventHub
from ._state import RuntimeState
from .protocol import Event, EventFormat

__all__ = ["CALL_EVENTS", "CallRegistry"]

#: What a call needs FreeSWITCH to send (subscribed once, on the first call). CHANNEL_STATE is
#: left out: it is 40% of a call's events, and every other channel event carries the
#: Channel-State header too (subscribe it yourself to wait for each CS_* transition).
CALL_EVENTS: Final = (
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_CALLSTATE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CALL_UPDATE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
    "DTMF",
)
_NOT_READY: Final = (RuntimeState.RECONNECTING, RuntimeState.FAILED, RuntimeState.CLOSED)
_SETTLED: Final = (RuntimeState.READY, RuntimeState.FAILED, RuntimeState.CLOSED)
#: Failures that a later READY mends: the registry waits for it instead of failing.
_TRANSIENT: Final = (ConnectionLostError, NotReadyError, EslTimeoutError, DrainError)
#: How long the registry task backs off when the runtime's own max_inflight refuses it.
_BUSY_PAUSE: Final = 0.1
#: Seconds a scope's exit may take to send its hangup (shielded from cancellation).
EXIT_TIMEOUT: Final = 5.0
#: Hangups owed but not sendable yet; beyond that many the oldest is given up (bounded).
MAX_OWED_KILLS: Final = 10_000


class CallRegistry:
    """Calls by uuid, the owed hangups, and the registry task."""

    def __init__(
        self,
        runtime: CallRuntime,
        hub: EventHub,
        not_ready: Callable[[RuntimeState], BaseException],
    ) -> None:
        self._runtime = runtime
        self._hub = hub
        self._not_ready = not_ready
        self._calls: dict[str, Call] = {}
        self._stale: set[Call] = set()
        self._owed_kills: dict[str, tuple[str, float, Call]] = {}  # uuid -> cause, give up at
        self._subscribed = False
        self._idle: trio.CancelScope | None = None
        self._poked = False  # a poke while the task was busy is not lost
        self._stopped: BaseException | None = None

    @property
    def runtime(self) -> CallRuntime:
        """The runtime the calls run on (their commands go through its public methods)."""
        return self._runtime

    def __len__(self) -> int:
        return len(self._calls)

    # -- scopes ------------------------------------------------------------------------

    @asynccontextmanager
    async def originate(
        self,
        destination: str,
        *,
        app: str,
        app_arg: str,
        variables: Mapping[str, str] | None,
        timeout: float,  # noqa: ASYNC109 - sent to FreeSWITCH as originate_timeout
    ) -> AsyncIterator[Call]:
        uuid = str(uuid_module.uuid4())
        args = dial_string(
            destination, uuid=uuid, app=app, app_arg=app_arg, variables=variables, timeout=timeout
        )
        await self._subscribe()
        call = self._open(uuid, destination=destination, hangup_on_exit=True)
        try:
            await self._dial(call, args, timeout)
            yield call
        finally:
            await self._leave(call)

    async def _dial(self, call: Call, args: str, limit: float) -> None:
        call._dialing = True  # from here FreeSWITCH may create the channel at any moment
        try:
            call._job = await self._runtime.bgapi("originate", args)
        except ConnectionLostError as lost:
            if not lost.written:
                raise
            # FreeSWITCH may have dialled: look before reporting, never dial again.
            if not await self._exists_after_reconnect(call.uuid, limit):
                raise
            self.note_gap(call)

    async def _exists_after_reconnect(self, uuid: str, limit: float) -> bool:
        with trio.move_on_after(limit):
            while True:
                state = await self._runtime.wait_state(*_SETTLED)
                if state is not RuntimeState.READY:
                    return False
                try:
                    return (await self._runtime.api("uuid_exists", uuid)).text.strip() == "true"
                except _TRANSIENT:
                    await trio.lowlevel.checkpoint()  # lost again: wait for the next READY
        return False

    @asynccontextmanager
    async def attach(self, uuid: str, *, hangup_on_exit: bool) -> AsyncIterator[Call]:
        check_word("call uuid", uuid)
        if uuid in self._calls:
            raise ValueError(f"call {uuid} already has an open scope on this runtime")
        await self._subscribe()
        call = self._open(uuid, destination="", hangup_on_exit=hangup_on_exit)
        try:
            dump = await self._dump(uuid)  # events already routed: nothing from now is missed
            if dump is None:
                raise EslError(f"no channel {uuid} on FreeSWITCH (uuid_exists: false)")
            call.resynced(dump)
            yield call
        finally:
            await self._leave(call)

    def _open(self, uuid: str, *, destination: str, hangup_on_exit: bool) -> Call:
        call = Call(self, uuid, destination=destination, hangup_on_exit=hangup_on_exit)
        if self._stopped is not None:
            raise self._stopped
        self._calls[uuid] = call
        self._hub.add_unique_id_sink(uuid, call)
        return call

    async def _subscribe(self) -> None:
        if not self._subscribed:
            await self._runtime.subscriptions.subscribe(*CALL_EVENTS)
            self._subscribed = True

    async def _leave(self, call: Call) -> None:
        """Scope exit, by any route: hang up if owed (bounded, shielded), then forget."""
        owed = False
        with trio.CancelScope(shield=True):
            with trio.move_on_after(EXIT_TIMEOUT):
                if call.hangup_on_exit and call.hangup_outcome is None and not call._ended:
                    owed = await self._hang_up(call)
        call._finish(EslError(f"the scope of call {call.uuid} was left"))
        if owed:
            # Still indexed: its next event (e.g. the CHANNEL_CREATE of a late originate)
            # wakes the registry task, which sends the hangup then.
            call._left = True
            if self._calls.get(call.uuid) is call:
                del self._calls[call.uuid]
            self._stale.discard(call)
        else:
            self.forget(call)

    async def _hang_up(self, call: Call) -> bool:
        """True when the hangup could not be done now and is owed."""
        cause = "NORMAL_CLEARING" if call.answered else "ORIGINATOR_CANCEL"
        try:
            reply = await self._runtime.api("uuid_kill", f"{call.uuid} {cause}")
        except EslError:
            return self._owe_kill(call, cause)  # no connection now: the registry task sends it
        job = call._job
        if reply.is_error and call._dialing and (job is None or not job.done):
            return self._owe_kill(call, cause)  # the originate has not created the channel yet
        return False

    def _owe_kill(self, call: Call, cause: str) -> bool:
        if len(self._owed_kills) >= MAX_OWED_KILLS:
            _, _, oldest = self._owed_kills.pop(next(iter(self._owed_kills)))
            self.forget(oldest)
        window = self._runtime.config.timeouts.bgapi_completion
        self._owed_kills[call.uuid] = (cause, trio.current_time() + window, call)
        self.poke()
        return True

    # -- hooks the calls use -----------------------------------------------------------

    def forget(self, call: Call) -> None:
        if self._calls.get(call.uuid) is call:
            del self._calls[call.uuid]
        self._stale.discard(call)
        self._hub.remove_unique_id_sink(call.uuid, call)

    def note_gap(self, call: Call) -> None:
        self._stale.add(call)
        self.poke()

    def poke(self) -> None:
        self._poked = True
        if self._idle is not None:
            self._idle.cancel()

    # -- the registry task -------------------------------------------------------------

    async def run(self) -> None:
        """The one task for every call: connection loss, resync, owed hangups, the end."""
        rt = self._runtime
        while True:
            with trio.CancelScope() as idle:
                self._idle = idle
                idle.deadline = min((k[1] for k in self._owed_kills.values()), default=math.inf)
                if rt.state is RuntimeState.READY and not self._stale and not self._poked:
                    await rt.wait_state(*_NOT_READY)  # or a poke, or an owed kill's deadline
            self._idle = None
            self._poked = False
            if rt.state is RuntimeState.RECONNECTING:
                for call in list(self._calls.values()):
                    call.connection_lost()
                    self._stale.add(call)
            state = await rt.wait_state(*_SETTLED)
            if state is not RuntimeState.READY:
                self._stop(self._not_ready(state))
                return
            await self._resync()
            await self._send_owed_kills()

    async def _resync(self) -> None:
        for call in list(self._stale):
            try:
                dump = await self._dump(call.uuid)
            except _TRANSIENT:
                return  # lost again (or shutting down): the next READY resumes
            except BackpressureError:
                await trio.sleep(_BUSY_PAUSE)  # our own cap: let work drain, then go on
                return
            except EslError:
                # FreeSWITCH refused (e.g. -ERR permission denied): keep what we know. A
                # background task must never crash the runtime with it.
                self._stale.discard(call)
                continue
            self._stale.discard(call)
            call.resynced(dump)

    async def _dump(self, uuid: str) -> Event | None:
        """The channel's ``uuid_dump`` as an event, or None when ``uuid_exists`` says false."""
        rt = self._runtime
        if (await rt.api("uuid_exists", uuid)).text.strip() != "true":
            return None
        reply = await rt.api("uuid_dump", uuid)
        if reply.is_error:
            return None  # it ended between the two questions
        # uuid_dump prints the channel's event, serialized like an event-plain body.
        return Event(EventFormat.PLAIN, reply.body.rstrip(b"\n") + b"\n\n")

    async def _send_owed_kills(self) -> None:
        now = trio.current_time()
        for uuid, (cause, give_up_at, call) in list(self._owed_kills.items()):
            if call.hangup_outcome is None and now < give_up_at:
                try:
                    reply = await self._runtime.api("uuid_kill", f"{uuid} {cause}")
                except _TRANSIENT:
                    return
                except BackpressureError:
                    await trio.sleep(_BUSY_PAUSE)
                    return
                except EslError:
                    pass  # refused for good: give it up (forgotten below)
                else:
                    if reply.is_error and call.hangup_outcome is None:
                        continue  # not created yet: its first event pokes us again
            del self._owed_kills[uuid]
            self.forget(call)

    def _stop(self, error: BaseException) -> None:
        """The runtime stopped for good: end every call."""
        self._stopped = error
        for call in list(self._calls.values()):
            call.close(error)
