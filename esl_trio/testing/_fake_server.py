"""The fake FreeSWITCH: a scriptable inbound Event Socket server for tests.

It runs in-process: over bounded in-memory streams (:meth:`FakeFreeSwitch.connect`) or on a
real loopback TCP port (:meth:`FakeFreeSwitch.serve_tcp`), and speaks the wire protocol with
FreeSWITCH's own reply texts and event semantics (see :mod:`._subscriptions` and
:mod:`._dispatch`). Every task lives in the nursery of :func:`open_fake_freeswitch`, so nothing
outlives the ``async with`` block; all timing uses trio's clock, so tests run on
``autojump_clock``.
"""

from __future__ import annotations

import errno
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, NoReturn, TypedDict, TypeVar, Unpack, overload

import attrs
import trio

from esl_trio._groups import nursery_layer_removed
from esl_trio.protocol import BgApi, Command, EventFormat, InvalidCommand, SendEvent, UnknownCommand
from esl_trio.protocol.server import GOODBYE, disconnect_notice, log_data

from ._api import (
    VERSION,
    ApiHandler,
    call_handler,
    default_api_handlers,
    frame_output,
    unknown_command,
    uptime_text,
)
from ._connection import FakeConnection
from ._events import (
    EmittedEvent,
    HeadersInput,
    Identity,
    compose_headers,
    normalize_headers,
    subclass_first,
)
from ._faults import CommandMatch, DropRule, Gate, ReceivedCommand, matches
from ._pipe import bounded_stream_pair
from ._session import serve_connection
from ._subscriptions import UserCredentials, event_type

__all__ = ["FakeFreeSwitch", "FakeOptions", "open_fake_freeswitch"]

#: The notice FreeSWITCH sends to every listener when it shuts down (B-DISC-1).
SHUTDOWN_NOTICE: Final = b"The system is being shut down.\n"
_DEFAULT_MODULES: Final = (
    "mod_event_socket",
    "mod_commands",
    "mod_dptools",
    "mod_loopback",
    "mod_sofia",
    "mod_dialplan_xml",
    "mod_console",
    "mod_logfile",
    "mod_sndfile",
    "mod_tone_stream",
)
_EMIT_CALLING: Final = ("fake_freeswitch.c", "emit", 1)
_JOB_CALLING: Final = ("mod_event_socket.c", "api_exec", 1580)
_API_CALLING: Final = ("switch_loadable_module.c", "switch_api_execute", 3140)
_SENDEVENT_CALLING: Final = ("mod_event_socket.c", "parse_command", 2283)
_HEARTBEAT_CALLING: Final = ("switch_core.c", "send_heartbeat", 95)
_RELOAD_JOB_CALLING: Final = ("mod_commands.c", "bgapi_exec", 5467)
_RELOAD_OUTPUT: Final = b"+OK Reloading XML\n+OK module unloaded\n+OK module loaded\n"

_T = TypeVar("_T")
_C = TypeVar("_C", bound=Command | UnknownCommand | InvalidCommand)
Target = FakeConnection | int | None


class FakeOptions(TypedDict, total=False):
    """Keyword options of :func:`open_fake_freeswitch` (see :class:`FakeFreeSwitch`)."""

    users: Mapping[str, UserCredentials] | None
    event_format: EventFormat | str
    auth_timeout: float | None
    heartbeat_interval: float | None
    event_queue_size: int
    max_lost_events: int
    stream_buffer: int
    core_uuid: str | None
    hostname: str
    close_grace: float
    fire_api_events: bool


@attrs.define(eq=False)
class _Job:
    """A bgapi job between acceptance and its BACKGROUND_JOB event."""

    command: BgApi
    release: trio.Event = attrs.Factory(trio.Event)
    output: str | bytes | None = None  # set by complete_job; None: run the api handler
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)


