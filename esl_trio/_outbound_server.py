"""The outbound server: FreeSWITCH dials us, one connection per call, each a task.

``open_outbound_server(handler)`` listens (``trio.serve_listeners``) and runs every accepted
connection as one task in the server's nursery. A connection task:

1. sends ``connect`` and reads the channel data (``connect_timeout``);
2. over ``max_calls``: hangs the call up with ``refuse_cause`` and closes (logged, rate-limited);
3. sends ``myevents`` and ``linger`` (as configured), builds the :class:`OutboundCall` and runs
   ``handler(call)`` inside a cancel scope — the call's scope;
4. when the disconnect notice comes or the socket ends, the handler gets ``hangup_grace``
   seconds, then is cancelled;
5. when the handler is done, hangs the channel up if it is still up (unless it was resumed):
   ``NORMAL_CLEARING`` after a return, ``error_cause`` after a raise (logged with the uuid),
   ``shutdown_cause`` after the server's drain cancelled it; then closes the socket.

Besides the handler, a connection runs the reader, writer and watchdog of
:class:`~esl_trio._connection.Connection` (the same as inbound: one reply queue, reply and write
deadlines, bounded buffers) and one keeper task that turns their reports into the lifecycle of
:mod:`._outbound_state` and runs the grace timer. No task per event; nothing outlives the
server's block.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import attrs
import trio

from ._call_values import CallEndedError
from ._connection import ConnectionEnded, NoticeArrived
from ._errors import ConnectionLostError, EslError, NotReadyError
from ._groups import nursery_layer_removed
from ._outbound_call import OutboundCall, OutboundLink
from ._outbound_config import OutboundConfig
from ._outbound_state import OutboundLifecycle, OutboundState, OutboundTrigger
from .protocol import (
    ChannelData,
    Command,
    Connect,
    EventFormat,
    Linger,
    MyEvents,
    RudeRejection,
    SendMsg,
)

__all__ = [
    "OutboundHandler",
    "OutboundServer",
    "OutboundStats",
    "open_outbound_server",
    "serve_outbound",
]

log = logging.getLogger("esl_trio.outbound")

#: What the server calls for each call: ``async def handle(call: esl_trio.OutboundCall)``
#: (a handler annotated with :class:`~esl_trio.Call` fits too).
OutboundHandler = Callable[[OutboundCall], Awaitable[object]]


class _Outcome(enum.Enum):
    RETURNED = "returned"
    RAISED = "raised"
    HUNG_UP = "hung up"  # cancelled after the grace, or it failed because the call was gone
    SHUT_DOWN = "shut down"


@attrs.frozen
class OutboundStats:
    """What an outbound server has done so far (``server.stats()``)."""

    #: Connections accepted (calls FreeSWITCH sent).
    accepted: int
    #: Handlers running now.
    active: int
    #: Handlers that returned.
    completed: int
    #: Handlers that raised (logged with the call's uuid; the call was hung up).
    failed: int
    #: Handlers cancelled (or failing) because the channel hung up or the socket ended.
    hung_up: int
    #: Handlers cancelled by the server's shutdown after the drain deadline.
    shut_down: int
    #: Calls refused: over ``max_calls`` (hung up with ``refuse_cause``), connected during
    #: the drain (``shutdown_cause``), or sockets past the open-socket bound (closed at once).
    refused: int
    #: Connections that ended before a call started (garbage, silence, early close).
    broken: int


class _Counts:
    __slots__ = ("accepted", "broken", "completed", "failed", "hung_up", "refused", "shut_down")

    def __init__(self) -> None:
        self.accepted = self.completed = self.failed = self.hung_up = 0
        self.shut_down = self.refused = self.broken = 0


class _Refusals:
    """At most one log line per second for refused calls, however many come."""

    __slots__ = ("_next", "_suppressed")

    def __init__(self) -> None:
        self._next = -math.inf
        self._suppressed = 0

    def log(self, uuid: str, running: int, cause: str) -> None:
        now = trio.current_time()
        if now < self._next:
            self._suppressed += 1
            return
        more = (
            f" ({self._suppressed} more refused since the last report)" if self._suppressed else ""
        )
        log.warning(
            "outbound: refused call %s: %d calls running (max_calls); hung up with %s%s",
            uuid,
            running,
            cause,
            more,
        )
        self._suppressed = 0
        self._next = now + 1.0


class _Session:
    """One connection's handler scope and how it was cancelled."""

    __slots__ = ("call", "handler_scope", "lifecycle", "link", "shutdown")

    def __init__(self, link: OutboundLink) -> None:
        self.link = link
        self.lifecycle = OutboundLifecycle()
        self.call: OutboundCall | None = None
        self.handler_scope = trio.CancelScope()
        self.shutdown = False  # the server's drain cancelled the handler

    def cancel_for_shutdown(self) -> None:
        self.shutdown = True
        self.handler_scope.cancel()


