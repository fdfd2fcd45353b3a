r"""A fake FreeSWITCH that dials *your* outbound-socket server, one connection per call.

In outbound mode FreeSWITCH is the client: a dialplan ``socket host:port async full`` makes it
connect to the application for each call, wait for ``connect``, and hand over the channel.
:func:`open_fake_dialer` plays that side, over real TCP or over in-memory streams (for
``autojump_clock``)::

    async with open_fake_dialer() as dialer:
        call, stream = await dialer.dial_memory(variables={"caller": "1000"})
        # ... your server code reads `stream` (its accepted connection) ...
        await call.wait_command("sendmsg")
        call.send_dtmf("42")
        call.hangup("USER_BUSY")
        await call.wait_closed()

The wire behaviour is :class:`._outbound_session.OutboundSession`'s (its docstring lists what is
modelled, from mod_event_socket.c and the recorded session); this module does the I/O and the
timing: per call a reader (commands, in order; the first one must come within 25 s of trio
time, else the goodbye and close, as ``listener_run`` does), an application runner (the
channel's applications one after another, each taking ``app_durations[name]`` seconds of trio
time, or what its argument says: ``sleep``, ``play_and_get_digits`` waiting for the digits of
:meth:`FakeOutboundCall.send_dtmf`; in static mode inside the command that started it) and the
writer of one bounded outbox, all in the dialer's nursery.

For tests of a server facing a broken FreeSWITCH: :meth:`FakeOutboundCall.send_raw` (bytes in
order with the rest), :meth:`FakeOutboundCall.send_oversize_frame`,
:meth:`FakeOutboundCall.drop` (close now, no notice), and the dial options ``connect_reply``
(False: never answer ``connect``) and ``connect_delay``.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid as uuid_module
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Final, TypeAlias, TypedDict, Unpack

import attrs
import trio

from esl_trio._groups import nursery_layer_removed
from esl_trio.protocol import RemoteProtocolError
from esl_trio.protocol.server import command_reply

from ._api import ApiHandler
from ._events import EmittedEvent, HeadersInput, Identity, normalize_headers
from ._outbound_session import (
    FIRST_COMMAND_TIMEOUT,
    App,
    Channel,
    Collect,
    OutboundCommand,
    OutboundCommandReader,
    OutboundSession,
    Output,
    check_value,
)
from ._pipe import bounded_stream_pair

__all__ = ["DialOptions", "FakeDialer", "FakeOutboundCall", "OutboundCommand", "open_fake_dialer"]

#: What a test can wait for: a verb (``"sendmsg"``), a line prefix (``"linger 5"``), a
#: predicate, or None for any command.
OutboundMatch: TypeAlias = str | Callable[[OutboundCommand], bool] | None

_CLOSE: Final = b""  # outbox marker: close the socket after what precedes it
_MEMORY_ADDRESS: Final = ("127.0.0.1", 8084)  # FreeSWITCH's default socket port
_RECEIVE_SIZE: Final = 65536


class FakeOutboundCall:
    """One call the fake dialer placed: inspect what your server sent, drive the channel.

    Attributes:
        uuid: the channel's ``Unique-ID``.
        commands: every command received on this socket, in order.
        applications: ``(name, argument)`` of every application run (via ``sendmsg``).
        closed: the socket is closed. ``close_reason`` says why: "exit", "hangup",
            "linger timeout", "connect timeout" (no first command within 25 s),
            "application closed", "protocol error", "dropped" (:meth:`drop`).
    """

    def __init__(
        self, dialer: FakeDialer, session: OutboundSession, capacity: int, options: DialOptions
    ) -> None:
        self._dialer = dialer
        self._session = session
        self.uuid = session.channel.uuid
        self.commands: list[OutboundCommand] = []
        self.applications: list[tuple[str, str]] = []
        self.closed = False
        self.close_reason: str | None = None
        self._send, self._outbox = trio.open_memory_channel[bytes](capacity)
        self._changed = trio.Event()
        self._apps_ready = trio.Event()
        self._down = trio.Event()  # the channel hung up: running applications return
        self._digit = trio.Event()  # a digit arrived (play_and_get_digits waits for it)
        self._held: list[Output] | None = None  # static mode: queued while an app runs inline
        self._ending = False
        self._connect_reply = options.get("connect_reply", True)
        self._connect_delay = options.get("connect_delay", 0.0)
        self._scope = trio.CancelScope()

    def __repr__(self) -> str:
        return f"<FakeOutboundCall {self.uuid} {'closed' if self.closed else 'open'}>"

    # -- state -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """The application sent ``connect``."""
        return self._session.connected

    @property
    def answered(self) -> bool:
        return self._session.channel.answered

    @property
    def hangup_cause(self) -> str | None:
        """None while the channel is up."""
        return self._session.channel.hangup_cause

    @property
    def variables(self) -> dict[str, str]:
        """The channel variables, recorded ones first (``variable_*`` headers, ``getvar``)."""
        return self._session.channel.variables

    @property
    def linger(self) -> int | None:
        """Seconds set by ``linger`` (-1: forever); None without it."""
        return self._session.linger

    @property
    def events(self) -> list[EmittedEvent]:
        """Every event fired for this channel, delivered to the socket or not."""
        return self._session.events

    @property
    def sent_dtmf(self) -> list[str]:
        """The digit strings ``api uuid_send_dtmf`` sent out of the channel."""
        return self._session.sent_dtmf

    # -- waiting ---------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_command(self, match: OutboundMatch = None, *, count: int = 1) -> OutboundCommand:
        """Wait until ``count`` matching commands arrived; returns the ``count``-th."""
        await trio.lowlevel.checkpoint()
        while True:
            found = [c for c in self.commands if _matches(match, c)]
            if len(found) >= count:
                return found[count - 1]
            await self._changed.wait()

    async def wait_connected(self) -> None:
        await self.wait_command("connect")

    async def wait_closed(self) -> None:
        await trio.lowlevel.checkpoint()
        while not self.closed:
            await self._changed.wait()

    # -- driving the channel ---------------------------------------------------------------

    def send_dtmf(self, digits: str, duration: int = 2000) -> None:
        """One DTMF event per digit (``DTMF-Duration`` in samples; FreeSWITCH's default). The
        digits also wait on the channel for the next ``play_and_get_digits`` (FreeSWITCH
        queues them: ``switch_channel_queue_dtmf``); nothing after a hangup."""
        for digit in digits:
            if digit not in "0123456789*#ABCDabcd":
                raise ValueError(f"not a DTMF digit: {digit!r}")
        for digit in digits:
            self._push(self._session.dtmf(digit, duration))
        self._digit.set()
        self._digit = trio.Event()

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The far end hangs up: CHANNEL_HANGUP and what follows (fixture ``34``), then the
        goodbye or the linger notice."""
        check_value("hangup cause", cause)
        self._push(self._session.hangup(cause))

    def emit(self, name: str, headers: HeadersInput | None = None, body: bytes = b"") -> None:
        """Fire any event about this channel (delivered if the socket listens for it)."""
        pairs = normalize_headers(headers)
        for key, value in pairs:
            check_value(f"header {key!r}", value)
        self._push(self._session.emit(name, pairs, body))

    # -- fault injection -------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` as is, in order with the other output (garbage, half frames...)."""
        self._push(Output((bytes(data),)))

    def send_oversize_frame(self, content_length: int = 1 << 31, body: bytes = b"") -> None:
        """A ``text/event-plain`` frame head announcing ``content_length`` bytes, then ``body``
        (so far fewer bytes than announced, by default none)."""
        head = f"Content-Length: {content_length}\nContent-Type: text/event-plain\n\n"
        self.send_raw(head.encode() + body)

    def drop(self) -> None:
        """Close the socket now, abruptly: no notice, whatever is still queued is not written
        (a FreeSWITCH that crashed or a cut network)."""
        if not self.closed:
            self.close_reason = self.close_reason or "dropped"
            self._ending = True
            self._scope.cancel()

    # -- internals -------------------------------------------------------------------------

    def _push(self, output: Output) -> None:
        """Queue frames for the writer; never blocks (the outbox is bounded: a test that
        floods a client that does not read gets an error, not a hang)."""
        if not self._session.channel.up:
            self._down.set()
        if self._held is not None:
            self._held.append(output)
            return
        if self._ending or self.closed:
            return
        try:
            for frame in output.frames:
                self._send.send_nowait(frame)
            if output.close:
                self._ending = True
                self.close_reason = self.close_reason or output.reason
                self._send.send_nowait(_CLOSE)
        except trio.WouldBlock:
            raise RuntimeError(
                f"outbox of call {self.uuid} is full: the application is not reading"
            ) from None
        if output.linger is not None and output.linger >= 0:
            self._dialer._require_nursery().start_soon(self._end_linger, output.linger)
        if self._session.pending_apps:
            self._apps_ready.set()

    async def _end_linger(self, seconds: float) -> None:
        await trio.sleep(seconds)
        if not self.closed:
            self._push(Output((self._session.goodbye(),), close=True, reason="linger timeout"))

    async def _run(self, stream: trio.abc.Stream) -> None:
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read, stream, nursery.cancel_scope)
                    nursery.start_soon(self._run_apps)
                    await self._write(stream)
                    nursery.cancel_scope.cancel()
        finally:
            self.closed = True
            self._ending = True
            self._down.set()
            self._session.closed()
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            self._notify()

    async def _write(self, stream: trio.abc.Stream) -> None:
        async for frame in self._outbox:
            if frame == _CLOSE:
                return
            try:
                await stream.send_all(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.close_reason = self.close_reason or "application closed"
                return

    async def _read(self, stream: trio.abc.Stream, scope: trio.CancelScope) -> None:
        reader = OutboundCommandReader()
        first = trio.CancelScope(deadline=trio.current_time() + FIRST_COMMAND_TIMEOUT)
        try:
            with first:
                await self._read_commands(stream, reader, first)
            if first.cancelled_caught:  # listener_run: "Socket Error!", then the goodbye
                self._push(Output((self._session.goodbye(),), close=True, reason="connect timeout"))
                return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except RemoteProtocolError:
            self.close_reason = self.close_reason or "protocol error"  # FS drops a garbler
            scope.cancel()
            return
        self.close_reason = self.close_reason or "application closed"
        scope.cancel()

    async def _read_commands(
        self, stream: trio.abc.Stream, reader: OutboundCommandReader, first: trio.CancelScope
    ) -> None:
        while data := await stream.receive_some(_RECEIVE_SIZE):
            reader.receive_data(bytes(data))
            while (command := reader.next_command()) is not None:
                first.deadline = math.inf
                await self._handle(command)

    async def _handle(self, command: OutboundCommand) -> None:
        self.commands.append(command)
        self._notify()
        try:
            output = self._session.handle(command)
        except ValueError:  # a number that is not one
            output = Output((command_reply("-ERR invalid syntax"),))
        if command.verb.startswith("connect"):
            if not self._connect_reply:
                return
            if self._connect_delay > 0:
                await trio.sleep(self._connect_delay)
        if output.inline is None:
            self._push(output)
            return
        # Static mode: the application runs inside parse_command; the reply, then what it
        # queued meanwhile.
        self._push(attrs.evolve(output, inline=None, after=None))
        self._held = []
        try:
            await self._run_app(output.inline)
        finally:
            held, self._held = self._held, None
        if output.after is not None:
            self._push(Output((output.after,)))
        for step in held:
            self._push(step)

    async def _run_apps(self) -> None:
        while True:
            await self._apps_ready.wait()
            self._apps_ready = trio.Event()
            while self._session.pending_apps and self._session.channel.up:
                app = self._session.pending_apps.pop(0)
                await self._run_app(app)

    async def _run_app(self, app: App) -> None:
        session = self._session
        plan = session.plan(app, self._dialer.app_durations)
        self.applications.append((app.name, app.arg))
        if plan.kind == "invalid":
            self._push(session.invalid_app(app))
            self._notify()
            return
        loops = itertools.count(1) if app.loops < 0 else range(1, app.loops + 1)
        for loop in loops:
            if not session.channel.up:
                break
            self._push(session.start_app(app, loop))
            start = trio.current_time()
            if plan.kind == "timed":
                await self._wait(plan.seconds)
            elif plan.kind == "forever":
                await self._down.wait()
            elif plan.collect is not None:
                await self._collect(plan.collect)
            self._push(session.finish_app(app, played=trio.current_time() - start))
        self._notify()

    async def _wait(self, seconds: float) -> None:
        """Sleep, or less if the channel hangs up (the application returns with it)."""
        with trio.move_on_after(seconds):
            await self._down.wait()

    async def _collect(self, collect: Collect) -> None:
        """``play_and_get_digits``: its tries (see :meth:`OutboundSession.plan`)."""
        session = self._session
        session.start_collect(collect)
        for _ in range(collect.tries):
            digits, terminator, timed_out = "", "", False
            while len(digits) < collect.max_digits:  # switch_ivr_read collects while len < max
                digit = await self._next_digit(collect.digit_timeout if digits else collect.timeout)
                if digit is None:
                    timed_out = True
                    break
                if digit in collect.terminators:
                    terminator = digit
                    break
                digits += digit
            if not session.channel.up:
                return
            if session.read_digits(collect, digits, terminator, timed_out):
                return

    async def _next_digit(self, seconds: float) -> str | None:
        """The next queued digit, waiting up to ``seconds``; None: timeout or hangup."""
        queue = self._session.dtmf_queue
        with trio.move_on_after(seconds):
            while not queue and self._session.channel.up:
                await self._digit.wait()
        if queue and self._session.channel.up:
            return queue.pop(0)
        return None


def _matches(match: OutboundMatch, command: OutboundCommand) -> bool:
    if match is None:
        return True
    if isinstance(match, str):
        wanted = match.strip().lower()
        if " " in wanted:
            return command.line.lower().startswith(wanted)
        return command.verb == wanted
    return match(command)


class DialOptions(TypedDict, total=False):
    """Keyword options of :meth:`FakeDialer.dial` and :meth:`FakeDialer.dial_memory`.

    Attributes:
        variables: channel variables, sent as ``variable_<name>`` headers after the recorded
            ones (and answered by ``getvar``).
        uuid: the channel's Unique-ID (random by default).
        answered: the channel is already answered, as in the recording (default True: a
            loopback call); False: it rings until the application executes ``answer``.
        async_mode: ``Socket-Mode: async`` (default), else ``static`` (dialplan ``socket ...``
            without ``async``): applications run inside ``sendmsg``, whose ``+OK`` comes once
            they finished.
        full: ``Control: full`` (default), else ``single-channel`` (no ``full``): only the
            session commands work, the others answer ``-ERR command not found``.
        connect_reply: False: ``connect`` is read and never answered (a hung FreeSWITCH).
        connect_delay: seconds (trio time) before the ``connect`` reply; the commands after
            it wait too (FreeSWITCH answers one command at a time).
    """

    variables: Mapping[str, str]
    uuid: str
    answered: bool
    async_mode: bool
    full: bool
    connect_reply: bool
    connect_delay: float


class FakeDialer:
    """Places fake outbound calls. Create it with :func:`open_fake_dialer`.

    Attributes:
        calls: every call placed, oldest first.
        app_durations: seconds (trio time) an application runs before its
            CHANNEL_EXECUTE_COMPLETE, by name (``{"playback": 3.0}``); 0 when absent, or what
            the argument says (``sleep <ms>``); a name listed here is an application even if
            FreeSWITCH does not know it (see :meth:`OutboundSession.plan`).
        api_handlers: what ``api <cmd>`` answers on an outbound socket, by command name; they
            come before the built-in ``uuid_kill``, ``uuid_getvar``, ``uuid_setvar``,
            ``uuid_exists`` and ``uuid_send_dtmf`` (``Control: full`` only).
    """

    def __init__(
        self,
        *,
        core_uuid: str | None = None,
        hostname: str = "fake-freeswitch",
        stream_buffer: int = 65536,
        outbox_frames: int = 10_000,
    ) -> None:
        self._identity = Identity(core_uuid or str(uuid_module.uuid4()), hostname)
        self.stream_buffer = stream_buffer
        self.outbox_frames = outbox_frames
        self.calls: list[FakeOutboundCall] = []
        self.app_durations: dict[str, float] = {}
        self.api_handlers: dict[str, ApiHandler] = {}
        #: Source of event dates (wall clock; replace it for reproducible dates).
        self.wall_clock: Callable[[], float] = time.time
        self._sequence = itertools.count(1)
        self._nursery: trio.Nursery | None = None

    @property
    def core_uuid(self) -> str:
        return self._identity.core_uuid

    def _require_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the fake dialer is not running (use open_fake_dialer)")
        return self._nursery

    async def dial(
        self, target: tuple[str, int] | trio.abc.Stream, **options: Unpack[DialOptions]
    ) -> FakeOutboundCall:
        """Connect to ``target`` for a new call and play FreeSWITCH's side of the session.

        Args:
            target: ``(host, port)`` to reach over TCP, or a stream already connected to the
                application (the dialer's end).
            **options: see :class:`DialOptions`.

        Raises:
            OSError: the TCP connection failed (nothing listens there, ...).
        """
        nursery = self._require_nursery()
        if isinstance(target, tuple):
            host, port = target
            stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
        else:
            host, port = _MEMORY_ADDRESS
            stream = target
        channel = self._channel(host, port, options)
        session = OutboundSession(
            channel,
            self._identity,
            next_sequence=lambda: next(self._sequence),
            now=self.wall_clock,
            api_handlers=self.api_handlers,
        )
        call = FakeOutboundCall(self, session, self.outbox_frames, options)
        self.calls.append(call)
        nursery.start_soon(call._run, stream)
        return call

    async def dial_memory(
        self, **options: Unpack[DialOptions]
    ) -> tuple[FakeOutboundCall, trio.abc.Stream]:
        """:meth:`dial` over an in-memory stream pair; returns the call and *your* end (what
        your server would have accepted)."""
        dialer_end, application_end = bounded_stream_pair(self.stream_buffer)
        call = await self.dial(dialer_end, **options)
        return call, application_end

    def _channel(self, host: str, port: int, options: DialOptions) -> Channel:
        variables = dict(options.get("variables") or {})
        for name, value in variables.items():
            check_value(f"variable {name!r}", f"{name}{value}")
        async_mode, full = options.get("async_mode", True), options.get("full", True)
        mode = "async" if async_mode else "static"
        words = " ".join(w for w in ("async" if async_mode else "", "full" if full else "") if w)
        now_us = int(self.wall_clock() * 1_000_000)
        return Channel(
            uuid=options.get("uuid") or str(uuid_module.uuid4()),
            other_uuid=str(uuid_module.uuid4()),
            created_us=now_us,
            socket_host=host,
            socket_data=f"{host}:{port} {words}".strip(),
            mode=mode,
            control="full" if full else "single-channel",
            answered_us=now_us if options.get("answered", True) else 0,
            variables=variables,
        )


@asynccontextmanager
async def open_fake_dialer(
    *,
    core_uuid: str | None = None,
    hostname: str = "fake-freeswitch",
    stream_buffer: int = 65536,
    outbox_frames: int = 10_000,
) -> AsyncIterator[FakeDialer]:
    """Run a :class:`FakeDialer` for the duration of the block; leaving it closes every call.

    Args:
        core_uuid: the ``Core-UUID`` of its events (random by default).
        hostname: ``FreeSWITCH-Hostname`` of its events.
        stream_buffer: bytes each in-memory direction buffers (:meth:`FakeDialer.dial_memory`).
        outbox_frames: frames queued per call before injecting more raises (a client that
            does not read).
    """
    dialer = FakeDialer(
        core_uuid=core_uuid,
        hostname=hostname,
        stream_buffer=stream_buffer,
        outbox_frames=outbox_frames,
    )
    with nursery_layer_removed():  # the block's own exception comes out as itself
        async with trio.open_nursery() as nursery:
            dialer._nursery = nursery
            try:
                yield dialer
            finally:
                dialer._nursery = None
                nursery.cancel_scope.cancel()
