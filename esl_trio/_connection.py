"""One socket lifetime: the reader, the ordered command/reply bus, and the handshake.

Replies carry no ids (B-API-2/3), so every request/reply command goes through one FIFO. A
command is written by its caller while holding a strict-FIFO lock (so the order of the reply
slots is the order on the wire); the write itself is shielded from cancellation and bounded
by the write deadline, because a half-written command would corrupt the stream.

Cancellation: a caller cancelled while waiting for the lock never writes
anything; a caller cancelled after writing leaves its slot in the FIFO as a tombstone, so the
reply is read and discarded and the following replies stay aligned.

The reader never awaits user code: it parses each read in bulk and hands messages to the
runtime's synchronous ``dispatch`` callback.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio

from ._errors import CommandTimeoutError, ConnectionLostError, DrainError
from ._receivers import Feed
from .protocol import (
    NEED_DATA,
    ApiReply,
    ClientProtocol,
    Command,
    CommandReply,
    Message,
    Sentinel,
)

__all__ = ["Connection", "ReplySlot"]

Reply = CommandReply | ApiReply


@attrs.define(eq=False)
class ReplySlot:
    """Where the reader puts the reply to one written command."""

    command: Command
    done: trio.Event = attrs.field(factory=trio.Event)
    reply: Reply | None = None
    error: BaseException | None = None
    abandoned: bool = False  # caller gone: the reply is read and dropped (a tombstone)
    deadline: float = math.inf
    limit: float = math.inf

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
        protocol: ClientProtocol,
        *,
        generation: int,
        dispatch: Callable[[Connection, Message, float], Sequence[Feed[Any]]],
        receive_size: int,
        write_timeout: float,
    ) -> None:
        self.stream = stream
        self.protocol = protocol
        self.generation = generation
        self._dispatch = dispatch
        self._receive_size = receive_size
        self._write_timeout = write_timeout
        self._send_lock = trio.StrictFIFOLock()
        self._waiting: deque[ReplySlot] = deque()
        self._ended = trio.Event()
        #: Why the connection ended (None while open).
        self.end_reason: BaseException | None = None
        #: trio time of the last complete inbound frame (liveness).
        self.last_activity = trio.current_time()
        self.cancel_scope = trio.CancelScope()
        self._watch_scope: trio.CancelScope | None = None
        # Plain TCP sockets are written directly when they can take the bytes at once.
        self._fd = stream.socket.fileno() if isinstance(stream, trio.SocketStream) else None
        self._write_deadline = math.inf
        #: The command the reply being dispatched answers (for replay capture).
        self.last_reply_command: Command | None = None
        #: Set by the runtime when the server's auth/request greeting arrives.
        self.greeted = trio.Event()
        #: Called once, synchronously, when the connection ends.
        self.on_end: Callable[[Connection], None] = lambda conn: None

    # -- state ---------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.end_reason is None

    @property
    def commands_in_flight(self) -> int:
        """Commands written whose reply has not arrived (tombstones included)."""
        return len(self._waiting)

    @property
    def commands_queued(self) -> int:
        """Callers waiting for their turn to write."""
        return self._send_lock.statistics().tasks_waiting

    async def wait_ended(self) -> BaseException:
        await self._ended.wait()
        assert self.end_reason is not None
        return self.end_reason

    def end(self, reason: BaseException) -> None:
        """Mark the connection dead (first reason wins), fail every reply slot, stop its tasks."""
        if self.end_reason is not None:
            return
        self.end_reason = reason
        lost: BaseException
        if isinstance(reason, DrainError):
            lost = reason  # shutdown cut the work: callers see DrainError (B-DRAIN-3)
        else:
            lost = ConnectionLostError(f"connection lost: {reason}", written=True)
            lost.__cause__ = reason
        while self._waiting:
            self._waiting.popleft().fail(lost)
        self._ended.set()
        self.cancel_scope.cancel()
        self.on_end(self)

    # -- the command bus -------------------------------------------------------------

    async def request(self, command: Command, limit: float) -> Reply:
        """Write ``command`` in FIFO order and wait for its reply (at most ``limit`` s)."""
        slot = ReplySlot(command)
        await self._acquire()  # cancelled here: nothing was written
        try:
            self._check_open(written=False)
            data = self.protocol.send(command)
            slot.deadline = trio.current_time() + limit
            slot.limit = limit
            self._waiting.append(slot)
            self._watch(slot.deadline)
            await self._write(data)
        finally:
            self._send_lock.release()
        return await self._wait_reply(slot)

    async def send_only(self, command: Command) -> None:
        """Write a command whose reply nobody awaits (``exit`` while draining)."""
        await self._acquire()
        try:
            self._check_open(written=False)
            data = self.protocol.send(command)
            self._waiting.append(ReplySlot(command, abandoned=True))
            await self._write(data)
        finally:
            self._send_lock.release()

    async def _acquire(self) -> None:
        # The common case is an idle socket: take the lock without a scheduling round trip
        # (a full checkpoint costs ~6 µs here), but stay a cancellation point.
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._send_lock.locked():
            await self._send_lock.acquire()
        else:
            self._send_lock.acquire_nowait()

    def _check_open(self, *, written: bool) -> None:
        if self.end_reason is not None:
            raise ConnectionLostError(f"connection lost: {self.end_reason}", written=written)

    async def _write(self, data: bytes) -> None:
        if self._fd is not None:
            data = self._write_now(data)
            if not data:
                return
        await self._write_rest(data)

    def _write_now(self, data: bytes) -> bytes:
        """Write what the socket takes right away; return the rest.

        A command is a few dozen bytes and the socket buffer is almost never full, so this
        skips ``send_all``'s forced scheduling pass: about a third of an api round trip.
        """
        assert self._fd is not None
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            return data
        except OSError as exc:
            self.end(exc)
            raise ConnectionLostError(f"write failed: {exc!r}", written=False) from exc
        return data[written:]

    async def _write_rest(self, data: bytes) -> None:
        # Shielded: a half-written command would corrupt the stream. A peer that stops
        # reading is caught by the watchdog (write deadline), which ends the connection; the
        # stream is then closed under us and send_all fails.
        self._write_deadline = trio.current_time() + self._write_timeout
        self._watch(self._write_deadline)
        try:
            with trio.CancelScope(shield=True):
                await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.end(exc)
            raise ConnectionLostError(f"write failed: {exc!r}", written=False) from exc
        finally:
            self._write_deadline = math.inf

    async def _wait_reply(self, slot: ReplySlot) -> Reply:
        try:
            await slot.done.wait()
        except trio.Cancelled:
            slot.abandoned = True  # keep the FIFO aligned: the reply will be dropped
            raise
        if slot.error is not None:
            raise slot.error
        assert slot.reply is not None
        return slot.reply

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
            self._expire(trio.current_time())

    def _next_deadline(self) -> float:
        pending = (s.deadline for s in self._waiting if not s.done.is_set())
        return min(self._write_deadline, min(pending, default=math.inf))

    def _expire(self, now: float) -> None:
        if self._write_deadline <= now:
            self.end(
                CommandTimeoutError(
                    "socket write (the server stopped reading)", self._write_timeout
                )
            )
            return
        for slot in self._waiting:
            if slot.deadline <= now and not slot.done.is_set():
                # B-API-7: the reply slot is now ambiguous; fail closed, recycle the socket.
                error = CommandTimeoutError(slot.command.describe(), slot.limit)
                slot.fail(error)
                slot.abandoned = True
                self.end(error)
                return

    # -- the reader -----------------------------------------------------------------

    async def run_reader(self) -> None:
        """Read until EOF or error; route every message. Ends the connection on exit."""
        try:
            await self._read_loop()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.end(exc)
        except Exception as exc:  # RemoteProtocolError and anything the dispatch raised
            self.end(exc)

    async def _read_loop(self) -> None:
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
                    self.end(ConnectionLostError("server closed the connection", written=True))
                    return
                # Liveness counts complete frames, not bytes (B-EVS-11): a peer trickling
                # one endless frame must not look alive forever.
                self.last_activity = now
                if isinstance(message, CommandReply | ApiReply):
                    self._deliver_reply(message)
                elif blocked := self._dispatch(self, message, now):
                    await self._wait_for_room(list(blocked), message)

    async def _wait_for_room(self, blocked: list[Feed[Any]], message: Message) -> None:
        """The BLOCK overflow policy: stop reading until each full receiver has room."""
        for receiver in blocked:
            await receiver.wait_writable()
            receiver.offer(message, self.generation)

    async def _receive(self) -> bytes | bytearray:
        fd = self._fd
        if fd is None:
            return await self.stream.receive_some(self._receive_size)
        # Plain TCP: read directly. When we had to wait for the bytes, everyone else ran
        # meanwhile, so the scheduling pass receive_some forces after every read is skipped
        # (a third of an api round trip); when bytes keep coming, yield once per read so a
        # fast server cannot starve the consumers.
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
        # ClientProtocol already raised if nothing was waiting, so the deque is not empty.
        slot = self._waiting.popleft()
        if not slot.abandoned:
            slot.resolve(reply)
        self.last_reply_command = slot.command
        self._dispatch(self, reply, self.last_activity)