class OutboundServer:
    """A running outbound server. Get one from :func:`open_outbound_server`.

    Attributes:
        config: its :class:`~esl_trio.config.OutboundConfig`.
        listeners: the TCP listeners (empty with ``listen=False``).
    """

    def __init__(self, handler: OutboundHandler, config: OutboundConfig) -> None:
        self.config = config
        self.listeners: list[trio.SocketListener] = []
        self._ports: list[int] = []
        self._handler = handler
        self._nursery: trio.Nursery | None = None
        # The connections' nursery lives under a shield: cancelling the block (or
        # serve_outbound) still drains, and only then are the connections cancelled.
        self._hosting = trio.CancelScope(shield=True)
        self._sessions: set[_Session] = set()
        self._active = 0
        self._counts = _Counts()
        self._refusals = _Refusals()
        self._closing = False
        self._accept_scope = trio.CancelScope()
        #: Sockets at once, connecting and refusing included (see ``_serve``).
        self._max_connections = 2 * config.max_calls + 16
        self._idle = trio.Event()
        self._idle.set()

    def __repr__(self) -> str:
        return f"<OutboundServer ports={self.ports} active={self._active}>"

    # -- what it tells -------------------------------------------------------------------

    @property
    def ports(self) -> list[int]:
        """The ports it listens on (useful with ``port=0``); still readable once closed."""
        return list(self._ports)

    @property
    def port(self) -> int:
        """The first port it listens on."""
        if not self.listeners:
            raise RuntimeError("this outbound server does not listen (listen=False)")
        return self.ports[0]

    @property
    def active_calls(self) -> int:
        """Handlers running now."""
        return self._active

    @property
    def open_connections(self) -> int:
        """Sockets open now: handled calls, and those still connecting or being refused
        (at most ``2 * max_calls + 16``; past it a new socket is closed at once)."""
        return len(self._sessions)

    def stats(self) -> OutboundStats:
        c = self._counts
        return OutboundStats(
            accepted=c.accepted,
            active=self._active,
            completed=c.completed,
            failed=c.failed,
            hung_up=c.hung_up,
            shut_down=c.shut_down,
            refused=c.refused,
            broken=c.broken,
        )

    # -- taking connections ----------------------------------------------------------------

    def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Serve a connection already made (what the listener does for each accepted socket).

        For tests over memory streams: ``call, stream = await dialer.dial_memory()`` then
        ``server.serve_stream(stream)``. Raises :class:`NotReadyError` once shutting down.
        """
        if self._closing or self._nursery is None:
            raise NotReadyError("the outbound server is shutting down; it takes no new calls")
        self._nursery.start_soon(self._serve, stream, name="esl-trio outbound connection")

    async def _host(self, *, task_status: trio.TaskStatus[None]) -> None:
        with self._hosting:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()

    async def _listen(self, host: str | None, port: int) -> None:
        assert self._nursery is not None
        self.listeners = await trio.open_tcp_listeners(port, host=host)
        self._ports = [listener.socket.getsockname()[1] for listener in self.listeners]
        await self._nursery.start(self._accept, self.listeners)

    def _stop(self) -> None:
        """After the drain: cancel whatever is left."""
        self._nursery = None
        self._hosting.cancel()

    async def _accept(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]],
    ) -> None:
        with self._accept_scope:
            await trio.serve_listeners(
                self._serve_accepted,
                listeners,
                handler_nursery=self._nursery,  # the connections' (shielded) nursery
                task_status=task_status,
            )

    async def _serve_accepted(self, stream: trio.SocketStream) -> None:
        if self._closing:  # accepted in the instant the drain began
            await trio.aclose_forcefully(stream)
            return
        await self._serve(stream)

    # -- one connection ----------------------------------------------------------------------

    async def _serve(self, stream: trio.abc.Stream) -> None:
        self._counts.accepted += 1
        if len(self._sessions) >= self._max_connections:
            # A flood of sockets that never get to the call (or never answer connect) must not
            # grow without bound: past this, close at once; FreeSWITCH hangs the channel up.
            self._counts.refused += 1
            self._refusals.log("(not connected)", self._active, "a closed socket")
            await trio.aclose_forcefully(stream)
            return
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        link = OutboundLink(stream, self.config)
        session = _Session(link)
        self._sessions.add(session)
        connection = link.connection
        try:
            async with trio.open_nursery() as nursery:
                run_io = link.run_io
                nursery.start_soon(run_io, connection.run_reader, name="esl-trio outbound reader")
                nursery.start_soon(run_io, connection.run_writer, name="esl-trio outbound writer")
                nursery.start_soon(
                    run_io, connection.run_watchdog, name="esl-trio outbound watchdog"
                )
                nursery.start_soon(self._keep, session, name="esl-trio outbound keeper")
                try:
                    await self._converse(session)
                finally:
                    # Closed before the nursery is cancelled: a write blocked in its shield
                    # (the peer stopped reading) is cut here, or the nursery would never end.
                    link.close()
                    nursery.cancel_scope.cancel()
        except Exception:  # a bug of ours: this connection ends, the server serves on
            log.exception("outbound: internal error on a connection; it was closed")
        finally:
            session.lifecycle.fire(OutboundTrigger.CLOSED)
            self._sessions.discard(session)
            link.close()  # (again, for a failure before the nursery) whatever waits ends now
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            if not self._sessions:
                self._idle.set()

    async def _keep(self, session: _Session) -> None:
        """Turn the connection's reports into the lifecycle; cancel the handler after grace."""
        link, lifecycle = session.link, session.lifecycle
        grace_deadline = math.inf
        while True:
            with trio.move_on_at(grace_deadline) as waiting:
                report = await link.reports.receive()
            if waiting.cancelled_caught:  # the grace ran out: the handler's time is up
                grace_deadline = math.inf
                if lifecycle.state is OutboundState.ENDING:
                    session.handler_scope.cancel()
                continue
            if isinstance(report, NoticeArrived) and not isinstance(report.notice, RudeRejection):
                if lifecycle.state is OutboundState.CONNECTING:
                    continue  # no call yet: the failing connect tells the conversation
                link.channel_gone()
                lifecycle.fire(OutboundTrigger.HUNG_UP)
            else:
                if isinstance(report, NoticeArrived):
                    reason = ConnectionLostError("FreeSWITCH sent a rude rejection", written=True)
                    report = ConnectionEnded(reason)
                link.lost(report)
                lifecycle.fire(OutboundTrigger.LOST)
                # The socket is dead: FreeSWITCH sees it closed now, not when the handler ends.
                await trio.aclose_forcefully(link.connection.stream)
            if lifecycle.state is OutboundState.ENDING and grace_deadline == math.inf:
                grace_deadline = trio.current_time() + self.config.hangup_grace

    async def _converse(self, session: _Session) -> None:
        link, config = session.link, self.config
        try:
            reply = await link.request(Connect(), config.connect_timeout)
        except EslError as exc:
            self._counts.broken += 1
            log.warning("outbound: a connection ended before its call started: %s", exc)
            session.lifecycle.fire(OutboundTrigger.LOST)
            return
        assert isinstance(reply, ChannelData)  # the protocol accepts nothing else for connect
        if session.lifecycle.state is not OutboundState.CONNECTING:  # closed right after it
            self._counts.broken += 1
            return
        if self._active >= config.max_calls or self._closing:
            await self._refuse(session, reply)
            return
        session.lifecycle.fire(OutboundTrigger.CONNECTED)
        call = self._make_call(session, reply)
        del reply  # the call keeps what it needs of it, for the call's whole life
        if call is None:
            return
        self._active += 1
        try:
            await self._handle(session, call)
        finally:
            self._active -= 1

    async def _refuse(self, session: _Session, data: ChannelData) -> None:
        session.lifecycle.fire(OutboundTrigger.OVER_LIMIT)
        self._counts.refused += 1
        if self._closing:  # connected while the drain ran: not a limit, a shutdown
            cause = self.config.shutdown_cause
        else:
            cause = self.config.refuse_cause
            self._refusals.log(data.unique_id or "?", self._active, cause)
        with trio.move_on_after(self.config.connect_timeout):
            with contextlib.suppress(EslError):  # closing the socket hangs it up anyway
                await session.link.request(SendMsg.hangup(None, cause))

    def _make_call(self, session: _Session, data: ChannelData) -> OutboundCall | None:
        link = session.link
        try:
            call = OutboundCall(link, data)
        except EslError as exc:
            self._counts.broken += 1
            log.warning("outbound: unusable channel data: %s", exc)
            session.lifecycle.fire(OutboundTrigger.HANDLER_DONE)
            return None
        session.call = link.call = call
        link.full = call.full_control
        link.static = call.socket_mode == "static"
        return call

    async def _handle(self, session: _Session, call: OutboundCall) -> None:
        if not await self._set_up(session, call):
            session.lifecycle.fire(OutboundTrigger.HANDLER_DONE)
            self._counts.broken += 1
            return
        outcome = await self._run_handler(session, call)
        session.lifecycle.fire(OutboundTrigger.HANDLER_DONE)
        await self._finish(session, call, outcome)

    async def _set_up(self, session: _Session, call: OutboundCall) -> bool:
        link, config = session.link, self.config
        commands: list[Command] = []
        if config.myevents:
            plain = config.event_format is EventFormat.PLAIN  # bare ``myevents``, as usual
            commands.append(MyEvents(format=None if plain else config.event_format))
        if config.linger is not None and call.full_control:
            commands.append(Linger(config.linger))
        try:
            for command in commands:
                reply = await link.request(command, config.connect_timeout)
                if reply.is_error:  # the call can still be handled, less well: say so
                    log.warning(
                        "outbound: call %s: %s was refused: %s",
                        call.uuid,
                        command.describe(),
                        reply.text,
                    )
        except EslError as exc:
            log.warning("outbound: call %s: setting up the socket failed: %s", call.uuid, exc)
            return False
        return True

    async def _run_handler(self, session: _Session, call: OutboundCall) -> _Outcome:
        with session.handler_scope:
            try:
                await self._handler(call)
            except Exception as exc:
                if _call_gone(exc, session.link):
                    return _Outcome.HUNG_UP
                log.error(  # noqa: TRY400 - the handler's exception, passed explicitly
                    "outbound: the handler raised on call %s; hanging it up with %s",
                    call.uuid,
                    self.config.error_cause,
                    exc_info=exc,
                )
                return _Outcome.RAISED
            return _Outcome.RETURNED
        return _Outcome.SHUT_DOWN if session.shutdown else _Outcome.HUNG_UP

    async def _finish(self, session: _Session, call: OutboundCall, outcome: _Outcome) -> None:
        counts, config = self._counts, self.config
        if outcome is _Outcome.RETURNED:
            counts.completed += 1
        elif outcome is _Outcome.RAISED:
            counts.failed += 1
        elif outcome is _Outcome.HUNG_UP:
            counts.hung_up += 1
        else:
            counts.shut_down += 1
        owed = session.link.end_reason is None and call.hangup_outcome is None
        if not owed or (call.resumed and outcome is _Outcome.RETURNED):
            return
        cause = {
            _Outcome.RETURNED: "NORMAL_CLEARING",
            _Outcome.RAISED: config.error_cause,
            _Outcome.SHUT_DOWN: config.shutdown_cause,
            _Outcome.HUNG_UP: "NORMAL_CLEARING",
        }[outcome]
        # Shielded: a cancelled handler (shutdown) still owes FreeSWITCH its hangup; bounded,
        # and closing the socket hangs the channel up anyway.
        with trio.CancelScope(shield=True, deadline=trio.current_time() + config.command_timeout):
            try:
                if config.myevents:
                    await call.hangup(cause)  # and wait for its CHANNEL_HANGUP
                else:
                    await session.link.request(SendMsg.hangup(None, cause))
            except EslError:
                pass

    # -- shutting down -----------------------------------------------------------------------

    async def aclose(self, *, drain_timeout: float | None = None) -> None:
        """Stop taking calls, let running handlers finish for ``drain_timeout`` seconds (the
        config's by default; 0 cuts at once), then cancel them (their calls are hung up with
        ``shutdown_cause``). Idempotent; a later call with a shorter deadline cuts sooner."""
        self._closing = True
        self._accept_scope.cancel()
        for listener in self.listeners:
            await trio.aclose_forcefully(listener)
        deadline = self.config.drain_timeout if drain_timeout is None else drain_timeout
        with trio.move_on_after(deadline):
            await self._idle.wait()
        for session in list(self._sessions):
            session.cancel_for_shutdown()
        with trio.move_on_after(self.config.command_timeout + self.config.connect_timeout):
            await self._idle.wait()


