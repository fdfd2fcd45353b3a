"""``open_esl_runtime`` and :class:`EslRuntime`: the long-lived client users hold.

Task tree, all inside the nursery ``open_esl_runtime`` owns (see
docs/explanation-task-tree.md)::

    runtime nursery
     ├─ esl-trio supervisor    connect → auth → restore → READY; on loss: back off, retry
     │   └─ connection nursery, one per socket
     │       ├─ esl-trio reader      bytes → frames → replies (to their slots) and events (hub)
     │       ├─ esl-trio writer      the command channel → one write per batch
     │       ├─ esl-trio watchdog    reply and write deadlines
     │       ├─ esl-trio handshake   greeting, auth, restore (ends at READY)
     │       └─ esl-trio liveness    probe, then report death (when enabled)
     └─ esl-trio job timer     bgapi completion deadlines, one task for every job

The runtime's own tasks are shielded from a cancellation of the surrounding scope, so the
drain runs (bounded by its deadline) however the block is left; they are cancelled by the
runtime itself once ``exit`` was sent. Nothing outlives the ``async with`` block, and no
internal ExceptionGroup reaches the caller: background failures become state
(``rt.health()``, ``rt.state_changes()``), and the block raises what its body raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio

from ._call import Call
from ._call_registry import CallRegistry
from ._config import RuntimeConfig
from ._connection import Connection, ConnectionReport, Reply
from ._errors import (
    BackpressureError,
    CommandError,
    ConnectionLostError,
    DrainCutError,
    DrainRefusedError,
    NotReadyError,
)
from ._event_names import check_event_names
from ._groups import nursery_layer_removed
from ._health import ErrorRecord, HealthSnapshot, Permissions
from ._hub import EventHub, EventReceiver
from ._jobs import BackgroundJob, JobTracker
from ._liveness import is_live
from ._logs import LogRouter, LogStream
from ._receivers import Feed, GapReason, Overflow, Receiver, open_receiver
from ._replay import ReplayArtifact
from ._state import Lifecycle, RuntimeState, StateChange, StopReason, Transition
from ._subscriptions import Subscriptions, SubscriptionState, restore_commands
from ._supervisor import Supervisor, new_protocol
from ._transport import Connector, tcp_connector
from .protocol import (
    Api,
    ApiReply,
    AuthRequest,
    BackgroundJobEvent,
    BgApi,
    Command,
    CommandReply,
    Event,
    EventEnvelope,
    Exit,
    LogLine,
    Message,
    SendEvent,
    SendMsg,
)

__all__ = ["EslRuntime", "EventStream", "open_esl_runtime"]

log = logging.getLogger("esl_trio")

_JOB_ACCEPTED = "+OK Job-UUID:"
_TERMINAL = (RuntimeState.CLOSED, RuntimeState.FAILED)


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
        unique_id: str | None = None,
    ) -> EventReceiver:
        """A bounded receiver for events named ``names`` (any case) or CUSTOM ``subclasses``.

        No names and no subclasses: every event. With ``unique_id``: only that channel's
        events (routed through a per-channel index, O(1) however many are open). Use it as
        ``async with`` (closes on exit) and ``async for`` over it; items are :class:`Event`
        objects or :class:`StreamGap` markers.
        """
        # A misspelt name would match nothing, silently: refuse it with the closest names.
        checked = [n.removeprefix("SWITCH_EVENT_") for n in check_event_names(names)]
        return self._hub.open(
            checked,
            subclasses,
            unique_id=unique_id,
            max_buffer=max_buffer,
            overflow=Overflow(overflow),
        )


class EslRuntime:
    """One logical ESL client: many sequential connections, one set of state.

    Built by :func:`open_esl_runtime` only.
    """

    def __init__(self, config: RuntimeConfig, connector: Connector) -> None:
        self.config = config
        self._connector = connector
        self._lifecycle = Lifecycle()
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
        self._logs = LogRouter(self.command, command_timeout=config.timeouts.command)
        self._log_stream = LogStream(self._logs)
        self.events = EventStream(self._hub)
        self._counters = {"events": 0, "undecodable": 0, "replies": 0, "sink_errors": 0}
        self._capture_seq = 0
        self._sinks = config.replay.sinks
        self._last_error: ErrorRecord | None = None
        self._permissions: Permissions | None = None
        self._supervisor = Supervisor(self, config, self._lifecycle)
        self._task_scopes: list[trio.CancelScope] = []
        self._registry = CallRegistry(self, self._hub, self._not_ready_error)

    # -- public surface --------------------------------------------------------------

    @property
    def subscriptions(self) -> Subscriptions:
        """Change what FreeSWITCH sends (restored after every reconnect)."""
        return self._subscriptions

    @property
    def logs(self) -> LogStream:
        """FreeSWITCH log lines (``log <level>``), restored after reconnects."""
        return self._log_stream

    @property
    def permissions(self) -> Permissions | None:
        """``userauth`` rights (``Allowed-*`` headers) of the current login; None for ``auth``."""
        return self._permissions

    @property
    def state(self) -> RuntimeState:
        return self._lifecycle.state

    async def wait_state(self, *states: RuntimeState) -> RuntimeState:
        """Wait until the runtime is in one of ``states`` (returns at once if it is)."""
        return await self._lifecycle.wait_state(states)

    def state_changes(self, *, max_buffer: int = 64) -> Receiver[StateChange]:
        """A receiver of every lifecycle transition (connect, ready, lost, back-off, stop…).

        For reporting outages without polling :meth:`wait_state`. Bounded: when the consumer
        falls behind the oldest transitions are dropped (a :class:`StreamGap` says so). It
        ends after the runtime's last transition (closed or failed).
        """
        receiver: Receiver[StateChange]
        feed: Feed[StateChange]
        receiver, feed = open_receiver(
            "state-changes", max_buffer, Overflow.DROP_OLDEST, lambda _: unlisten()
        )
        unlisten = self._lifecycle.listen(lambda change: self._offer_change(feed, change))
        if self._lifecycle.state in _TERMINAL:
            feed.close()
        return receiver

    def _offer_change(self, feed: Feed[StateChange], change: StateChange) -> None:
        feed.offer(change, self._generation)
        if change.state in _TERMINAL:
            feed.close()  # the last transition: iteration ends after it

    async def api(self, command: str, args: str = "") -> ApiReply:
        """Run ``api <command> <args>`` and return FreeSWITCH's output, verbatim.

        ``rt.api("show channels")`` is the same as ``rt.api("show", "channels")``. The output
        of a failing command (``-ERR ...``) is still returned: check
        :attr:`ApiReply.is_error`. A ``-ERR`` *reply* (e.g. ``permission denied`` under
        userauth) raises :class:`CommandError`.
        """
        request = Api(*_split_command(command, args))
        reply = await self._call(request, self.config.timeouts.api, "api")
        if isinstance(reply, CommandReply):
            raise CommandError(request.describe(), reply.text)
        return reply

    async def bgapi(self, command: str, args: str = "") -> BackgroundJob:
        """Start ``bgapi <command> <args>``; returns once FreeSWITCH accepted the job.

        ``await job.wait()`` gives the BACKGROUND_JOB event. The Job-UUID is chosen here and
        registered before anything is written, so a completion can never be missed.
        ``rt.bgapi("originate", "...")`` and ``rt.bgapi("originate ...")`` are the same.
        """
        request = BgApi(*_split_command(command, args))
        job = BackgroundJob(request.job_uuid, request.command, request.args)
        self._gate()
        self._jobs.register(job)
        try:
            reply = await self._call(request, self.config.timeouts.command, "bgapi")
        except BaseException as exc:
            self._jobs.fail(job, exc)
            raise
        if not _job_accepted(reply):
            error = CommandError(request.describe(), reply.text)
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

    def originate(
        self,
        destination: str,
        *,
        app: str = "park",
        app_arg: str = "",
        variables: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> AbstractAsyncContextManager[Call]:
        """``async with rt.originate(dest) as call``: dial, follow, hang up on exit.

        See :mod:`esl_trio._call_registry` and docs/reference/calls.md.
        """
        return self._registry.originate(
            destination, app=app, app_arg=app_arg, variables=variables, timeout=timeout
        )

    def attach(
        self, uuid: str, *, hangup_on_exit: bool = False
    ) -> AbstractAsyncContextManager[Call]:
        """``async with rt.attach(uuid) as call``: follow an existing channel."""
        return self._registry.attach(uuid, hangup_on_exit=hangup_on_exit)

    async def command(self, command: Command) -> Reply:
        """The escape hatch: send any typed command through the same queue and gates.

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
        state = self._lifecycle.state
        interval = self.config.heartbeat.interval
        live = conn is not None and is_live(conn.last_activity, interval, now)
        sup = self._supervisor
        return HealthSnapshot(
            state=state,
            live=live and state is RuntimeState.READY,
            address=self.config.address,
            generation=self._generation,
            inflight_commands=self._calls,
            abandoned_commands=conn.tombstones if conn is not None else 0,
            pending_jobs=len(self._jobs),
            max_inflight=self.config.backpressure.max_inflight,
            events_received=self._counters["events"],
            events_undecodable=self._counters["undecodable"],
            events_dropped=self._hub.dropped_total() + self._logs.dropped_total(),
            replies_received=self._counters["replies"],
            jobs_completed=self._jobs.completed,
            jobs_timed_out=self._jobs.timed_out,
            receivers=self._hub.statistics() + self._logs.statistics(),
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
        state = self._lifecycle.state
        if state in _TERMINAL:
            return
        if state is RuntimeState.DRAINING:
            await self.wait_state(*_TERMINAL)
            return
        self._lifecycle.apply(Transition.DRAIN)
        # Shielded: once started the shutdown must finish (it is bounded by drain_timeout and
        # Timeouts.exit), or a second aclose() — leaving the block — would wait for ever.
        with trio.CancelScope(shield=True):
            timeout = self.config.backpressure.drain_timeout
            with trio.move_on_after(timeout) as drain:
                await self._wait_idle()
            unfinished = self._calls + len(self._jobs)
            await self._supervisor.shutdown(
                DrainCutError(f"drain deadline ({timeout:g} s) expired", written=True)
            )
            self._lifecycle.apply(Transition.CLOSE)
        if drain.cancelled_caught:
            log.warning("esl-trio: drain deadline cut %d commands and jobs", unfinished)
        else:
            log.info("esl-trio: drained and closed")

    # -- gates, calls and accounting ---------------------------------------------------

    def _gate(self) -> Connection:
        state = self._lifecycle.state
        if state is RuntimeState.DRAINING:
            raise DrainRefusedError("the runtime is shutting down; no new work is accepted")
        conn = self._conn
        if state is not RuntimeState.READY or conn is None or not conn.is_open:
            raise NotReadyError(self._not_ready_message(state))
        # A job still waiting for its acceptance is also a call in flight: count it once.
        # Tombstones count too: FreeSWITCH still has to run what their callers gave up on.
        inflight = self._calls + len(self._jobs) - self._jobs.unaccepted + conn.tombstones
        limit = self.config.backpressure.max_inflight
        if inflight >= limit:
            raise BackpressureError(f"{inflight} commands and jobs in flight (limit {limit})")
        return conn

    def _not_ready_error(self, state: RuntimeState) -> NotReadyError:
        return NotReadyError(self._not_ready_message(state))

    def _not_ready_message(self, state: RuntimeState) -> str:
        if state is RuntimeState.FAILED:
            reason = self._lifecycle.stop_reason
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
        if self._lifecycle.state is RuntimeState.DRAINING:
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

    # -- SupervisorHost: what the supervisor may ask of the runtime ----------------------

    async def open_stream(self) -> trio.abc.Stream:
        return await self._connector()

    def new_connection(
        self, stream: trio.abc.Stream, reports: trio.MemorySendChannel[ConnectionReport]
    ) -> Connection:
        self._generation += 1
        limits = self.config.limits
        conn = Connection(
            stream,
            new_protocol(self.config),
            generation=self._generation,
            dispatch=self._dispatch,
            reports=reports,
            receive_size=limits.receive_size,
            write_timeout=self.config.timeouts.write,
            queue_size=self.config.backpressure.max_inflight + 16,
        )
        if self._lifecycle.state is not RuntimeState.CONNECTING:
            # A reconnect: before the reader delivers anything of the new socket, so the
            # marker precedes its first event, even one read with the restore replies.
            self._hub.mark_gap(GapReason.RECONNECT, conn.generation)
            self._logs.mark_gap(conn.generation)
        return conn

    def restore_commands(self) -> list[Command]:
        return restore_commands(self._subscriptions.state) + self._logs.restore_commands()

    def connection_ready(self, conn: Connection, permissions: Permissions | None) -> None:
        self._conn = conn
        self._permissions = permissions
        self._last_error = None  # G-31: a full recovery clears the last error
        self._hub.flush_gaps()  # a reconnect marker is readable now, not with the next event
        self._logs.flush_gaps()

    def connection_lost(self, conn: Connection, reason: BaseException) -> None:
        if self._conn is conn:
            self._conn = None
        if not isinstance(reason, DrainCutError):
            self._jobs.fail_unaccepted(_lost_before_acceptance(reason))

    def stopped(self, reason: StopReason, error: BaseException) -> None:
        self._jobs.fail_all(error)
        if reason is not StopReason.EXPLICIT_SHUTDOWN:
            # Receivers end now, not when the block is left: a consumer must not wait forever.
            ended = NotReadyError(self._not_ready_message(RuntimeState.FAILED))
            ended.__cause__ = error
            self._hub.close_all(ended)
            self._logs.close_all(ended)

    def record_error(self, error: BaseException) -> None:
        self._record_error(error)

    # -- the reader's dispatch (synchronous, hot path) ---------------------------------

    def _dispatch(self, conn: Connection, message: Message, now: float) -> Sequence[Feed[Any]]:
        if isinstance(message, Event):
            return self._on_event(conn, message, now)
        if isinstance(message, CommandReply | ApiReply):
            self._counters["replies"] += 1
            if self._sinks:
                answered = conn.protocol.answered
                self._capture_reply(message, answered.command if answered else None)
        elif isinstance(message, LogLine):
            self._logs.deliver(message, conn.generation)
        elif isinstance(message, AuthRequest):
            conn.greeted.set()
        return []

    def _on_event(self, conn: Connection, event: Event, now: float) -> Sequence[Feed[Event]]:
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

    # -- the runtime's own tasks ---------------------------------------------------------

    async def _start(self, nursery: trio.Nursery) -> None:
        """Start the job timer and the supervisor; return once the first connection is READY."""
        nursery.start_soon(self._protected, self._run_timer, name="esl-trio job timer")
        await nursery.start(self._protected, self._supervisor.run, name="esl-trio supervisor")
        nursery.start_soon(self._protected, self._run_registry, name="esl-trio calls")

    async def _run_timer(self, task_status: trio.TaskStatus[None]) -> None:
        await self._jobs.run_timer()

    async def _run_registry(self, task_status: trio.TaskStatus[None]) -> None:
        await self._registry.run()

    async def _protected(
        self,
        run: Callable[[trio.TaskStatus[None]], Awaitable[None]],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        # Shielded from the scope around ``open_esl_runtime``: the drain needs the reader,
        # the writer and the timers. ``_stop_tasks`` cancels them once it is over.
        # Until the first READY the caller may give up (a deadline around the ``async with``
        # must work even with retry_first_connect); from then on the task is shielded.
        with trio.CancelScope(shield=task_status is trio.TASK_STATUS_IGNORED) as scope:
            self._task_scopes.append(scope)
            await run(_ShieldWhenStarted(task_status, scope))

    def _stop_tasks(self) -> None:
        for scope in self._task_scopes:
            scope.cancel()

    def _release(self) -> None:
        """After the block: every receiver ends (iteration stops), nothing is left behind."""
        self._hub.close_all()
        self._logs.close_all()


class _ShieldWhenStarted:
    """A task status that shields its task's scope the moment the task reports started."""

    def __init__(self, status: trio.TaskStatus[None], scope: trio.CancelScope) -> None:
        self._status = status
        self._scope = scope

    def started(self, value: None = None) -> None:
        self._scope.shield = True
        self._status.started(value)


def _split_command(command: str, args: str) -> tuple[str, str]:
    """``"show channels"`` → ``("show", "channels")``, as python-ESL and fs_cli accept it."""
    if args:
        return command, args
    name, _, rest = command.strip(" ").partition(" ")
    return name, rest.lstrip(" ")


def _job_accepted(reply: Reply) -> bool:
    # FreeSWITCH accepts with a command/reply "+OK Job-UUID: …" — or, when the command tears
    # its own listener down (``reload mod_event_socket``), with an api/response saying so.
    if isinstance(reply, CommandReply):
        return reply.ok
    return reply.text.startswith(_JOB_ACCEPTED)


def _lost_before_acceptance(reason: BaseException) -> ConnectionLostError:
    error = ConnectionLostError(
        f"connection lost before the job was accepted: {reason}", written=True
    )
    error.__cause__ = reason
    return error


def _dispatch_payload(command: Command) -> dict[str, Any]:
    payload: dict[str, Any] = {"command": command.describe()}
    if isinstance(command, Api | BgApi):
        payload.update(name=command.command, args=command.args)
    if isinstance(command, BgApi):
        payload["job_uuid"] = command.job_uuid
    return payload


@asynccontextmanager
async def open_esl_runtime(
    config: RuntimeConfig, *, connector: Connector | None = None
) -> AsyncIterator[EslRuntime]:
    """Connect, authenticate and restore subscriptions; yield the runtime; drain and close.

    An async context manager: ``async with open_esl_runtime(config) as rt:``. Entering
    returns only once the runtime is READY (connected,
    authenticated, subscriptions applied). A failure of the first connection raises here
    (unless ``config.retry.retry_first_connect``); later losses are retried in the background
    according to ``config.retry``. Leaving the block — normally, by an exception or by
    cancellation — drains accepted work (bounded by ``backpressure.drain_timeout``), sends
    ``exit`` and closes; nothing keeps running afterwards. What the block raised comes out
    unchanged (an ExceptionGroup of your own nursery stays that group).
    """
    runtime = EslRuntime(config, connector or tcp_connector(config))
    try:
        async with _runtime_scope(runtime):
            yield runtime
    finally:
        runtime._release()


@asynccontextmanager
async def _runtime_scope(runtime: EslRuntime) -> AsyncGenerator[None, None]:
    # The runtime's nursery adds exactly one layer around what the block (or the first
    # connection) raised; only that layer is stripped, so a user's own group stays intact.
    with nursery_layer_removed():
        async with trio.open_nursery() as nursery:
            try:
                await runtime._start(nursery)
                try:
                    yield
                finally:
                    with trio.CancelScope(shield=True):
                        await runtime.aclose()
            finally:
                runtime._stop_tasks()
