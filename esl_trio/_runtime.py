"""``open_esl_runtime`` and :class:`EslRuntime`: the long-lived client users hold.

Task tree, all inside the nursery ``open_esl_runtime`` owns::

    runtime nursery
     ├─ supervisor        connect → auth → restore → READY; on loss: back off, retry
     │   └─ connection    one nursery per socket: reader (+ liveness, probes)
     └─ job timer         bgapi completion deadlines, one task for every job

Nothing outlives the ``async with`` block, and no ExceptionGroup of internal tasks reaches
the caller: background failures become state (``rt.health()``), and the block raises plain
exceptions.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._config import RuntimeConfig
from ._connection import Connection, Reply
from ._errors import (
    BackpressureError,
    CommandError,
    DrainCutError,
    DrainRefusedError,
    NotReadyError,
)
from ._health import ErrorRecord, HealthSnapshot, Permissions
from ._hub import EventHub, EventReceiver
from ._jobs import BackgroundJob, JobTracker
from ._logs import LogStream
from ._receivers import Overflow
from ._replay import ReplayArtifact
from ._state import RuntimeState, StateCell
from ._subscriptions import Subscriptions, SubscriptionState
from ._supervisor import Supervisor
from ._transport import Connector, tcp_connector
from ._util import unwrap_group
from .protocol import (
    Api,
    ApiReply,
    AuthRequest,
    BackgroundJobEvent,
    BgApi,
    Command,
    CommandReply,
    DisconnectNotice,
    Event,
    EventEnvelope,
    Exit,
    LogLine,
    Message,
    RudeRejection,
    SendEvent,
    SendMsg,
)

__all__ = ["EslRuntime", "EventStream", "open_esl_runtime"]


class EventStream:
    """``rt.events``: open receivers for the events this runtime is subscribed to.

    A receiver only sees what the connection receives: subscribe with
    ``rt.subscriptions`` (or the config) for FreeSWITCH to send the events at all.
    """

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub

    def receiver(
        self,
        *names: str,
        subclasses: Iterable[str] = (),
        max_buffer: int = 1000,
        overflow: Overflow | str = Overflow.DROP_NEWEST,
    ) -> EventReceiver:
        """A bounded receiver for events named ``names`` (any case) or CUSTOM ``subclasses``.

        No names and no subclasses: every event. Use it as ``async with`` (closes on exit) and
        ``async for`` over it; items are :class:`Event` objects or :class:`StreamGap` markers.
        """
        return self._hub.open(names, subclasses, max_buffer=max_buffer, overflow=Overflow(overflow))


class EslRuntime:
    """One logical ESL client: many sequential connections, one set of state.

    Built by :func:`open_esl_runtime` only.
    """

    def __init__(self, config: RuntimeConfig, connector: Connector) -> None:
        self.config = config
        self._connector = connector
        self._state = StateCell(RuntimeState.CONNECTING)
        self._conn: Connection | None = None
        self._generation = 0
        self._hub = EventHub()
        self._jobs = JobTracker()
        self._jobs.on_change = self._work_changed
        self._calls = 0
        self._work_event = trio.Event()
        self._subscriptions = Subscriptions(
            SubscriptionState.from_config(
                config.subscriptions, heartbeat=config.heartbeat.subscribe_heartbeat
            ),
            self._apply_subscription,
        )
        self._logs = LogStream(self)
        self.events = EventStream(self._hub)
        self._counters = {"events": 0, "undecodable": 0, "replies": 0, "sink_errors": 0}
        self._capture_seq = 0
        self._sinks = config.replay.sinks
        self._last_error: ErrorRecord | None = None
        self._permissions: Permissions | None = None
        self._supervisor = Supervisor(self)

    # -- public surface --------------------------------------------------------------

    @property
    def subscriptions(self) -> Subscriptions:
        """Change what FreeSWITCH sends (restored after every reconnect)."""
        return self._subscriptions

    @property
    def logs(self) -> LogStream:
        """FreeSWITCH log lines (``log <level>``), restored after reconnects."""
        return self._logs

    @property
    def permissions(self) -> Permissions | None:
        """``userauth`` rights (``Allowed-*`` headers) of the current login; None for ``auth``."""
        return self._permissions

    @property
    def state(self) -> RuntimeState:
        return self._state.value

    async def wait_state(self, *states: RuntimeState) -> RuntimeState:
        """Wait until the runtime is in one of ``states`` (returns at once if it is)."""
        return await self._state.wait_value(lambda s: s in states)

    async def api(self, command: str, args: str = "") -> ApiReply:
        """Run ``api <command> <args>`` and return FreeSWITCH's output, verbatim.

        The output of a failing command (``-ERR ...``) is still returned: check
        :attr:`ApiReply.is_error`. A ``-ERR`` *reply* (e.g. ``permission denied`` under
        userauth) raises :class:`CommandError`.
        """
        request = Api(command, args)
        reply = await self._call(request, self.config.timeouts.api, "api")
        if isinstance(reply, CommandReply):
            raise CommandError(request.describe(), reply.text)
        return reply

    async def bgapi(self, command: str, args: str = "") -> BackgroundJob:
        """Start ``bgapi <command> <args>``; returns once FreeSWITCH accepted the job.

        ``await job.wait()`` gives the BACKGROUND_JOB event. The Job-UUID is chosen here and
        registered before anything is written, so a completion can never be missed.
        """
        request = BgApi(command, args)
        job = BackgroundJob(request.job_uuid, command, args)
        self._gate()
        self._jobs.register(job)
        try:
            reply = await self._call(request, self.config.timeouts.command, "bgapi")
        except BaseException as exc:
            self._jobs.fail(job, exc)
            raise
        if not isinstance(reply, CommandReply) or not reply.ok:
            error = CommandError(request.describe(), _reply_text(reply))
            self._jobs.fail(job, error)
            raise error
        self._jobs.accepted(job, trio.current_time(), self.config.timeouts.bgapi_completion)
        return job

    async def sendevent(
        self,
        name: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        body: bytes | str = b"",
    ) -> str:
        """Fire an event (``sendevent``); returns FreeSWITCH's Event-UUID for it."""
        data = body.encode() if isinstance(body, str) else body
        reply = await self.command(SendEvent(name=name, headers=headers, body=data))
        return reply.message if isinstance(reply, CommandReply) else ""

    async def sendmsg(self, message: SendMsg) -> CommandReply:
        """Send a ``sendmsg`` (see ``SendMsg.execute`` / ``SendMsg.hangup``) to a channel."""
        reply = await self.command(message)
        assert isinstance(reply, CommandReply)
        return reply

    async def execute(self, uuid: str, app: str, arg: str = "") -> CommandReply:
        """Run a dialplan application on a channel (``sendmsg`` with ``execute``)."""
        return await self.sendmsg(SendMsg.execute(uuid, app, arg))

    async def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> CommandReply:
        """Hang up a channel (``sendmsg`` with ``hangup``)."""
        return await self.sendmsg(SendMsg.hangup(uuid, cause))

    async def command(self, command: Command) -> Reply:
        """The escape hatch: send any typed command through the same FIFO and gates.

        A ``-ERR`` reply raises :class:`CommandError`; use :meth:`api`/:meth:`bgapi` for those.
        """
        if isinstance(command, Exit) or command.verb in {"auth", "userauth"}:
            raise ValueError(f"{command.verb!r} is managed by the runtime")
        reply = await self._call(command, self.config.timeouts.command, "command")
        if isinstance(reply, CommandReply) and not reply.ok:
            raise CommandError(command.describe(), reply.text)
        return reply

    def health(self) -> HealthSnapshot:
        """A frozen snapshot of state, counters, receivers and the last error. Never raises."""
        conn = self._conn
        now = trio.current_time()
        live = conn is not None and now - conn.last_activity <= self.config.heartbeat.interval
        sup = self._supervisor
        return HealthSnapshot(
            state=self._state.value,
            live=live and self._state.value is RuntimeState.READY,
            address=self.config.address,
            generation=self._generation,
            inflight_commands=self._calls,
            pending_jobs=len(self._jobs),
            max_inflight=self.config.backpressure.max_inflight,
            events_received=self._counters["events"],
            events_undecodable=self._counters["undecodable"],
            events_dropped=self._hub.dropped_total() + self._logs.dropped_total(),
            replies_received=self._counters["replies"],
            jobs_completed=self._jobs.completed,
            jobs_timed_out=self._jobs.timed_out,
            receivers=tuple(r.statistics() for r in self._hub.receivers) + self._logs.stats(),
            reconnect=sup.status(),
            connected_at=sup.connected_at,
            disconnected_at=sup.disconnected_at,
            last_disconnect=sup.last_disconnect,
            last_error=self._last_error,
            replay_sink_errors=self._counters["sink_errors"],
            snapshot_at=time.time(),
        )

    async def aclose(self) -> None:
        """Drain (bounded by ``backpressure.drain_timeout``), send ``exit``, close. Idempotent."""
        if self._state.value in (RuntimeState.CLOSED, RuntimeState.FAILED):
            return
        if self._state.value is RuntimeState.DRAINING:
            await self.wait_state(RuntimeState.CLOSED, RuntimeState.FAILED)
            return
        self._state.set(RuntimeState.DRAINING)
        with trio.move_on_after(self.config.backpressure.drain_timeout):
            await self._wait_idle()
        await self._supervisor.shutdown(
            # What is still pending was accepted, hence written (or a job accepted by FreeSWITCH).
            DrainCutError(
                f"drain deadline ({self.config.backpressure.drain_timeout:g} s) expired",
                written=True,
            )
        )
        self._state.set(RuntimeState.CLOSED)

    # -- gates, calls and accounting ---------------------------------------------------

    def _gate(self) -> Connection:
        state = self._state.value
        if state is RuntimeState.DRAINING:
            raise DrainRefusedError("the runtime is shutting down; no new work is accepted")
        conn = self._conn
        if state is not RuntimeState.READY or conn is None or not conn.is_open:
            raise NotReadyError(self._not_ready_message(state))
        # A job still waiting for its acceptance is also a call in flight: count it once.
        inflight = self._calls + len(self._jobs) - self._jobs.unaccepted
        limit = self.config.backpressure.max_inflight
        if inflight >= limit:
            raise BackpressureError(f"{inflight} commands and jobs in flight (limit {limit})")
        return conn

    def _not_ready_message(self, state: RuntimeState) -> str:
        if state is RuntimeState.FAILED:
            reason = self._supervisor.stop_reason
            cause = self._last_error.message if self._last_error else "unknown"
            why = reason.value if reason else "failed"
            return f"the runtime stopped for good ({why}: {cause}); open a new one"
        if state is RuntimeState.CLOSED:
            return "the runtime is closed"
        return f"no connection to FreeSWITCH right now ({state.value}); retry later"

    async def _call(self, command: Command, limit: float, kind: str) -> Reply:
        conn = self._gate()
        self._calls += 1
        if kind != "command":  # the named artifacts only
            self._capture(f"{kind}.dispatch", _dispatch_payload(command))
        try:
            return await conn.request(command, limit)
        except Exception as exc:
            self._record_error(exc)
            raise
        finally:
            self._calls -= 1
            self._work_changed()

    def _work_changed(self) -> None:
        if self._state.value is RuntimeState.DRAINING:
            self._work_event.set()
            self._work_event = trio.Event()

    async def _wait_idle(self) -> None:
        while self._calls or len(self._jobs):
            await self._work_event.wait()

    def _record_error(self, error: BaseException) -> None:
        self._last_error = ErrorRecord.of(error, time.time())

    async def _apply_subscription(
        self, commands: list[Command], kind: str, detail: dict[str, object]
    ) -> None:
        self._gate()  # refused changes leave no artifact (B-REPLAY-6)
        artifact = "filter.mutate" if kind == "filter" else "subscription.mutate"
        self._capture(artifact, {"kind": kind, **detail})
        while commands:  # the contract of Subscriptions: the list keeps what did not apply
            await self.command(commands[0])
            del commands[0]

    # -- the reader's dispatch (synchronous, hot path) ---------------------------------

    def _dispatch(self, conn: Connection, message: Message, now: float) -> list[EventReceiver]:
        if isinstance(message, Event):
            return self._on_event(conn, message, now)
        if isinstance(message, CommandReply | ApiReply):
            self._counters["replies"] += 1
            if self._sinks:
                self._capture_reply(message, conn.last_reply_command)
        elif isinstance(message, LogLine):
            self._logs.deliver(message, conn.generation)
        elif isinstance(message, AuthRequest):
            conn.greeted.set()
        elif isinstance(message, DisconnectNotice | RudeRejection):
            self._supervisor.on_notice(conn, message)
        return []

    def _on_event(self, conn: Connection, event: Event, now: float) -> list[EventReceiver]:
        counters = self._counters
        sequence = counters["events"] = counters["events"] + 1
        event.envelope = EventEnvelope(conn.generation, sequence, now)
        if self._sinks:
            raw = event.raw.decode("utf-8", "replace")
            self._capture("event.raw", {"format": str(event.format), "raw": raw})
        if not event.name:
            counters["undecodable"] += 1
        elif event.name == "BACKGROUND_JOB" and isinstance(event, BackgroundJobEvent):
            job = self._jobs.complete(event)
            if job is not None and self._sinks:
                self._capture("bgapi.complete", {"job_uuid": job.job_uuid})
        return self._hub.deliver(event, conn.generation)

    def _capture_reply(self, reply: Reply, command: Command | None) -> None:
        if isinstance(reply, ApiReply):
            payload: dict[str, Any] = {"body": reply.text}
            if isinstance(command, Api):  # pairs the reply with its command, not by order
                payload.update(name=command.command, args=command.args)
            self._capture("api.reply", payload)
        else:
            headers = [list(pair) for pair in reply.headers.items()]
            self._capture("command.reply", {"reply_text": reply.text, "headers": headers})
            job = self._jobs.get(reply.job_uuid) if reply.job_uuid else None
            if job is not None:  # captured here, in socket order (B-REPLAY-5)
                payload = {"job_uuid": job.job_uuid, "command": job.command, "args": job.args}
                self._capture("bgapi.ack", payload)

    def _capture(self, name: str, payload: dict[str, Any]) -> None:
        if not self._sinks:
            return
        self._capture_seq += 1
        artifact = ReplayArtifact(
            name, self._capture_seq, self._generation, trio.current_time(), time.time(), payload
        )
        for sink in self._sinks:
            try:
                sink(artifact)
            except Exception:
                self._counters["sink_errors"] += 1