def _call_gone(exc: BaseException, link: OutboundLink) -> bool:
    """The handler failed only because its call ended (a hangup is no handler error)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_call_gone(inner, link) for inner in exc.exceptions)
    if isinstance(exc, CallEndedError):
        return True
    return isinstance(exc, ConnectionLostError) and link.end_reason is not None


@asynccontextmanager
async def open_outbound_server(
    handler: OutboundHandler,
    *,
    host: str | None = "127.0.0.1",
    port: int = 8084,
    config: OutboundConfig | None = None,
    listen: bool = True,
    **options: Any,
) -> AsyncIterator[OutboundServer]:
    """Serve FreeSWITCH's outbound connections for the duration of the block.

    Args:
        handler: ``async def handle(call)``, run once per call in the call's own scope.
        host: the address to listen on (None: every interface).
        port: the port (0: any free one; read it from ``server.port``).
        config: behaviour and limits (:class:`~esl_trio.config.OutboundConfig`).
        listen: False serves only streams handed to :meth:`OutboundServer.serve_stream`
            (tests over memory streams).
        **options: :class:`~esl_trio.config.OutboundConfig` fields, applied over ``config``.

    Leaving the block drains — also when it is left by a cancellation: no new calls, running
    handlers get ``drain_timeout`` seconds, then are cancelled and their calls hung up.
    """
    base = config if config is not None else OutboundConfig()
    config = attrs.evolve(base, **options) if options else base
    with nursery_layer_removed():  # the block's own exception comes out as itself
        async with trio.open_nursery() as nursery:
            server = OutboundServer(handler, config)
            await nursery.start(server._host, name="esl-trio outbound server")
            try:
                if listen:
                    await server._listen(host, port)
                yield server
            finally:
                with trio.CancelScope(shield=True):
                    await server.aclose()
                server._stop()


async def serve_outbound(
    handler: OutboundHandler,
    *,
    host: str | None = "127.0.0.1",
    port: int = 8084,
    config: OutboundConfig | None = None,
    task_status: trio.TaskStatus[OutboundServer] = trio.TASK_STATUS_IGNORED,
    **options: Any,
) -> NoReturn:
    """Run an outbound server until cancelled (``nursery.start`` gives the server); the
    cancellation drains it like leaving :func:`open_outbound_server`."""
    async with open_outbound_server(
        handler, host=host, port=port, config=config, **options
    ) as server:
        task_status.started(server)
        await trio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover
