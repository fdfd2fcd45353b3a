"""One socket lifetime: the reader, the writer and the watchdog of one connection.

Replies carry no ids (B-API-2/3), so their order is the only way to match them. Callers put a
:class:`ReplySlot` on the writer's bounded memory channel and wait on it; the writer task takes
everything queued, hands each command to :class:`ClientProtocol` (which keeps the one reply
queue, in wire order, with the slot as its token) and writes the whole batch in one call. The
reader gets each reply back with its slot from the protocol.

Cancellation: a caller cancelled before the writer took its command is skipped — nothing is
sent. A caller cancelled after the write leaves its slot as a *tombstone*: the reply is read
and dropped, so the following replies stay aligned. Tombstones count against
``max_inflight`` (they are work FreeSWITCH still has to do).

Nothing here decides what a failure means. The reader, writer and watchdog report to the
supervisor over a memory channel (:class:`ConnectionEnded`, :class:`NoticeArrived`) and the
supervisor closes the connection (:meth:`Connection.close`). The reader never awaits user
code: it parses each read in bulk and hands events to a synchronous ``dispatch`` callback.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio

from ._errors import CommandTimeoutError, ConnectionLostError, DrainCutError, DrainError
from .protocol import (
    NEED_DATA,
    ApiReply,
    ClientProtocol,
    Command,
    CommandReply,
    DisconnectNotice,
    LocalProtocolError,
    Message,
    RudeRejection,
    Sentinel,
)

__all__ = [
    "Connection",
    "ConnectionEnded",
    "ConnectionReport",
    "NoticeArrived",
    "ReplySlot",
    "direct_io_supported",
]

Reply = CommandReply | ApiReply

#: Where ``os.read``/``os.write`` on a socket's file descriptor are valid (POSIX only; on
#: Windows a socket handle is not a file descriptor). Tests switch it off to cover the
#: fallback through trio's stream methods.
DIRECT_IO = os.name == "posix"


def direct_io_supported(stream: trio.abc.Stream) -> bool:
    """Whether this stream may be read and written through its file descriptor directly."""
    return DIRECT_IO and isinstance(stream, trio.SocketStream)


@attrs.frozen
class ConnectionEnded:
    """A task of the connection saw it end (EOF, error, timeout, liveness)."""

    reason: BaseException


@attrs.frozen
class NoticeArrived:
    """The server said it is closing (disconnect notice) or refused us (rude rejection)."""

    notice: DisconnectNotice | RudeRejection


ConnectionReport = ConnectionEnded | NoticeArrived


@attrs.define(eq=False)
class ReplySlot:
    """One command on its way: queued → written → answered (or failed)."""

    command: Command
    limit: float = math.inf
    done: trio.Event = attrs.field(factory=trio.Event)
    reply: Reply | None = None
    error: BaseException | None = None
    #: The writer handed it to the protocol (its bytes are in, or past, the socket).
    written: bool = False
    #: The caller left before the write: the writer skips it.
    skipped: bool = False
    #: The caller left after the write (a tombstone), or nobody waits (``exit``).
    abandoned: bool = False
    #: Nobody waits for the reply; ``done`` is set once written (``send_only``).
    fire_and_forget: bool = False
    #: Its reply deadline passed: what the caller gets when the connection is closed.
    timed_out: BaseException | None = None
    deadline: float = math.inf

    def resolve(self, reply: Reply) -> None:
        self.reply = reply
        self.done.set()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


class Connection:
    """A connected, possibly authenticated socket. Never reconnects; the supervisor does."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: ClientProtocol[ReplySlot],
        *,
        generation: int,
        dispatch: Callable[[Connection, Message, float], Sequence[Any]],
        reports: trio.MemorySendChannel[ConnectionReport],
        receive_size: int,
        write_timeout: float,
        queue_size: int,
    ) -> None:
        self.stream = stream
        self.protocol = protocol
        self.generation = generation
        self._dispatch = dispatch
        self._reports = reports
        self._receive_size = receive_size
        self._write_timeout = write_timeout
        self._outbox, self._inbox = trio.open_memory_channel[ReplySlot](queue_size)
        #: Why the connection ended (None while open).
        self.end_reason: BaseException | None = None
        #: trio time of the last complete inbound frame (liveness).
        self.last_activity = trio.current_time()
        self.cancel_scope = trio.CancelScope()
        self._watch_scope: trio.CancelScope | None = None
        self._fd = stream.socket.fileno() if direct_io_supported(stream) else None  # type: ignore[attr-defined]
        self._write_deadline = math.inf
        self._write_scope = trio.CancelScope(shield=True)
        self._tombstones = 0
        #: Set by the runtime when the server's auth/request greeting arrives.
        self.greeted = trio.Event()

    # -- state ---------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.end_reason is None

    @property
    def commands_in_flight(self) -> int:
        """Commands written whose reply has not arrived (tombstones included)."""
        return self.protocol.replies_pending

    @property
    def commands_queued(self) -> int:
        """Commands waiting for the writer."""
        return self._inbox.statistics().current_buffer_used

    @property
    def tombstones(self) -> int:
        """Written commands whose caller left: FreeSWITCH still runs them, nobody reads them."""
        return self._tombstones

    def report(self, item: ConnectionReport) -> None:
        """Tell the supervisor. The first ending report decides; later ones may be dropped."""
        with contextlib.suppress(
            trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError
        ):
            self._reports.send_nowait(item)

    def close(self, reason: BaseException) -> None:
        """End the connection (first reason wins): fail every slot, stop its tasks.

        Called by the supervisor only. Written commands fail with ``written=True``, queued
        ones with ``written=False``; a drain cut says so with a :class:`DrainError`.
        """
        if self.end_reason is not None:
            return
        self.end_reason = reason
        for slot in self.protocol.pending_tokens():
            if slot is not None:
                slot.fail(slot.timed_out or _lost(reason, written=True))
        self._outbox.close()
        while True:
            try:
                queued = self._inbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            queued.fail(_lost(reason, written=False))
        self._write_scope.cancel()
        self.cancel_scope.cancel()

    # -- the command bus -------------------------------------------------------------

    async def request(self, command: Command, limit: float) -> Reply:
        """Queue ``command`` for the writer and wait for its reply (at most ``limit`` s)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        slot = ReplySlot(command, limit)
        await self._enqueue(slot)  # cancelled here: never queued, never sent
        return await self._wait_reply(slot)

    async def send_only(self, command: Command) -> None:
        """Write a command whose reply nobody awaits (``exit``); returns once it is written."""
        await trio.lowlevel.checkpoint_if_cancelled()
        slot = ReplySlot(command, abandoned=True, fire_and_forget=True)
        await self._enqueue(slot)
        await slot.done.wait()
        if slot.error is not None:
            raise slot.error

    async def _enqueue(self, slot: ReplySlot) -> None:
        self._check_open()
        try:
            self._outbox.send_nowait(slot)
        except trio.WouldBlock:
            await self._outbox.send(slot)
        except trio.ClosedResourceError:
            self._check_open()
            raise

    def _check_open(self) -> None:
        if self.end_reason is not None:
            raise _lost(self.end_reason, written=False)

    async def _wait_reply(self, slot: ReplySlot) -> Reply:
        try:
            await slot.done.wait()
        except trio.Cancelled:
            if slot.written:
                if not slot.done.is_set():
                    slot.abandoned = True  # keep the queue aligned: the reply is dropped
                    self._tombstones += 1
            else:
                slot.skipped = True
            raise
        if slot.error is not None:
            raise slot.error
        assert slot.reply is not None
        return slot.reply

    # -- the writer: one task, everything queued goes out in one write ----------------

    async def run_writer(self) -> None:
        inbox = self._inbox
        while True:
            try:
                first = await inbox.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return
            batch = [first]
            while True:
                try:
                    batch.append(inbox.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
            data, written = self._encode(batch)
            if data and not await self._write(data):
                return
            for slot in written:
                if slot.fire_and_forget:
                    slot.done.set()

    def _encode(self, batch: list[ReplySlot]) -> tuple[bytes, list[ReplySlot]]:
        now = trio.current_time()
        chunks: list[bytes] = []
        written: list[ReplySlot] = []
        earliest = math.inf
        for slot in batch:
            if slot.skipped or slot.done.is_set():
                continue
            try:
                chunks.append(self.protocol.send(slot.command, slot))
            except LocalProtocolError as exc:  # e.g. a command before authentication
                slot.fail(exc)
                continue
            slot.written = True
            if not slot.fire_and_forget:
                slot.deadline = now + slot.limit
                earliest = min(earliest, slot.deadline)
            written.append(slot)
        self._watch(earliest)
        return b"".join(chunks), written

    async def _write(self, data: bytes) -> bool:
        """Write all of ``data``; False (and a report) if the socket failed."""
        try:
            if self._fd is not None:
                data = self._write_now(data)
                if not data:
                    return True
            await self._write_rest(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.report(
                ConnectionEnded(ConnectionLostError(f"write failed: {exc!r}", written=True))
            )
            return False
        return True

    def _write_now(self, data: bytes) -> bytes:
        """Write what the socket takes right away; return the rest.

        A batch of commands is a few hundred bytes and the socket buffer is almost never full,
        so this skips ``send_all``'s forced scheduling pass.
        """
        assert self._fd is not None
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            return data
        return data[written:]

    async def _write_rest(self, data: bytes) -> None:
        # Shielded: a half-written command would corrupt the stream. A peer that stops
        # reading is caught by the watchdog (write deadline), which reports the connection
        # dead; the supervisor then closes the stream under us and send_all fails.
        self._write_deadline = trio.current_time() + self._write_timeout
        self._watch(self._write_deadline)
        try:
            # Cancelled only by ``close()`` (a dead connection may be left half-written).
            with self._write_scope:
                await self.stream.send_all(data)
        finally:
            self._write_deadline = math.inf
            self._write_scope = trio.CancelScope(shield=True)

    # -- the watchdog: every reply and write deadline, one task ---------------------

    def _watch(self, deadline: float) -> None:
        scope = self._watch_scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = deadline

    async def run_watchdog(self) -> None:
        """Enforce reply and write deadlines (cheaper than a cancel scope per command)."""
        while True:
            with trio.CancelScope() as scope:
                self._watch_scope = scope
                scope.deadline = self._next_deadline()
                await trio.sleep_forever()
            self._watch_scope = None
            if self._expired(trio.current_time()):
                return

    def _next_deadline(self) -> float:
        pending = (
            s.deadline
            for s in self.protocol.pending_tokens()
            if s is not None and not s.done.is_set()
        )
        return min(self._write_deadline, min(pending, default=math.inf))

    def _expired(self, now: float) -> bool:
        if self._write_deadline <= now:
            error = CommandTimeoutError(
                "socket write (the server stopped reading)", self._write_timeout
            )
            self.report(ConnectionEnded(error))
            return True
        for slot in self.protocol.pending_tokens():
            if slot is not None and slot.deadline <= now and not slot.done.is_set():
                # B-API-7: the reply order is now ambiguous; fail closed, recycle the socket.
                # The caller hears of it when the supervisor closes the connection, so by
                # then the runtime already says RECONNECTING.
                error = CommandTimeoutError(slot.command.describe(), slot.limit)
                slot.timed_out = error
                self.report(ConnectionEnded(error))
                return True
        return False

    # -- the reader -----------------------------------------------------------------

    async def run_reader(self) -> None:
        """Read until EOF or error; route every message; report how the stream ended."""
        try:
            reason = await self._read_loop()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            reason = ConnectionLostError(f"connection lost: {exc!r}", written=True)
            reason.__cause__ = exc
        except Exception as exc:  # RemoteProtocolError and anything the dispatch raised
            reason = exc
        self.report(ConnectionEnded(reason))

    async def _read_loop(self) -> BaseException:
        protocol = self.protocol
        while True:
            data = await self._receive()
            now = trio.current_time()
            protocol.receive_data(data)
            while True:
                message = protocol.next_event()
                if isinstance(message, Sentinel):
                    if message is NEED_DATA:
                        break
                    return ConnectionLostError("server closed the connection", written=True)
                # Liveness counts complete frames, not bytes (B-EVS-11): a peer trickling
                # one endless frame must not look alive forever.
                self.last_activity = now
                if isinstance(message, CommandReply | ApiReply):
                    self._deliver_reply(message)
                elif isinstance(message, DisconnectNotice | RudeRejection):
                    self._dispatch(self, message, now)
                    if isinstance(message, RudeRejection) or not message.is_linger:
                        self.report(NoticeArrived(message))
                elif blocked := self._dispatch(self, message, now):
                    await self._wait_for_room(blocked, message)

    async def _wait_for_room(self, blocked: Sequence[Any], message: Message) -> None:
        """The BLOCK overflow policy: stop reading until each full receiver has room."""
        for feed in blocked:
            await feed.wait_writable()
            feed.offer(message, self.generation)

    async def _receive(self) -> bytes | bytearray:
        fd = self._fd
        if fd is None:
            return await self.stream.receive_some(self._receive_size)
        # Plain TCP: read directly. When we had to wait for the bytes, everyone else ran
        # meanwhile, so the scheduling pass receive_some forces after every read is skipped;
        # when bytes keep coming, yield once per read so a fast server cannot starve the
        # consumers.
        try:
            data = os.read(fd, self._receive_size)
        except BlockingIOError:
            while True:
                await trio.lowlevel.wait_readable(fd)
                with contextlib.suppress(BlockingIOError):
                    return os.read(fd, self._receive_size)
        await trio.lowlevel.checkpoint()
        return data

    def _deliver_reply(self, reply: Reply) -> None:
        answered = self.protocol.answered
        slot = answered.token if answered is not None else None
        if slot is not None:
            if slot.abandoned and not slot.fire_and_forget:
                self._tombstones -= 1
            elif not slot.abandoned:
                slot.resolve(reply)
        self._dispatch(self, reply, self.last_activity)


def _lost(reason: BaseException, *, written: bool) -> BaseException:
    if isinstance(reason, DrainError):
        # The shutdown cut the work: callers see DrainError, and whether it was written.
        error: BaseException = DrainCutError(str(reason), written=written)
    else:
        error = ConnectionLostError(f"connection lost: {reason}", written=written)
    error.__cause__ = reason
    return error