class FakeFreeSwitch:
    """A fake FreeSWITCH inbound Event Socket server. Create it with :func:`open_fake_freeswitch`.

    Args:
        password: what ``auth <password>`` must carry (B-AUTH-1).
        users: directory users for ``userauth``, keyed ``"user@domain"`` (B-AUTH-5).
        event_format: the format of a connection before any ``event <format>`` (FreeSWITCH:
            plain).
        auth_timeout: seconds a new connection has to send its first command before it is
            disconnected (B-AUTH-3; FreeSWITCH: 25); None disables it.
        heartbeat_interval: fire HEARTBEAT every so many seconds (FreeSWITCH: 20); None (the
            default) fires none unless :meth:`emit_heartbeat` is called.
        event_queue_size: per-connection event (and log) queue bound (FreeSWITCH: 100000).
        max_lost_events: consecutive losses after which a listener is killed (FreeSWITCH: 500).
        stream_buffer: bytes each in-memory direction buffers before ``send_all`` blocks.
        core_uuid: the ``Core-UUID`` of events (random by default).
        hostname: ``FreeSWITCH-Hostname`` of events and ``api hostname``.
        close_grace: seconds a killed connection waits to write its last notice to a client that
            is not reading, before closing without it.
        fire_api_events: fire an ``API`` event for every api/bgapi run, as FreeSWITCH does.

    Knobs (plain attributes, change them any time): :attr:`reply_delay`, :attr:`trickle`,
    :attr:`trickle_delay`, :attr:`silenced`, :attr:`refuse_connections`, :attr:`bgapi_delay`,
    :attr:`auto_complete_jobs`, :attr:`password`, :attr:`users`, :attr:`api_handlers`,
    :attr:`channels`, :attr:`modules`.
    """

    def __init__(
        self,
        password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's well-known default
        *,
        users: Mapping[str, UserCredentials] | None = None,
        event_format: EventFormat | str = EventFormat.PLAIN,
        auth_timeout: float | None = 25.0,
        heartbeat_interval: float | None = None,
        event_queue_size: int = 100_000,
        max_lost_events: int = 500,
        stream_buffer: int = 65536,
        core_uuid: str | None = None,
        hostname: str = "fake-freeswitch",
        close_grace: float = 5.0,
        fire_api_events: bool = True,
    ) -> None:
        self.password = password
        self.users: dict[str, UserCredentials] = dict(users or {})
        self.event_format = EventFormat(str(event_format).lower())
        self.auth_timeout = auth_timeout
        self.heartbeat_interval = heartbeat_interval
        self.event_queue_size = event_queue_size
        self.max_lost_events = max_lost_events
        self.stream_buffer = stream_buffer
        self.close_grace = close_grace
        self.fire_api_events = fire_api_events
        self._identity = Identity(core_uuid or str(uuid.uuid4()), hostname)
        self._init_script()
        self._init_knobs()
        self._init_state()

    def _init_script(self) -> None:
        """What the test scripts: api answers, channels, modules; what it can inspect."""
        #: api commands by name: ``fn(args) -> str | bytes | None`` (or an awaitable of it).
        self.api_handlers: dict[str, ApiHandler] = default_api_handlers(self)
        #: Channel UUIDs that exist (``sendmsg``, ``myevents``, ``uuid_exists``, ``show``).
        self.channels: set[str] = set()
        #: What ``module_exists`` answers true for.
        self.modules: set[str] = set(_DEFAULT_MODULES)
        #: Every command received, in order: ``(connection id, command)``.
        self.commands: list[tuple[int, ReceivedCommand]] = []
        #: Exceptions raised by api handlers; the first is re-raised when the fake closes.
        self.handler_errors: list[Exception] = []
        #: Source of event dates (wall clock; replace it for reproducible dates).
        self.wall_clock: Callable[[], float] = time.time
        self.sessions_since_startup = 0
        self.tcp_ports: list[int] = []
        #: Job-UUIDs of the ``reload mod_event_socket`` commands received, in order.
        self.event_socket_reloads: list[str] = []

    def _init_knobs(self) -> None:
        """The fault and timing knobs, all off."""
        #: Seconds before each reply (trio time). Per connection: ``conn.reply_delay``.
        self.reply_delay = 0.0
        #: Write every frame one byte at a time (``trickle_delay`` seconds apart).
        self.trickle = False
        self.trickle_delay = 0.0
        #: Write nothing at all on any connection (see :meth:`silence`).
        self.silenced = False
        #: New connections fail: :meth:`connect` raises ConnectionRefusedError; TCP clients are
        #: accepted and closed at once, before the greeting.
        self.refuse_connections = False
        #: Seconds before a bgapi job runs, or ``fn(command) -> seconds``.
        self.bgapi_delay: float | Callable[[BgApi], float] = 0.0
        #: False: jobs wait for :meth:`complete_job` before finishing.
        self.auto_complete_jobs = True
        self._gate = Gate()
        self._drop_rules: list[DropRule] = []
        self._rude_remaining = 0
        self._auth_reject_remaining = 0

    def _init_state(self) -> None:
        self._started_at = trio.current_time()
        self._nursery: trio.Nursery | None = None
        self._live: dict[int, FakeConnection] = {}
        self._history: list[FakeConnection] = []
        self._authenticated: list[FakeConnection] = []
        self._sequence = 0
        self._changed = trio.Event()
        self._jobs: dict[str, _Job] = {}

    # -- identity and state ------------------------------------------------------------------

    @property
    def core_uuid(self) -> str:
        """``Core-UUID`` of this FreeSWITCH "process" (changes on :meth:`restart`)."""
        return self._identity.core_uuid

    @property
    def hostname(self) -> str:
        return self._identity.hostname

    def uptime(self) -> float:
        """Seconds since start (or the last :meth:`restart`), on trio's clock."""
        return trio.current_time() - self._started_at

    @property
    def connections(self) -> list[FakeConnection]:
        """Connections open now, oldest first."""
        return list(self._live.values())

    @property
    def all_connections(self) -> list[FakeConnection]:
        """Every connection ever accepted, closed ones included, oldest first."""
        return list(self._history)

    def connection(self, connection_id: int) -> FakeConnection:
        """The connection with this id (open or closed)."""
        return self._history[connection_id - 1]

    @property
    def pending_jobs(self) -> dict[str, BgApi]:
        """bgapi jobs accepted and not yet completed, by Job-UUID."""
        return {job_uuid: job.command for job_uuid, job in self._jobs.items()}

    # -- connecting --------------------------------------------------------------------------

    async def connect(self) -> trio.abc.Stream:
        """Open an in-memory connection; returns the client's end of it.

        The server side is served in the fake's nursery; the greeting is already on its way.

        Raises:
            ConnectionRefusedError: while :attr:`refuse_connections` is set.
        """
        await trio.lowlevel.checkpoint()
        nursery = self._require_open()
        if self.refuse_connections:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused (fake)")
        client, server_end = bounded_stream_pair(self.stream_buffer)
        conn = self._register(server_end, "memory", atomic_writes=True)
        nursery.start_soon(serve_connection, self, conn)
        return client

    @property
    def connector(self) -> Callable[[], Awaitable[trio.abc.Stream]]:
        """:meth:`connect`, to hand to code that opens its own connections."""
        return self.connect

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Also listen on real TCP; returns the bound port (``port=0``: a free one)."""
        nursery = self._require_open()
        listeners = await trio.open_tcp_listeners(port, host=host)
        serve = functools.partial(
            trio.serve_listeners, self._serve_tcp_stream, listeners, handler_nursery=nursery
        )
        await nursery.start(serve)
        bound: int = listeners[0].socket.getsockname()[1]
        self.tcp_ports.append(bound)
        return bound

    async def _serve_tcp_stream(self, stream: trio.SocketStream) -> None:
        if self.refuse_connections:
            await trio.aclose_forcefully(stream)
            return
        host, port = stream.socket.getpeername()[:2]
        conn = self._register(stream, f"{host}:{port}", atomic_writes=False)
        await serve_connection(self, conn)

    def _register(
        self, stream: trio.abc.Stream, peer: str, *, atomic_writes: bool
    ) -> FakeConnection:
        conn = FakeConnection(
            self, len(self._history) + 1, stream, peer, atomic_writes=atomic_writes
        )
        conn.rejected = self._take_rude_rejection()  # decided at accept, like the ACL
        self._live[conn.id] = conn
        self._history.append(conn)
        self._notify()
        return conn

    def _require_open(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the fake FreeSWITCH is not running (use open_fake_freeswitch)")
        return self._nursery

    # -- waiting -----------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait_for(self, ready: Callable[[], _T | None]) -> _T:
        await trio.lowlevel.checkpoint()
        while (result := ready()) is None:
            await self._changed.wait()
        return result

    @overload
    async def wait_command(
        self, match: type[_C], *, count: int = 1, connection: Target = None
    ) -> _C: ...
    @overload
    async def wait_command(
        self, match: CommandMatch = None, *, count: int = 1, connection: Target = None
    ) -> ReceivedCommand: ...
    async def wait_command(
        self, match: type[Any] | CommandMatch = None, *, count: int = 1, connection: Target = None
    ) -> object:
        """Wait until ``count`` matching commands were received (counting from the start).

        Args:
            match: a command class, a verb (``"bgapi"``), the start of a command line
                (``"api status"``), a predicate, or None for any command.
            count: return once this many matched; the ``count``-th match is returned.
            connection: only count commands received on this connection (object or id).
        """
        wanted = None if connection is None else self._target_id(connection)

        def ready() -> ReceivedCommand | None:
            found = [
                command
                for conn_id, command in self.commands
                if (wanted is None or conn_id == wanted) and matches(match, command)
            ]
            return found[count - 1] if len(found) >= count else None

        return await self._wait_for(ready)

    async def wait_connections(self, count: int) -> FakeConnection:
        """Wait until ``count`` connections were accepted in total; returns the ``count``-th."""
        return await self._wait_for(
            lambda: self._history[count - 1] if len(self._history) >= count else None
        )

    async def wait_authenticated(self, count: int) -> FakeConnection:
        """Wait until ``count`` connections authenticated in total; returns the ``count``-th."""
        done = self._authenticated
        return await self._wait_for(lambda: done[count - 1] if len(done) >= count else None)

    # -- bookkeeping called by the session ---------------------------------------------------

    def _record(self, conn: FakeConnection, command: ReceivedCommand) -> None:
        conn.commands.append(command)
        self.commands.append((conn.id, command))
        self._notify()

    def _on_authenticated(self, conn: FakeConnection) -> None:
        self._authenticated.append(conn)
        self._notify()

    def _on_closed(self, conn: FakeConnection) -> None:
        self._live.pop(conn.id, None)
        conn._outbox.clear()  # frames never written to a dead socket: don't keep them alive
        conn._closed_event.set()
        self._notify()

    def _take_rude_rejection(self) -> bool:
        if self._rude_remaining <= 0:
            return False
        self._rude_remaining -= 1
        return True

    def _take_auth_rejection(self) -> bool:
        if self._auth_reject_remaining <= 0:
            return False
        self._auth_reject_remaining -= 1
        return True

    def _claim_drop_rule(self, command: ReceivedCommand) -> DropRule | None:
        rule = next((r for r in self._drop_rules if r.claim(command)), None)
        self._drop_rules = [r for r in self._drop_rules if r.remaining != 0]
        return rule

    # -- events ------------------------------------------------------------------------------

    def emit(
        self,
        name: str,
        headers: HeadersInput | None = None,
        body: bytes | str = b"",
        *,
        subclass: str | None = None,
        calling: tuple[str, str, int] = _EMIT_CALLING,
    ) -> EmittedEvent:
        """Fire an event, as FreeSWITCH would: every connection that listens for it gets it.

        Delivery follows each connection's subscriptions, CUSTOM subclasses and filters, in its
        own format (B-SUBW-*), through its bounded queue (B-LIM-2). The standard headers are
        added (see :mod:`._events`); ``headers`` named like one of them replace its value.

        Args:
            name: the event name, case-insensitive (``SWITCH_EVENT_`` spellings accepted). An
                unknown name is sent as given, to ``ALL`` subscribers only.
            headers: the event's own headers, a mapping or ``(name, value)`` pairs.
            body: the event body.
            subclass: the CUSTOM subclass (``Event-Subclass``), e.g. ``"sofia::register"``.
            calling: ``Event-Calling-File``, ``-Function``, ``-Line-Number``.
        """
        data = body.encode() if isinstance(body, str) else bytes(body)
        return self._fire(
            name, normalize_headers(headers), data, subclass=subclass, calling=calling
        )

    def _fire(
        self,
        name: str,
        extra: list[tuple[str, str]],
        body: bytes,
        *,
        subclass: str | None = None,
        calling: tuple[str, str, int],
        standard_first: bool = True,
    ) -> EmittedEvent:
        canonical = event_type(name) or name
        if canonical == "ALL":
            raise ValueError("ALL is a subscription keyword, not an event name")
        given = next((v for n, v in extra if n.lower() == "event-subclass"), None)
        if subclass is not None and given is None:
            extra = [("Event-Subclass", subclass), *extra]
        subclass = subclass or given
        self._sequence += 1
        headers = compose_headers(
            self._identity, canonical, self._sequence, self.wall_clock(), calling, extra,
            standard_first=standard_first,
        )  # fmt: skip
        if subclass is not None:
            headers = subclass_first(headers)
        event = EmittedEvent(canonical, subclass, headers, body, self._sequence)
        for conn in list(self._live.values()):
            if conn._offer_event(event):
                event.queued_for.append(conn.id)
        return event

    def emit_heartbeat(self) -> EmittedEvent:
        """Fire a HEARTBEAT like FreeSWITCH's (B-EVN-3)."""
        uptime = self.uptime()
        count = str(len(self.channels))
        headers = [
            ("Event-Info", "System Ready"),
            ("Up-Time", uptime_text(uptime)),
            ("FreeSWITCH-Version", VERSION),
            ("Uptime-msec", str(int(uptime * 1000))),
            ("Session-Count", count),
            ("Max-Sessions", "1000"),
            ("Session-Per-Sec", "30"),
            ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"),
            ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(self.sessions_since_startup)),
            ("Session-Peak-Max", count),
            ("Session-Peak-FiveMin", count),
            ("Idle-CPU", "100.000000"),
        ]
        return self._fire("HEARTBEAT", headers, b"", calling=_HEARTBEAT_CALLING)

    def emit_log(
        self, text: str, level: int = 6, *, file: str = "mod_commands.c", line: int = 1
    ) -> list[int]:
        """Send a ``log/data`` line to connections logging at ``level`` or more verbose.

        Returns the ids of the connections that queued it (B-CMD-5, B-CT-3).
        """
        frame = log_data(text, level=level, file=file, line=line)
        return [conn.id for conn in list(self._live.values()) if conn._offer_log(frame, level)]

    def _fire_sendevent(self, command: SendEvent, event_uuid: str) -> EmittedEvent:
        """``sendevent``: client headers first, then the standard block (fixture ``24``)."""
        extra = [("Command", f"sendevent {command.name}"), *command.headers]
        if command.body:
            extra.append(("content-length", str(len(command.body))))
        extra.append(("Event-UUID", event_uuid))
        return self._fire(
            command.name, extra, command.body, calling=_SENDEVENT_CALLING, standard_first=False
        )

    async def _heartbeats(self, interval: float) -> NoReturn:
        while True:
            await trio.sleep(interval)
            self.emit_heartbeat()

    # -- api and bgapi -------------------------------------------------------------------------

    async def _run_api(self, command: str, args: str, *, background: bool) -> bytes:
        """Run a handler; the API event follows, as in ``switch_api_execute``."""
        handler = self.api_handlers.get(command)
        if handler is None:
            output = unknown_command(command)
        else:
            try:
                result = await call_handler(handler, args)
            except Exception as exc:
                self.handler_errors.append(exc)
                result = f"-ERR {command} handler raised {type(exc).__name__}: {exc}\n"
            output = frame_output(result, background=background)
        if self.fire_api_events:
            extra = [("API-Command", command)] + ([("API-Command-Argument", args)] if args else [])
            self._fire("API", extra, b"", calling=_API_CALLING)
        return output

    def _start_job(self, command: BgApi) -> None:
        job = _Job(command)
        self._jobs[command.job_uuid] = job
        self._require_open().start_soon(self._run_job, job)

    async def _run_job(self, job: _Job) -> None:
        """Wait, run the command, fire BACKGROUND_JOB to whoever listens then (B-BGW-4/5/6)."""
        command = job.command
        with job.scope:
            delay = self.bgapi_delay(command) if callable(self.bgapi_delay) else self.bgapi_delay
            if delay > 0:
                await trio.sleep(delay)
            if not self.auto_complete_jobs:
                await job.release.wait()
            if job.output is None:
                body = await self._run_api(command.command, command.args, background=True)
            else:
                body = frame_output(job.output, background=True)
            extra = [("Job-UUID", command.job_uuid), ("Job-Command", command.command)]
            if command.args:
                extra.append(("Job-Command-Arg", command.args))
            self._fire("BACKGROUND_JOB", extra, body, calling=_JOB_CALLING)
        if self._jobs.get(command.job_uuid) is job:
            del self._jobs[command.job_uuid]

    def complete_job(self, job_uuid: str, output: str | bytes | None = None) -> None:
        """Let a pending job finish now (see :attr:`auto_complete_jobs`).

        Args:
            job_uuid: the job's Job-UUID.
            output: the BACKGROUND_JOB body; None (default): the api handler runs.

        Raises:
            KeyError: no such pending job.
        """
        job = self._jobs[job_uuid]
        job.output = output
        job.release.set()

    # -- fault knobs -------------------------------------------------------------------------

    def _target_id(self, target: FakeConnection | int) -> int:
        return target if isinstance(target, int) else target.id

    def _targets(self, target: Target) -> list[FakeConnection]:
        if target is None:
            return list(self._live.values())
        return [self.connection(self._target_id(target))]

    async def drop_all(self, *, flush: bool = False) -> None:
        """Close every open connection without a notice; return once they are all closed.

        Args:
            flush: first write what is already queued on each (see
                :meth:`FakeConnection.drop`); by default queued frames are lost.
        """
        conns = list(self._live.values())
        for conn in conns:
            conn.drop(flush=flush)
        for conn in conns:
            await conn.wait_closed()

    def drop_on(
        self,
        match: CommandMatch,
        *,
        before_reply: bool | None = None,
        partial: int | None = None,
        times: int | None = 1,
    ) -> DropRule:
        """Close the connection that sends a matching command.

        Args:
            match: as for :meth:`wait_command`.
            before_reply: close without executing or answering it (default), or after writing
                the reply.
            partial: write only this many bytes of the reply, then close (a mid-frame cut;
                implies ``before_reply=False``).
            times: how many commands it fires for; None: every one.

        Returns:
            The rule: ``rule.fired`` counts its uses, ``rule.cancel()`` disarms it.
        """
        if partial is not None and before_reply:
            raise ValueError("partial replies need before_reply=False")
        before = partial is None if before_reply is None else before_reply
        rule = DropRule(match, before, partial, times)
        self._drop_rules.append(rule)
        return rule

    def cut_next_frame(self, after_bytes: int, conn: Target = None) -> None:
        """On each target connection, write only ``after_bytes`` of the next frame, then close."""
        for target in self._targets(conn):
            target.cut_next_frame(after_bytes)

    def hold_replies(self) -> None:
        """Withhold every reply (hence every event too) until :meth:`release_replies`."""
        self._gate.shut()

    def release_replies(self) -> None:
        self._gate.open()

    def silence(self) -> None:
        """Keep reading and executing commands, write nothing on any connection (a hung peer).

        Frames that would have been written meanwhile are discarded, not delayed.
        """
        self.silenced = True

    def unsilence(self) -> None:
        self.silenced = False

    def send_raw(self, data: bytes, conn: Target = None, *, close: bool = False) -> None:
        """Write ``data`` as is between frames (garbage, a forged frame); optionally close."""
        for target in self._targets(conn):
            target.send_raw(data, close=close)

    def send_auth_request(self, conn: Target = None) -> None:
        """Inject a second ``auth/request``."""
        for target in self._targets(conn):
            target.send_auth_request()

    def send_disconnect_notice(
        self,
        body: bytes = GOODBYE,
        *,
        linger: bool = False,
        close: bool | None = None,
        conn: Target = None,
    ) -> None:
        """Inject a disconnect notice; closes afterwards unless ``linger`` (B-DISC-1/3)."""
        for target in self._targets(conn):
            target.send_disconnect_notice(body, linger=linger, close=close)

    def send_oversize_frame(self, conn: Target = None, length: int = 16 * 1024 * 1024 + 1) -> None:
        """Inject a frame header announcing more than libesl's 16 MiB body limit."""
        for target in self._targets(conn):
            target.send_oversize_frame(length)

    def rude_reject_next(self, count: int = 1) -> None:
        """Greet the next ``count`` connections with ``text/rude-rejection`` (B-WIRE-3)."""
        self._rude_remaining += count

    def reject_auth_next(self, count: int = 1) -> None:
        """Answer the next ``count`` auth attempts ``-ERR invalid``, even with good credentials."""
        self._auth_reject_remaining += count

    async def restart(self, *, notice: bool = True) -> None:
        """Simulate a FreeSWITCH restart.

        Every connection gets ``The system is being shut down.`` (unless ``notice=False``) and is
        closed; pending jobs are lost; then a new Core-UUID, Event-Sequence from 1, uptime from 0,
        no channels. New connections are accepted as soon as this returns.
        """
        conns = list(self._live.values())
        for conn in conns:
            conn._kill(SHUTDOWN_NOTICE if notice else None, "shutdown")
        for job in self._jobs.values():
            job.scope.cancel()
        self._jobs.clear()
        for conn in conns:
            await conn.wait_closed()
        self._identity.core_uuid = str(uuid.uuid4())
        self._sequence = 0
        self._started_at = trio.current_time()
        self.channels.clear()
        self.sessions_since_startup = 0

    def _reload_event_socket(self, job_uuid: str) -> None:
        """``reload mod_event_socket``: the unload kills every listener with the shutdown
        notice (``kill_all_listeners``) and closes it; the module loads again at once, so new
        connections are accepted. Unlike :meth:`restart`, the core keeps running: same
        Core-UUID, Event-Sequence, channels and jobs. The job's BACKGROUND_JOB fires after the
        reload, when no listener is left to receive it."""
        self.event_socket_reloads.append(job_uuid)
        for conn in list(self._live.values()):
            conn._kill(SHUTDOWN_NOTICE, "mod_event_socket reload")
        extra = [
            ("Job-UUID", job_uuid),
            ("Job-Command", "reload"),
            ("Job-Command-Arg", "mod_event_socket"),
        ]
        self._fire("BACKGROUND_JOB", extra, _RELOAD_OUTPUT, calling=_RELOAD_JOB_CALLING)

    def hangup_channel(self, channel_uuid: str) -> None:
        """Remove a channel; connections bound to it by ``myevents`` end as FreeSWITCH ends them.

        A connection that set ``linger`` gets the linger notice and stays open for its linger
        time (forever for a bare ``linger``); the others get the session's disconnect notice and
        close (B-CMD-2, B-DISC-2/3).
        """
        self.channels.discard(channel_uuid)
        for conn in list(self._live.values()):
            if conn.session_uuid != channel_uuid:
                continue
            if conn.linger is None:
                conn.send_raw(_session_goodbye(channel_uuid), close=True)
                continue
            conn.send_disconnect_notice(linger=True)
            if conn.linger >= 0:
                self._require_open().start_soon(self._end_linger, conn, conn.linger)

    async def _end_linger(self, conn: FakeConnection, seconds: float) -> None:
        await trio.sleep(seconds)
        if conn.session_uuid is not None:
            conn.send_raw(_session_goodbye(conn.session_uuid), close=True)

    # -- lifetime ----------------------------------------------------------------------------

    def _open(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        if self.heartbeat_interval is not None:
            nursery.start_soon(self._heartbeats, self.heartbeat_interval)

    def _close(self) -> None:
        self._nursery = None


def _session_goodbye(channel_uuid: str) -> bytes:
    """The notice that ends a session-bound connection (B-DISC-2)."""
    extra = [("Controlled-Session-UUID", channel_uuid), ("Content-Disposition", "disconnect")]
    return disconnect_notice(GOODBYE, extra)


@asynccontextmanager
async def open_fake_freeswitch(
    password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's well-known default
    **options: Unpack[FakeOptions],
) -> AsyncIterator[FakeFreeSwitch]:
    """Run a fake FreeSWITCH for the duration of the block.

    Leaving the block closes every connection and cancels every task of the fake. Exceptions
    from the block come out unchanged (never wrapped in an ExceptionGroup); if an api handler
    raised during the block, its first exception is re-raised on a clean exit.

    Args:
        password: the ``auth`` password.
        **options: see :class:`FakeFreeSwitch`.
    """
    fs = FakeFreeSwitch(password, **options)
    with nursery_layer_removed():  # the block's own exception comes out as itself
        async with trio.open_nursery() as nursery:
            fs._open(nursery)
            try:
                yield fs
            finally:
                fs._close()
                nursery.cancel_scope.cancel()
    if fs.handler_errors:
        raise fs.handler_errors[0]
