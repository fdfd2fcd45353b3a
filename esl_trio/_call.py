"""``Call``: one FreeSWITCH channel followed through its own events.

A call is an :class:`~esl_trio._hub.EventSink` in the hub's Unique-ID index: the reader hands
it the channel's events synchronously (:meth:`Call.offer`, never awaits), and it updates its
state, settles the waits that event answers and feeds the call's own receivers. No call owns
a task: waits park on one lazily created :class:`trio.Event`, and the reconnect resync is done
for every call by the one registry task (:mod:`._call_registry`).
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping
from typing import Final, Literal, Protocol, overload

import trio

from ._call_dial import check_digits, check_word
from ._call_feeds import Feed, open_call_receiver
from ._call_values import (
    ENDED_WHILE_DISCONNECTED,
    CallEndedError,
    CallState,
    Hangup,
    OriginateError,
)
from ._config import RuntimeConfig
from ._errors import CommandError, ConnectionLostError, NotReadyError
from ._jobs import BackgroundJob
from ._receivers import GapReason, Overflow, Receiver
from ._state import RuntimeState
from ._subscriptions import Subscriptions
from .protocol import ApiReply, CommandReply, Event, SendMsg

__all__ = ["Call", "CallCommands", "CallKeeper", "CallRuntime"]


class CallCommands(Protocol):
    """What a call sends its commands through: an inbound runtime, or the outbound socket
    FreeSWITCH opened for the call."""

    async def api(self, command: str, args: str = "") -> ApiReply: ...
    async def sendmsg(self, message: SendMsg) -> CommandReply: ...


class CallRuntime(CallCommands, Protocol):
    """What the call registry uses of the runtime: its public commands and state."""

    config: RuntimeConfig

    @property
    def state(self) -> RuntimeState: ...
    @property
    def subscriptions(self) -> Subscriptions: ...
    async def bgapi(self, command: str, args: str = "") -> BackgroundJob: ...
    async def wait_state(self, *states: RuntimeState) -> RuntimeState: ...


class CallKeeper(Protocol):
    """What a call tells the registry that keeps it (``CallRegistry`` is one; an outbound
    socket's link is another)."""

    @property
    def runtime(self) -> CallCommands: ...
    def poke(self) -> None: ...
    def note_gap(self, call: Call) -> None: ...
    def forget(self, call: Call) -> None: ...


#: Events whose headers carry the channel's ``variable_*`` block (FreeSWITCH's extended
#: channel data); CHANNEL_STATE and CHANNEL_CALLSTATE carry the basic block only.
_WITH_VARIABLES: Final = frozenset(
    {
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_ANSWER",
        "CALL_UPDATE",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
        "CHANNEL_DATA",
    }
)
_HANGUP_EVENTS: Final = frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})
_UNDEFINED: Final = "_undef_"  # what uuid_getvar prints for an unset variable
_NO_REPLY: Final = "-ERR no reply"  # an api command that printed nothing


def _field(event: Event, name: str) -> str | None:
    """One header without decoding the whole event (the reader's hot path: a byte search)."""
    return event.peek(name)


class _Completion:
    """One ``execute`` waiting for the CHANNEL_EXECUTE_COMPLETE with its Application-UUID."""

    __slots__ = ("app", "done", "error", "event", "started")

    def __init__(self, app: str) -> None:
        self.app = app
        self.done = trio.Event()
        self.event: Event | None = None
        self.error: BaseException | None = None
        #: Its CHANNEL_EXECUTE came: FreeSWITCH runs it, and completes it even on a hangup.
        self.started = False

    def settle(self, event: Event | None, error: BaseException | None = None) -> None:
        if not self.done.is_set():
            self.event, self.error = event, error
            self.done.set()