def _dispatch_payload(command: Command) -> dict[str, Any]:
    payload: dict[str, Any] = {"command": command.describe()}
    if isinstance(command, Api | BgApi):
        payload.update(name=command.command, args=command.args)
    if isinstance(command, BgApi):
        payload["job_uuid"] = command.job_uuid
    return payload


def _reply_text(reply: Reply | None) -> str:
    if isinstance(reply, CommandReply):
        return reply.text
    if isinstance(reply, ApiReply):
        return reply.text
    return ""


@asynccontextmanager
async def open_esl_runtime(
    config: RuntimeConfig, *, connector: Connector | None = None
) -> AsyncIterator[EslRuntime]:
    """Connect, authenticate and restore subscriptions; yield the runtime; drain and close.

    Returns from ``__aenter__`` only once the runtime is READY. A failure of the first
    connection raises here (unless ``config.retry.retry_first_connect``); later losses are
    retried in the background according to ``config.retry``. Leaving the block drains accepted
    work (bounded), sends ``exit`` and closes; nothing keeps running afterwards.
    """
    runtime = EslRuntime(config, connector or tcp_connector(config))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runtime._jobs.run_timer)
            await nursery.start(runtime._supervisor.run)
            try:
                yield runtime
            finally:
                with trio.CancelScope(shield=True):
                    await runtime.aclose()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        error = unwrap_group(group)
        raise error from error.__cause__
    finally:
        runtime._hub.close_all()
        runtime._logs.close_all()
