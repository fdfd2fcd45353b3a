"""The supervisor: owns one connection at a time and decides what happens after a loss.

Each cycle: connect → read the greeting → authenticate → restore
subscriptions, filters and log level → READY; then wait for the connection to end, classify
why, and either back off and retry (``RetryPolicy``) or stop for good.

Terminal (never retried, B-RECON-2): authentication rejected, rude rejection or any other
handshake protocol failure, and a handshake timeout on the *first* connection. Everything
else — refused TCP, EOF, reset, a malformed frame, a disconnect notice, liveness death, an
api-timeout recycle, a restore ``-ERR`` (G-12: not an auth failure) — is retried.

A failure before the first READY is raised to ``open_esl_runtime`` (unless
``retry_first_connect``); after that the supervisor never raises: it records state.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import TYPE_CHECKING

import trio

from ._connection import Connection
from ._errors import (
    AuthenticationError,
    CommandError,
    CommandTimeoutError,
    ConnectError,
    ConnectionLostError,
    DrainError,
    HandshakeError,
)
from ._health import ErrorRecord, Permissions, ReconnectStatus
from ._receivers import GapReason
from ._state import ReconnectPhase, RuntimeState, StopReason
from ._subscriptions import restore_commands
from .protocol import (
    Api,
    Auth,
    ClientProtocol,
    Command,
    CommandReply,
    DisconnectNotice,
    Exit,
    ProtocolError,
    RudeRejection,
    TruncatedFrameError,
    UserAuth,
)

if TYPE_CHECKING:
    from ._runtime import EslRuntime

__all__ = ["Supervisor"]


class _AttemptFailed(Exception):
    """A connection attempt ended before READY."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Stop(Exception):
    def __init__(self, reason: StopReason, cause: BaseException | None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.cause = cause


class Supervisor:
    def __init__(self, runtime: EslRuntime) -> None:
        self._rt = runtime
        self._config = runtime.config
        self._rng = random.Random()  # noqa: S311 -- backoff jitter, not cryptography
        self.phase = ReconnectPhase.CONNECTING
        self.attempt = 0
        self.delay: float | None = None
        self.next_attempt_at: float | None = None
        self.stop_reason: StopReason | None = None
        self.reconnects = 0
        self.connected_at: float | None = None
        self.disconnected_at: float | None = None
        self.last_disconnect: ErrorRecord | None = None
        self._ever_ready = False
        self._shutting_down = False

    def status(self) -> ReconnectStatus:
        return ReconnectStatus(
            phase=self.phase,
            attempt=self.attempt,
            delay=self.delay,
            next_attempt_at=self.next_attempt_at,
            stop_reason=self.stop_reason,
            reconnects=self.reconnects,
        )

    # -- the loop --------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        while not self._shutting_down:
            try:
                await self._one_connection(task_status)
            except _AttemptFailed as failed:
                self._rt._record_error(failed.cause)
                try:
                    self._classify_failure(failed.cause)
                except _Stop as stop:
                    self._stop(stop.reason, stop.cause)
                    if not self._ever_ready:
                        # Keep the cause's own chain (e.g. the OSError behind a ConnectError).
                        raise failed.cause from failed.cause.__cause__
                    return
            if not await self._back_off():
                return

    def _classify_failure(self, cause: BaseException) -> None:
        first = not self._ever_ready
        if isinstance(cause, AuthenticationError):
            raise _Stop(StopReason.AUTH_REJECTED, cause)
        # A stream cut mid-frame is a lost connection, not a peer that speaks another protocol.
        if isinstance(cause, HandshakeError | ProtocolError) and not isinstance(
            cause, TruncatedFrameError
        ):
            raise _Stop(StopReason.PROTOCOL_FAILURE, cause)
        if first and not self._config.retry.retry_first_connect:
            timeout = isinstance(cause, CommandTimeoutError)
            raise _Stop(
                StopReason.HANDSHAKE_TIMEOUT if timeout else StopReason.RETRY_DISABLED, cause
            )

    async def _back_off(self) -> bool:
        """Sleep before the next attempt; False when there is none (stopped or shutting down).

        ``self.attempt`` counts reconnect attempts since the last READY (B-RECON-4: it resets
        only after a full recovery); attempt ``n`` waits ``policy.delay(n)``.
        """
        if self._shutting_down or self._rt._state.value is RuntimeState.DRAINING:
            return False  # a loss during the drain never reconnects (B-DRAIN-4)
        policy = self._config.retry
        failures = self.attempt
        if policy.exhausted(failures):
            reason = (
                StopReason.RETRY_DISABLED if not policy.enabled else StopReason.RETRIES_EXHAUSTED
            )
            self._stop(reason, None)
            if not self._ever_ready:
                last = self._rt._last_error.message if self._rt._last_error else "unknown"
                raise ConnectError(f"gave up after {failures} attempts; last error: {last}")
            return False
        self.attempt += 1
        self.delay = policy.delay(self.attempt, self._rng)
        self.next_attempt_at = trio.current_time() + self.delay
        self.phase = ReconnectPhase.WAITING
        if self._ever_ready:
            self._rt._state.set(RuntimeState.RECONNECTING)
        await trio.sleep(self.delay)
        self.delay = self.next_attempt_at = None
        return True

    def _stop(self, reason: StopReason, cause: BaseException | None) -> None:
        self.phase = ReconnectPhase.STOPPED
        self.stop_reason = reason
        self.delay = self.next_attempt_at = None
        error = cause or ConnectionLostError(
            f"runtime stopped ({reason.value}) before the job completed", written=True
        )
        self._rt._jobs.fail_all(error)
        if reason is not StopReason.EXPLICIT_SHUTDOWN:
            self._rt._state.set(RuntimeState.FAILED)

    # -- one socket lifetime ---------------------------------------------------------

    async def _one_connection(self, task_status: trio.TaskStatus[None]) -> None:
        """Returns when a READY connection ended; raises _AttemptFailed if it never got there."""
        self.phase = ReconnectPhase.CONNECTING
        deadline = trio.current_time() + self._config.timeouts.handshake
        stream = await self._open_stream(deadline)
        rt = self._rt
        rt._generation += 1
        limits = self._config.limits
        conn = Connection(
            stream,
            ClientProtocol(
                max_header_bytes=limits.max_header_bytes, max_body_bytes=limits.max_body_bytes
            ),
            generation=rt._generation,
            dispatch=rt._dispatch,
            receive_size=limits.receive_size,
            write_timeout=self._config.timeouts.write,
        )
        conn.on_end = self._on_connection_end
        if self._ever_ready:
            # Before the reader delivers anything of the new socket: the marker must precede
            # its first event, even one read in the same chunk as the restore replies.
            rt._hub.mark_gap(GapReason.RECONNECT, conn.generation)
            rt._logs.mark_gap(conn.generation)
        ready = False
        failure: BaseException | None = None
        try:
            with conn.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(conn.run_reader)
                    nursery.start_soon(conn.run_watchdog)
                    failure = await self._establish(conn, deadline)
                    ready = failure is None
                    if ready:
                        self._on_ready(conn, task_status)
                        if self._config.heartbeat.enabled:
                            nursery.start_soon(self._liveness, conn)
                        await conn.wait_ended()
        finally:
            await self._after_connection(conn, stream)
        if not ready:
            # The handshake's own verdict wins: after "-ERR invalid" FreeSWITCH also sends a
            # disconnect notice, which must not turn an auth rejection into a lost connection.
            cause = failure or conn.end_reason
            raise _AttemptFailed(cause or ConnectionLostError("closed", written=False))

    async def _open_stream(self, deadline: float) -> trio.abc.Stream:
        with trio.move_on_at(deadline) as scope:
            try:
                return await self._rt._connector()
            except OSError as exc:
                raise _AttemptFailed(
                    exc if isinstance(exc, ConnectError) else ConnectError(str(exc))
                ) from exc
        assert scope.cancelled_caught
        raise _AttemptFailed(CommandTimeoutError("connect", self._config.timeouts.handshake))

    async def _establish(self, conn: Connection, deadline: float) -> BaseException | None:
        """Greeting, credentials, restore. On failure: end the connection, return the cause."""
        error: BaseException
        timeouts = self._config.timeouts
        try:
            with trio.fail_at(deadline):
                await conn.greeted.wait()
                await self._authenticate(conn, deadline)
            self.phase = ReconnectPhase.RESTORING
            with trio.fail_after(timeouts.restore):
                await self._restore(conn)
        except trio.TooSlowError:
            if self.phase is ReconnectPhase.RESTORING:
                error = CommandTimeoutError("restore subscriptions", timeouts.restore)
            else:
                error = CommandTimeoutError("handshake", timeouts.handshake)
        except Exception as exc:
            error = exc
        else:
            return None
        conn.end(error)
        return error

    def _on_connection_end(self, conn: Connection) -> None:
        """Called synchronously when a connection dies: stop accepting work at once."""
        rt = self._rt
        if rt._conn is conn:
            rt._conn = None
            self.disconnected_at = time.time()
            if conn.end_reason is not None:
                self.last_disconnect = ErrorRecord.of(conn.end_reason, time.time())
                if not self._shutting_down:
                    rt._record_error(conn.end_reason)
            if rt._state.value is RuntimeState.READY:
                rt._state.set(RuntimeState.RECONNECTING)

    async def _authenticate(self, conn: Connection, deadline: float) -> None:
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
            raise AuthenticationError(text)
        self._rt._permissions = Permissions.from_reply(reply) if config.user else None

    async def _restore(self, conn: Connection) -> None:
        """Events first, then filters, then the log level (B-SUBS-10); each must say +OK."""
        commands = restore_commands(self._rt.subscriptions.state) + self._rt.logs.restore_commands()
        for command in commands:
            reply = await conn.request(command, self._config.timeouts.restore)
            if not isinstance(reply, CommandReply) or not reply.ok:
                text = reply.text if isinstance(reply, CommandReply) else "api/response"
                raise CommandError(f"restore {command.describe()}", text)

    def _on_ready(self, conn: Connection, task_status: trio.TaskStatus[None]) -> None:
        rt = self._rt
        if self._ever_ready:
            self.reconnects += 1
        if rt._state.value is RuntimeState.DRAINING:
            conn.end(DrainError("the runtime started shutting down during the handshake"))
            return
        rt._conn = conn
        rt._last_error = None  # G-31: a full recovery clears the last error
        self.phase = ReconnectPhase.IDLE
        self.attempt = 0
        self.connected_at = time.time()
        rt._state.set(RuntimeState.READY)
        if not self._ever_ready:
            self._ever_ready = True
            task_status.started()

    async def _after_connection(self, conn: Connection, stream: trio.abc.Stream) -> None:
        rt = self._rt
        conn.end(ConnectionLostError("connection closed", written=False))
        reason = conn.end_reason
        assert reason is not None
        self.last_disconnect = ErrorRecord.of(reason, time.time())
        if not self._shutting_down:
            rt._record_error(reason)
        lost = ConnectionLostError(
            f"connection lost before the job was accepted: {reason}", written=True
        )
        rt._jobs.fail_unaccepted(lost)
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)

    # -- notices, liveness, shutdown -------------------------------------------------

    def on_notice(self, conn: Connection, notice: DisconnectNotice | RudeRejection) -> None:
        """The server says it is closing (B-DISC-1) or refuses us (B-WIRE-3). Handled once."""
        if isinstance(notice, RudeRejection):
            conn.end(HandshakeError(f"rejected by the server's ACL: {notice.text.strip()}"))
        elif not notice.is_linger:
            text = notice.text.strip() or "no message"
            conn.end(ConnectionLostError(f"server disconnect notice: {text}", written=True))

    async def _liveness(self, conn: Connection) -> None:
        """Two-strike liveness (B-HB-*): any inbound frame is activity."""
        interval = self._config.heartbeat.interval
        async with trio.open_nursery() as nursery:
            while True:
                await trio.sleep_until(conn.last_activity + interval)
                if trio.current_time() < conn.last_activity + interval:
                    continue
                if conn.commands_in_flight == 0 and conn.commands_queued == 0:
                    nursery.start_soon(self._probe, conn)
                await trio.sleep_until(conn.last_activity + 2 * interval)
                if trio.current_time() >= conn.last_activity + 2 * interval:
                    conn.end(ConnectionLostError("liveness window expired", written=True))
                    return

    async def _probe(self, conn: Connection) -> None:
        # A failed probe ends the connection by itself (timeout → recycle); nothing to do here.
        with contextlib.suppress(Exception):
            await conn.request(Api("status"), self._config.heartbeat.interval)

    async def shutdown(self, drain_error: BaseException) -> None:
        """Stop supervising: fail what is left, send ``exit`` (best effort), close."""
        self._shutting_down = True
        self._rt._jobs.fail_all(drain_error)
        conn = self._rt._conn
        if self.phase is not ReconnectPhase.STOPPED:
            self._stop(StopReason.EXPLICIT_SHUTDOWN, drain_error)
        if conn is None:
            return
        with trio.move_on_after(self._config.timeouts.exit):
            with contextlib.suppress(ConnectionLostError):
                await conn.send_only(Exit())
        conn.end(drain_error)