class Call:
    """A channel: its state, its events, and the commands that act on it.

    Get one from ``async with rt.originate(...)`` or ``async with rt.attach(uuid)``; the
    ``async with`` block is the call's scope (leaving it hangs an originated call up).
    """

    __slots__ = (
        "__weakref__",
        "_answered",
        "_changed",
        "_closed_error",
        "_completions",
        "_dialing",
        "_dtmf_feeds",
        "_ended",
        "_event_feeds",
        "_hangup",
        "_job",
        "_job_scopes",
        "_left",
        "_registry",
        "_state_cache",
        "_state_event",
        "_variables_event",
        "destination",
        "hangup_on_exit",
        "uuid",
    )

    def __init__(
        self, registry: CallKeeper, uuid: str, *, destination: str, hangup_on_exit: bool
    ) -> None:
        #: The channel's ``Unique-ID`` (chosen by the client for an originate).
        self.uuid = uuid
        #: The originate destination ("" for an attached call).
        self.destination = destination
        #: Leaving the scope hangs the channel up (originate: True; attach: as asked).
        self.hangup_on_exit = hangup_on_exit
        self._registry = registry
        self._state_event: Event | None = None
        self._state_cache: tuple[Event | None, CallState] = (None, CallState())
        self._variables_event: Event | None = None
        self._answered = False
        self._hangup: Hangup | None = None
        self._ended = False  # CHANNEL_DESTROY seen, or gone after a reconnect
        self._closed_error: BaseException | None = None
        self._job: BackgroundJob | None = None
        self._dialing = False  # the originate was (maybe) written
        self._job_scopes: set[trio.CancelScope] = set()
        self._completions: dict[str, _Completion] = {}
        self._event_feeds: list[tuple[frozenset[str], Feed[Event]]] = []
        self._dtmf_feeds: list[Feed[str]] = []
        self._changed: trio.Event | None = None
        self._left = False  # the scope was left owing a hangup (see CallRegistry._leave)

    def __repr__(self) -> str:
        return f"<Call {self.uuid} {self.state.call_state or 'NEW'}>"

    # -- what it knows -----------------------------------------------------------------

    @property
    def state(self) -> CallState:
        """The channel and call state of the last event that reported them.

        Read from that event on access (and cached), not per event: the reader only keeps it.
        """
        event = self._state_event
        cached_for, cached = self._state_cache
        if event is None or event is cached_for:
            return cached
        state = CallState(
            _field(event, "Channel-State") or cached.channel_state,
            _field(event, "Channel-Call-State") or cached.call_state,
            _field(event, "Answer-State") or cached.answer_state,
        )
        self._state_cache = (event, state)
        return state

    @property
    def variables(self) -> Mapping[str, str]:
        """The channel variables of the last event that carried them (without ``variable_``).

        Decoded on access, not per event.
        """
        event = self._variables_event
        if event is None:
            return {}
        prefix = len("variable_")
        return {n[prefix:]: v for n, v in event.headers.items() if n.startswith("variable_")}

    @property
    def answered(self) -> bool:
        return self._answered

    @property
    def hangup_outcome(self) -> Hangup | None:
        """How the call ended; None while it is up."""
        return self._hangup

    # -- the sink the hub feeds (synchronous, hot path) --------------------------------

    def offer(self, event: Event, generation: int) -> bool:
        """One event of this channel, from the reader; never awaits, always taken."""
        if self._ended:
            return True
        name = event.name
        if self._left:  # only the owed hangup matters now
            if name in _HANGUP_EVENTS and self._hangup is None:
                self._hangup = Hangup(_field(event, "Hangup-Cause") or "NORMAL_UNSPECIFIED")
            self._registry.poke()
            return True
        if name != "DTMF":  # every channel event has the state block; read on demand
            self._state_event = event
        if name in _WITH_VARIABLES:
            self._variables_event = event
        if name == "CHANNEL_EXECUTE_COMPLETE":
            completion = self._completions.pop(_field(event, "Application-UUID") or "", None)
            if completion is not None:
                completion.settle(event)
        elif name == "CHANNEL_EXECUTE" and self._completions:
            completion = self._completions.get(_field(event, "Application-UUID") or "")
            if completion is not None:
                completion.started = True
        elif name == "DTMF":
            digit = _field(event, "DTMF-Digit")
            if digit:
                for dtmf in self._dtmf_feeds:
                    dtmf.offer(digit, generation)
        elif name == "CHANNEL_ANSWER" and not self._answered:
            self._answered = True
            self._wake_job_waiters()
        elif name in _HANGUP_EVENTS and self._hangup is None:
            self._hangup = Hangup(
                _field(event, "Hangup-Cause") or "NORMAL_UNSPECIFIED", event=event
            )
            self._end_dtmf()  # no digit comes after the hangup: those loops end now
            self._wake_job_waiters()
        if name in _HANGUP_EVENTS and self._completions:
            # Queued applications never run once the channel hung up; the running one still
            # completes, before CHANNEL_HANGUP_COMPLETE.
            self._fail_unfinished(everything=name == "CHANNEL_HANGUP_COMPLETE")
        for names, feed in self._event_feeds:
            if not names or name in names:
                feed.offer(event, generation)
        if name == "CHANNEL_DESTROY":
            self._end(Hangup(self._hangup.cause if self._hangup else "NORMAL_UNSPECIFIED"))
        self._notify()
        return True

    def _fail_unfinished(self, *, everything: bool) -> None:
        outcome = self._hangup or Hangup("NORMAL_UNSPECIFIED")
        for key, completion in list(self._completions.items()):
            if everything or not completion.started:
                del self._completions[key]
                what = f"{completion.app} ran (the channel hung up first)"
                completion.settle(None, CallEndedError(self.uuid, what, outcome))

    def mark_gap(self, reason: GapReason, generation: int) -> None:
        """Events of this channel were lost (a reconnect): tell its receivers, resync later."""
        for _, feed in self._event_feeds:
            feed.mark_gap(reason, generation)
        for dtmf in self._dtmf_feeds:
            dtmf.mark_gap(reason, generation)
        self.connection_lost()
        self._registry.note_gap(self)

    def flush_gap(self) -> None:
        """READY again: the reconnect markers are readable now; the registry task resyncs."""
        for _, feed in self._event_feeds:
            feed.flush_gap()
        for dtmf in self._dtmf_feeds:
            dtmf.flush_gap()
        self._registry.poke()

    def close(self, error: BaseException | None = None) -> None:
        """The runtime stopped: every wait and receiver of this call ends."""
        if self._closed_error is None and not self._ended:
            self._closed_error = error or NotReadyError(
                f"the runtime stopped; call {self.uuid} can no longer be followed"
            )
            self._finish(self._closed_error)

    # -- registry hooks ----------------------------------------------------------------

    def connection_lost(self) -> None:
        """The socket died: an execute waiting for its completion will never see it."""
        if self._completions:
            error = ConnectionLostError(
                f"connection lost while an application ran on call {self.uuid}; it may have"
                " completed (check the call's state)",
                written=True,
            )
            for completion in self._completions.values():
                completion.settle(None, error)
            self._completions.clear()
        self._notify()

    def resynced(self, dump: Event | None) -> None:
        """The registry's ``uuid_exists``/``uuid_dump`` after a reconnect (None: gone)."""
        if self._ended:
            return
        if dump is None:
            outcome = self._hangup or Hangup(ENDED_WHILE_DISCONNECTED, while_disconnected=True)
            self._hangup = outcome
            self._end(outcome)
        else:
            self._state_event = self._variables_event = dump
            state = self.state
            answered_at = _field(dump, "Caller-Channel-Answered-Time") or "0"
            if state.answer_state == "answered" or answered_at != "0":
                self._answered = True
            if state.call_state == "HANGUP" and self._hangup is None:
                self._hangup = Hangup(_field(dump, "Hangup-Cause") or ENDED_WHILE_DISCONNECTED)
        self._wake_job_waiters()
        self._notify()

    def released(self, cause: str | None = None) -> None:
        """Its keeper lets the channel go (an outbound socket closed once the handler was
        done, or after the hangup): waits end as on a hangup, receivers end without an error.

        ``cause``: the channel is known to be gone (the hangup outcome, unless an event gave
        the real one); None: it may still be up (resumed into the dialplan)."""
        if self._hangup is None and cause is not None:
            self._hangup = Hangup(cause)
        if not self._ended and self._closed_error is None:
            self._end(self._hangup or Hangup("NORMAL_CLEARING"))

    def _end(self, outcome: Hangup) -> None:
        """The channel is gone: fail what waits for it, end its receivers, leave the index."""
        self._ended = True
        self._finish(CallEndedError(self.uuid, "the application completed", outcome))
        self._registry.forget(self)

    def _finish(self, error: BaseException) -> None:
        for completion in self._completions.values():
            completion.settle(None, error)
        self._completions.clear()
        # Receivers end (iteration stops) when the channel is gone; they raise the runtime's
        # terminal error when it stopped for good.
        for _, feed in list(self._event_feeds):
            feed.close(self._closed_error)
        for dtmf in list(self._dtmf_feeds):
            dtmf.close(self._closed_error)
        self._wake_job_waiters()
        self._notify()

    def _notify(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def _wake_job_waiters(self) -> None:
        for scope in self._job_scopes:
            scope.cancel()

    async def _changes(self) -> None:
        if self._closed_error is not None:
            raise self._closed_error
        if self._changed is None:
            self._changed = trio.Event()
        await self._changed.wait()

    # -- waits -------------------------------------------------------------------------

    async def wait_answered(self) -> None:
        """Until the channel is answered.

        Raises :class:`OriginateError` (with FreeSWITCH's cause) when an originate fails,
        :class:`CallEndedError` when an attached channel hangs up first.
        """
        while not self._answered:
            if self._hangup is not None:
                self._raise_not_answered(self._hangup)
            if self._closed_error is not None:
                raise self._closed_error
            job = self._job
            if job is not None and not job.done:
                await self._wait_job(job)
            elif job is not None and self._take_job_result(job):
                continue  # the originate's result decided it
            else:
                await self._changes()

    async def _wait_job(self, job: BackgroundJob) -> None:
        """Wait for the originate result; an answer, hangup or resync interrupts it."""
        with trio.CancelScope() as scope:
            self._job_scopes.add(scope)
            try:
                await job.wait()
            except Exception:
                if not (self._answered or self._hangup):
                    raise
            finally:
                self._job_scopes.discard(scope)

    def _take_job_result(self, job: BackgroundJob) -> bool:
        """Apply the originate's result; True when it decided the answer or the failure."""
        try:
            result = job.result_nowait()
        except trio.WouldBlock:
            return False
        text = result.result.strip()
        if text.startswith("-ERR") and self._hangup is None:
            cause = (text.removeprefix("-ERR").split() or ["NORMAL_UNSPECIFIED"])[0]
            self._hangup = Hangup(cause, event=result)
        elif text.startswith("+OK"):
            self._answered = True  # FreeSWITCH answers the originate once the far end did
        return self._answered or self._hangup is not None

    def _raise_not_answered(self, outcome: Hangup) -> None:
        if self.destination:
            raise OriginateError(
                self.destination, outcome.cause, while_disconnected=outcome.while_disconnected
            )
        raise CallEndedError(self.uuid, "it was answered", outcome)

    async def wait_hangup(self) -> Hangup:
        """Until the channel hangs up; returns how (the cause).

        A channel found gone after a reconnect returns
        ``Hangup(ENDED_WHILE_DISCONNECTED, while_disconnected=True)``.
        """
        while self._hangup is None:
            if self._ended:
                return Hangup(ENDED_WHILE_DISCONNECTED, while_disconnected=True)
            await self._changes()
        return self._hangup

    async def wait_state(self, *states: str) -> CallState:
        """Until the channel state (``CS_*``) or call state (``ACTIVE``...) is one of
        ``states``; raises :class:`CallEndedError` if the call ends first."""
        wanted = frozenset(s.upper() for s in states)
        while True:
            state = self.state
            if state.channel_state in wanted or state.call_state in wanted:
                return state
            if self._ended or self._closed_error is not None:
                if self._closed_error is not None:
                    raise self._closed_error
                outcome = self._hangup or Hangup(ENDED_WHILE_DISCONNECTED, True)
                raise CallEndedError(self.uuid, f"reaching {sorted(wanted)}", outcome)
            await self._changes()

    # -- receivers ---------------------------------------------------------------------

    def events(
        self, *names: str, max_buffer: int = 1000, overflow: Overflow | str = Overflow.DROP_NEWEST
    ) -> Receiver[Event]:
        """A bounded receiver of this call's events named ``names`` (none: all of them).

        It ends when the channel is destroyed, the scope is left or the runtime stops.
        """
        wanted = frozenset(n.upper() for n in names)
        label = f"call {self.uuid} " + (",".join(sorted(wanted)) or "*")
        opened: tuple[Receiver[Event], Feed[Event]] = open_call_receiver(
            label, max_buffer, overflow, self._drop_feed
        )
        receiver, feed = opened
        if self._finished():
            feed.close(self._closed_error)  # a receiver of a finished call ends at once
        else:
            self._event_feeds.append((wanted, feed))
        return receiver

    def dtmf(self, *, max_buffer: int = 100) -> Receiver[str]:
        """A receiver of the DTMF digits this channel receives (``"1"``, ``"#"``...).

        It ends when the channel hangs up (after the digits it holds), or the runtime stops.
        """
        opened: tuple[Receiver[str], Feed[str]] = open_call_receiver(
            f"call {self.uuid} dtmf", max_buffer, Overflow.DROP_NEWEST, self._drop_feed
        )
        receiver, feed = opened
        if self._finished() or self._hangup is not None:
            feed.close(self._closed_error)
        else:
            self._dtmf_feeds.append(feed)
        return receiver

    def _end_dtmf(self) -> None:
        for dtmf in self._dtmf_feeds:
            dtmf.close(None)
        self._dtmf_feeds = []

    def _finished(self) -> bool:
        return self._ended or self._left or self._closed_error is not None

    def _drop_feed(self, receiver: Feed[Event] | Feed[str]) -> None:
        self._event_feeds = [(n, f) for n, f in self._event_feeds if f is not receiver]
        self._dtmf_feeds = [f for f in self._dtmf_feeds if f is not receiver]

    # -- commands ----------------------------------------------------------------------

    @overload
    async def execute(self, app: str, arg: str = "", *, wait: Literal[True] = True) -> Event: ...
    @overload
    async def execute(self, app: str, arg: str = "", *, wait: Literal[False]) -> None: ...
    async def execute(self, app: str, arg: str = "", *, wait: bool = True) -> Event | None:
        """Run dialplan application ``app`` on the channel (``sendmsg`` with ``event-lock``).

        With ``wait`` (default), returns the CHANNEL_EXECUTE_COMPLETE whose Application-UUID
        is this execution's ``Event-UUID`` (FreeSWITCH copies one into the other). Raises
        :class:`CallEndedError` if the channel is destroyed first and
        :class:`ConnectionLostError` (``written=True``) if the connection drops meanwhile.
        """
        self._check_usable(f"executing {app}")
        event_uuid = str(uuid_module.uuid4())
        headers = [("call-command", "execute"), ("execute-app-name", app)]
        if arg:
            headers.append(("execute-app-arg", arg))
        headers += [("event-lock", "true"), ("Event-UUID", event_uuid)]
        message = SendMsg(self.uuid, headers)
        completion = _Completion(app)
        if wait:  # registered before the command is written: the completion cannot be missed
            self._completions[event_uuid] = completion
        try:
            await self._registry.runtime.sendmsg(message)
            if not wait:
                return None
            await completion.done.wait()
        finally:
            self._completions.pop(event_uuid, None)
        if completion.error is not None:
            raise completion.error
        assert completion.event is not None
        return completion.event

    def _check_usable(self, what: str) -> None:
        if self._closed_error is not None:
            raise self._closed_error
        if self._ended or self._hangup is not None:
            raise CallEndedError(self.uuid, what, self._hangup or Hangup("NORMAL_UNSPECIFIED"))

    async def _api(self, command: str, args: str) -> ApiReply:
        self._check_usable(command)
        reply = await self._registry.runtime.api(command, args)
        if reply.is_error:
            raise CommandError(f"api {command} {args}", reply.text.strip())
        return reply

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> Hangup:
        """Hang the channel up with ``cause`` and wait for its CHANNEL_HANGUP."""
        check_word("hangup cause", cause)
        if self._hangup is None and not self._ended:
            reply = await self._registry.runtime.api("uuid_kill", f"{self.uuid} {cause}")
            if reply.is_error and self._hangup is None:  # raced with its own hangup: fine
                raise CommandError(f"api uuid_kill {self.uuid}", reply.text.strip())
        return await self.wait_hangup()

    async def answer(self) -> Event:
        """Answer the channel (``answer``); returns its EXECUTE_COMPLETE."""
        return await self.execute("answer")

    async def park(self) -> None:
        """Park the channel (``park``): it waits, media up, until something else happens.

        Returns once FreeSWITCH accepted the command; park only completes when unparked.
        """
        await self.execute("park", wait=False)

    async def playback(self, path: str) -> Event:
        """Play ``path`` (a file or ``tone_stream://...``); returns the EXECUTE_COMPLETE
        (``Application-Response``: ``FILE PLAYED``, ``FILE NOT FOUND``...)."""
        return await self.execute("playback", path)

    async def record(
        self,
        path: str,
        *,
        time_limit: int | None = None,
        silence_threshold: int | None = None,
        silence_hits: int | None = None,
    ) -> Event:
        """Record the channel to ``path`` until hangup, ``#``, the time limit or silence."""
        check_word("record path", path)
        extra = [time_limit, silence_threshold, silence_hits]
        while extra and extra[-1] is None:
            extra.pop()
        if any(value is None for value in extra):
            raise ValueError("record: silence_hits needs silence_threshold and time_limit")
        return await self.execute("record", " ".join([path, *(str(v) for v in extra)]))

    async def play_and_get_digits(
        self,
        prompt: str,
        *,
        min_digits: int = 1,
        max_digits: int = 1,
        tries: int = 3,
        timeout: float = 5.0,  # noqa: ASYNC109 - play_and_get_digits' own, run by FreeSWITCH
        terminators: str = "#",
        invalid: str = "silence_stream://250",
        variable: str = "esl_trio_digits",
        regexp: str = "\\d+",
        digit_timeout: float | None = None,
    ) -> str:
        """Play ``prompt`` and collect digits (``play_and_get_digits``); returns them ("" if
        none matched ``regexp`` after ``tries``)."""
        for label, word in (("prompt", prompt), ("invalid", invalid), ("regexp", regexp)):
            check_word(f"play_and_get_digits {label}", word)
        check_word("play_and_get_digits variable", variable)
        if terminators:
            check_digits(terminators)
        if not 1 <= min_digits <= max_digits:
            raise ValueError("play_and_get_digits: need 1 <= min_digits <= max_digits")
        args = [
            str(min_digits), str(max_digits), str(tries), str(round(timeout * 1000)),
            terminators or "none", prompt, invalid, variable, regexp,
        ]  # fmt: skip
        if digit_timeout is not None:
            args.append(str(round(digit_timeout * 1000)))
        done = await self.execute("play_and_get_digits", " ".join(args))
        return done.get(f"variable_{variable}") or ""

    async def send_dtmf(self, digits: str, *, duration_ms: int | None = None) -> None:
        """Send DTMF ``digits`` to the channel (``uuid_send_dtmf``)."""
        check_digits(digits)
        args = f"{self.uuid} {digits}" + (f"@{duration_ms}" if duration_ms else "")
        self._check_usable("uuid_send_dtmf")
        reply = await self._registry.runtime.api("uuid_send_dtmf", args)
        # mod_commands writes nothing when it sent the digits, which mod_event_socket turns
        # into "-ERR no reply": that one -ERR is the success.
        if reply.is_error and reply.text.strip() != _NO_REPLY:
            raise CommandError(f"api uuid_send_dtmf {args}", reply.text.strip())

    async def set(self, name: str, value: str) -> None:
        """Set channel variable ``name`` (``uuid_setvar``)."""
        check_word("variable name", name)
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"variable {name}: the value must not hold CR, LF or NUL")
        await self._api("uuid_setvar", f"{self.uuid} {name} {value}")

    async def getvar(self, name: str) -> str | None:
        """Channel variable ``name`` (``uuid_getvar``); None when unset."""
        check_word("variable name", name)
        text = (await self._api("uuid_getvar", f"{self.uuid} {name}")).text.rstrip("\n")
        return None if text == _UNDEFINED else text

    async def bridge(self, other: Call | str) -> None:
        """Bridge this channel with ``other`` (``uuid_bridge``); CHANNEL_BRIDGE follows."""
        other_uuid = other.uuid if isinstance(other, Call) else check_word("bridge uuid", other)
        await self._api("uuid_bridge", f"{self.uuid} {other_uuid}")

    async def transfer(
        self, destination: str, *, dialplan: str = "XML", context: str = "default"
    ) -> None:
        """Send the channel to ``destination`` in ``dialplan``/``context`` (``uuid_transfer``)."""
        for label, word in (
            ("destination", destination),
            ("dialplan", dialplan),
            ("context", context),
        ):
            check_word(f"transfer {label}", word)
        await self._api("uuid_transfer", f"{self.uuid} {destination} {dialplan} {context}")
