"""The supervisor: owns one connection at a time and decides what happens after a loss.

Each cycle: connect → read the greeting → authenticate → restore subscriptions, filters and
log level → READY; then wait for the connection's tasks to report that it ended, decide why,
and either back off and retry (``RetryPolicy``) or stop for good. Every state change goes
through the lifecycle table (``_state.py``).

Per connection the supervisor task runs a nursery with the reader, the writer, the watchdog,
the handshake and (once READY) the liveness task. They report over one memory channel
(:class:`ConnectionEnded`, :class:`NoticeArrived`); the first report that ends the connection
decides, so a disconnect notice followed by EOF is handled once (G-20).

Terminal (never retried, B-RECON-2): authentication rejected, rude rejection or any other
handshake protocol failure, and a handshake timeout on the *first* connection. Everything
else — refused TCP, EOF, reset, a malformed frame, a disconnect notice, liveness death, an
api-timeout recycle, a restore ``-ERR`` (G-12: not an auth failure) — is retried.

The supervisor sees the runtime only through :class:`SupervisorHost`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from typing import Protocol

import trio

from ._config import RuntimeConfig
from ._connection import Connection, ConnectionEnded, ConnectionReport, NoticeArrived
from ._errors import (
    AuthenticationError,
    CommandError,
    CommandTimeoutError,
    ConnectError,
    ConnectionLostError,
    DrainCutError,
    HandshakeError,
)
from ._health import ErrorRecord, Permissions, ReconnectStatus
from ._liveness import run_liveness
from ._state import Lifecycle, ReconnectPhase, RuntimeState, StopReason, Transition
from .protocol import (
    Auth,
    ClientProtocol,
    Command,
    CommandReply,
    Exit,
    ProtocolError,
    RudeRejection,
    TruncatedFrameError,
    UserAuth,
)

__all__ = ["Supervisor", "SupervisorHost"]

log = logging.getLogger("esl_trio")

#: Reports one connection's tasks may queue before the supervisor reads them. The first
#: ending report decides; each task sends at most one, plus one disconnect notice.
_REPORTS = 8


class SupervisorHost(Protocol):
    """What the supervisor needs from the runtime — and nothing else."""

    async def open_stream(self) -> trio.abc.Stream:
        """A connected byte stream (the configured connector)."""
        ...

    def new_connection(
        self, stream: trio.abc.Stream, reports: trio.MemorySendChannel[ConnectionReport]
    ) -> Connection:
        """A connection on ``stream`` whose reader dispatches into the runtime."""
        ...

    def restore_commands(self) -> list[Command]:
        """Everything a fresh connection needs, in order (events, filters, log level)."""
        ...

    def connection_ready(self, conn: Connection, permissions: Permissions | None) -> None:
        """``conn`` is authenticated and restored: route work to it."""
        ...

    def connection_lost(self, conn: Connection, reason: BaseException) -> None:
        """``conn`` ended: stop routing work to it; unaccepted jobs die with it."""
        ...

    def stopped(self, reason: StopReason, error: BaseException) -> None:
        """No more connections: end every job, receiver and waiter with ``error``."""
        ...

    def record_error(self, error: BaseException) -> None:
        """Remember ``error`` as the most recent failure (health)."""
        ...


class _AttemptFailed(Exception):
    """A connection attempt ended before READY."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Supervisor:
    def __init__(self, host: SupervisorHost, config: RuntimeConfig, lifecycle: Lifecycle) -> None:
        self._host = host
        self._config = config
        self._lifecycle = lifecycle
        self._rng = random.Random()  # noqa: S311 -- backoff jitter, not cryptography
        self.attempt = 0
        self.delay: float | None = None
        self.next_attempt_at: float | None = None
        self.reconnects = 0
        self.connected_at: float | None = None
        self.disconnected_at: float | None = None
        self.last_disconnect: ErrorRecord | None = None
        self._ever_ready = False
        self._conn: Connection | None = None
        self._permissions: Permissions | None = None
        self._run_scope = trio.CancelScope()
        self._finished = trio.Event()
        self._recorded: Connection | None = None  # the last connection whose end is recorded

    def status(self) -> ReconnectStatus:
        return ReconnectStatus(
            phase=self._lifecycle.phase,
            attempt=self.attempt,
            delay=self.delay,
            next_attempt_at=self.next_attempt_at,
            stop_reason=self._lifecycle.stop_reason,
            reconnects=self.reconnects,
        )

    @property
    def _draining(self) -> bool:
        return self._lifecycle.state is RuntimeState.DRAINING

    # -- the loop --------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, serve, reconnect — until stopped. Raises only before the first READY."""
        try:
            with self._run_scope:
                await self._supervise(task_status)
        finally:
            self._finished.set()

    async def _supervise(self, task_status: trio.TaskStatus[None]) -> None:
        while True:
            try:
                await self._one_connection(task_status)
            except _AttemptFailed as failed:
                self._host.record_error(failed.cause)
                stop = self._terminal(failed.cause)
                if self._lifecycle.phase is ReconnectPhase.STOPPED:
                    return  # the shutdown stopped supervision while this attempt ran
                if stop is not None:
                    self._stop(stop, failed.cause)
                    if not self._ever_ready:
                        # Keep the cause's own chain (e.g. the OSError behind a ConnectError).
                        raise failed.cause from failed.cause.__cause__
                    return
            if not await self._back_off():
                return

    def _terminal(self, cause: BaseException) -> StopReason | None:
        """The stop reason if ``cause`` ends supervision, None if it is retried."""
        if isinstance(cause, AuthenticationError):
            return StopReason.AUTH_REJECTED
        # A stream cut mid-frame is a lost connection, not a peer that speaks another protocol.
        if isinstance(cause, HandshakeError | ProtocolError) and not isinstance(
            cause, TruncatedFrameError
        ):
            return StopReason.PROTOCOL_FAILURE
        if not self._ever_ready and not self._config.retry.retry_first_connect:
            if isinstance(cause, CommandTimeoutError):
                return StopReason.HANDSHAKE_TIMEOUT
            return StopReason.RETRY_DISABLED
        return None

    async def _back_off(self) -> bool:
        """Sleep before the next attempt; False when there is none (stopped or draining).

        ``self.attempt`` counts reconnect attempts since the last READY (B-RECON-4: it resets
        only after a full recovery); attempt ``n`` waits ``policy.delay(n)``.
        """
        if self._draining or self._lifecycle.phase is ReconnectPhase.STOPPED:
            return False  # a loss during the drain never reconnects (B-DRAIN-4)
        policy = self._config.retry
        failures = self.attempt
        if policy.exhausted(failures):
            reason = StopReason.RETRIES_EXHAUSTED if policy.enabled else StopReason.RETRY_DISABLED
            last = self.last_disconnect.message if self.last_disconnect else "unknown"
            error = ConnectError(f"gave up after {failures} attempts; last error: {last}")
            self._stop(reason, error)
            if not self._ever_ready:
                raise error
            return False
        self.attempt += 1
        self.delay = policy.delay(self.attempt, self._rng)
        self.next_attempt_at = trio.current_time() + self.delay
        self._lifecycle.apply(Transition.BACK_OFF, attempt=self.attempt, delay=self.delay)
        log.info("esl-trio: retry %d in %.2f s", self.attempt, self.delay)
        await trio.sleep(self.delay)
        self.delay = self.next_attempt_at = None
        return not self._draining

    def _stop(self, reason: StopReason, error: BaseException) -> None:
        self.delay = self.next_attempt_at = None
        self._lifecycle.apply(Transition.STOP, stop_reason=reason, error=error)
        if reason is not StopReason.EXPLICIT_SHUTDOWN:
            # str(), not the exception: a record kept by a handler must not pin its traceback
            # (and through it the dead connection's frames).
            log.error("esl-trio: stopped for good (%s): %s", reason.value, str(error))
        self._host.stopped(reason, error)

    # -- one socket lifetime ---------------------------------------------------------

    async def _one_connection(self, task_status: trio.TaskStatus[None]) -> None:
        """Returns when a READY connection ended; raises _AttemptFailed if it never got there."""
        self._lifecycle.apply(Transition.ATTEMPT, attempt=self.attempt)
        deadline = trio.current_time() + self._config.timeouts.handshake
        log.info("esl-trio: connecting to %s (attempt %d)", self._config.address, self.attempt)
        stream = await self._open_stream(deadline)
        reports_in, reports_out = trio.open_memory_channel[ConnectionReport](_REPORTS)
        conn = self._host.new_connection(stream, reports_in)
        handshake: list[BaseException] = []  # the handshake's own verdict, if it failed
        ready = trio.Event()
        try:
            with conn.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(conn.run_reader, name="esl-trio reader")
                    nursery.start_soon(conn.run_writer, name="esl-trio writer")
                    nursery.start_soon(conn.run_watchdog, name="esl-trio watchdog")
                    nursery.start_soon(
                        self._handshake, conn, deadline, nursery, handshake, ready, task_status,
                        name="esl-trio handshake",
                    )  # fmt: skip
                    try:
                        reason = await self._first_ending(reports_out)
                    except BaseException:
                        # Left early (shutdown, cancellation): close before the nursery
                        # joins, or a writer stuck in a shielded write would never return.
                        lost = ConnectionLostError("connection closed", written=False)
                        self._ended(conn, lost, ready.is_set())
                        raise
                    # Synchronously with the close: nobody sees READY on a dead socket.
                    self._ended(conn, reason, was_ready=ready.is_set())
        finally:
            self._ended(
                conn, ConnectionLostError("connection closed", written=False), ready.is_set()
            )
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
        if not ready.is_set():
            # The handshake's own verdict wins: after "-ERR invalid" FreeSWITCH also sends a
            # disconnect notice, which must not turn an auth rejection into a lost connection.
            cause = handshake[0] if handshake else conn.end_reason
            self._attempt_failed(cause)
            raise _AttemptFailed(cause or ConnectionLostError("closed", written=False))

    def _attempt_failed(self, cause: BaseException | None) -> None:
        # Once the shutdown stopped supervision, an attempt that ends is no news.
        if self._lifecycle.phase is not ReconnectPhase.STOPPED:
            self._lifecycle.apply(Transition.ATTEMPT_FAILED, attempt=self.attempt, error=cause)

    async def _first_ending(
        self, reports: trio.MemoryReceiveChannel[ConnectionReport]
    ) -> BaseException:
        """Wait for the report that ends the connection; what it means is decided here."""
        while True:
            report = await reports.receive()
            if isinstance(report, ConnectionEnded):
                return report.reason
            if isinstance(report, NoticeArrived):
                notice = report.notice
                if isinstance(notice, RudeRejection):
                    return HandshakeError(f"rejected by the server's ACL: {notice.text.strip()}")
                text = notice.text.strip() or "no message"
                return ConnectionLostError(f"server disconnect notice: {text}", written=True)

    async def _open_stream(self, deadline: float) -> trio.abc.Stream:
        with trio.move_on_at(deadline) as scope:
            try:
                return await self._host.open_stream()
            except OSError as exc:
                cause: BaseException = (
                    exc if isinstance(exc, ConnectError) else ConnectError(str(exc))
                )
                self._attempt_failed(cause)
                raise _AttemptFailed(cause) from exc
        assert scope.cancelled_caught
        timeout = CommandTimeoutError("connect", self._config.timeouts.handshake)
        self._attempt_failed(timeout)
        raise _AttemptFailed(timeout)

    async def _handshake(
        self,
        conn: Connection,
        deadline: float,
        nursery: trio.Nursery,
        verdict: list[BaseException],
        ready: trio.Event,
        task_status: trio.TaskStatus[None],
    ) -> None:
        """Greeting, credentials, restore, READY; on failure report the cause and stop."""
        error = await self._establish(conn, deadline)
        if error is not None:
            verdict.append(error)
            conn.report(ConnectionEnded(error))
            return
        if self._draining:
            error = DrainCutError(
                "the runtime started shutting down during the handshake", written=False
            )
            verdict.append(error)
            conn.report(ConnectionEnded(error))
            return
        self._on_ready(conn, task_status)
        ready.set()
        if self._config.heartbeat.enabled:
            nursery.start_soon(run_liveness, conn, self._config.heartbeat, name="esl-trio liveness")

    async def _establish(self, conn: Connection, deadline: float) -> BaseException | None:
        """Greeting, credentials, restore. Returns the cause of a failure, None on success."""
        timeouts = self._config.timeouts
        restoring = False
        try:
            with trio.fail_at(deadline):
                await conn.greeted.wait()
                permissions = await self._authenticate(conn, deadline)
            restoring = True
            self._lifecycle.apply(Transition.AUTHENTICATED, attempt=self.attempt)
            self._permissions = permissions
            with trio.fail_after(timeouts.restore):
                await self._restore(conn)
        except trio.TooSlowError:
            if restoring:
                return CommandTimeoutError("restore subscriptions", timeouts.restore)
            return CommandTimeoutError("handshake", timeouts.handshake)
        except Exception as exc:
            return exc
        return None

    async def _authenticate(self, conn: Connection, deadline: float) -> Permissions | None:
        config = self._config
        credentials: Command
        if config.user is None:
            credentials = Auth(config.password)
        else:
            user, _, domain = config.user.partition("@")
            credentials = UserAuth(user=user, domain=domain, password=config.password)
        reply = await conn.request(credentials, max(deadline - trio.current_time(), 0.001))
        if not isinstance(reply, CommandReply) or not reply.is_auth_accepted:
            text = reply.reason if isinstance(reply, CommandReply) else "unexpected reply"
            log.error("esl-trio: authentication refused by %s: %s", config.address, text)
            raise AuthenticationError(text)
        log.info("esl-trio: authenticated to %s", config.address)
        return Permissions.from_reply(reply) if config.user else None

    async def _restore(self, conn: Connection) -> None:
        """Events first, then filters, then the log level (B-SUBS-10); each must say +OK."""
        for command in self._host.restore_commands():
            reply = await conn.request(command, self._config.timeouts.restore)
            if not isinstance(reply, CommandReply) or not reply.ok:
                text = reply.text if isinstance(reply, CommandReply) else "api/response"
                raise CommandError(f"restore {command.describe()}", text)

    def _on_ready(self, conn: Connection, task_status: trio.TaskStatus[None]) -> None:
        if self._ever_ready:
            self.reconnects += 1
        self._conn = conn
        self.attempt = 0
        self.connected_at = time.time()
        # Work is routed to the connection before anyone can see READY.
        self._host.connection_ready(conn, self._permissions)
        self._lifecycle.apply(Transition.READY)
        log.info("esl-trio: ready (connection %d)", conn.generation)
        if not self._ever_ready:
            self._ever_ready = True
            task_status.started()

    def _ended(self, conn: Connection, reason: BaseException, was_ready: bool) -> None:
        """Close ``conn`` and record why — once per connection, whoever closed it first."""
        if self._recorded is conn:
            return
        self._recorded = conn
        conn.close(reason)  # no-op when the drain closed it first: its reason stays
        reason = conn.end_reason or reason
        # The one place a disconnect is recorded.
        self.disconnected_at = time.time()
        self.last_disconnect = ErrorRecord.of(reason, self.disconnected_at)
        if not isinstance(reason, DrainCutError):
            self._host.record_error(reason)
        if self._conn is conn:
            self._conn = None
        if was_ready and self._lifecycle.phase is not ReconnectPhase.STOPPED:
            # (Once stopped — the drain closing its own connection — a loss is no news.)
            self._lifecycle.apply(Transition.LOST, error=reason)
            log.warning("esl-trio: disconnected from %s: %s", self._config.address, str(reason))
        self._host.connection_lost(conn, reason)

    # -- shutdown -----------------------------------------------------------------------

    async def shutdown(self, drain_error: DrainCutError) -> None:
        """Stop supervising: fail what is left, send ``exit`` (bounded), close."""
        conn = self._conn
        if self._lifecycle.phase is not ReconnectPhase.STOPPED:
            self._stop(StopReason.EXPLICIT_SHUTDOWN, drain_error)
        if conn is not None and conn.is_open:
            with trio.move_on_after(self._config.timeouts.exit):
                with contextlib.suppress(ConnectionLostError):
                    await conn.send_only(Exit())
            conn.close(drain_error)  # the supervisor then cleans up and returns
        else:
            self._run_scope.cancel()  # backing off or mid-attempt: abandon it
        await self._finished.wait()


def new_protocol(config: RuntimeConfig) -> ClientProtocol:  # type: ignore[type-arg]
    limits = config.limits
    return ClientProtocol(
        max_header_bytes=limits.max_header_bytes, max_body_bytes=limits.max_body_bytes
    )
