"""One socket lifetime: the reader, the ordered command/reply bus, and the handshake.

Replies carry no ids (B-API-2/3), so every request/reply command goes through one FIFO. A
command is written by its caller while holding a strict-FIFO lock (so the order of the reply
slots is the order on the wire); the write itself is shielded from cancellation and bounded
by the write deadline, because a half-written command would corrupt the stream.

Cancellation (DESIGN §5): a caller cancelled while waiting for the lock never writes
anything; a caller cancelled after writing leaves its slot in the FIFO as a tombstone, so the
reply is read and discarded and the following replies stay aligned.

The reader never awaits user code: it parses each read in bulk and hands messages to the
runtime's synchronous ``dispatch`` callback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio

from ._errors import CommandTimeoutError, ConnectionLostError, DrainError
from ._receivers import Receiver
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
        dispatch: Callable[[Connection, Message, float], Sequence[Receiver[Any]]],
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
        #: trio time of the last inbound bytes (liveness).
        self.last_activity = trio.current_time()
        self.cancel_scope = trio.CancelScope()
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
        async with self._send_lock:  # cancelled while waiting here: nothing was written
            self._check_open(written=False)
            data = self.protocol.send(command)
            self._waiting.append(slot)
            await self._write(data)
        return await self._wait_reply(slot, limit)

    async def send_only(self, command: Command) -> None:
        """Write a command whose reply nobody awaits (``exit`` while draining)."""
        async with self._send_lock:
            self._check_open(written=False)
            data = self.protocol.send(command)
            self._waiting.append(ReplySlot(command, abandoned=True))
            await self._write(data)

    def _check_open(self, *, written: bool) -> None:
        if self.end_reason is not None:
            raise ConnectionLostError(f"connection lost: {self.end_reason}", written=written)

    async def _write(self, data: bytes) -> None:
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self._write_timeout
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self.end(exc)
                raise ConnectionLostError(f"write failed: {exc!r}", written=False) from exc
        if scope.cancelled_caught:
            stuck = CommandTimeoutError("socket write", self._write_timeout)
            self.end(stuck)
            raise ConnectionLostError("write timed out: the server stopped reading", written=False)

    async def _wait_reply(self, slot: ReplySlot, limit: float) -> Reply:
        with trio.move_on_after(limit) as scope:
            try:
                await slot.done.wait()
            except trio.Cancelled:
                slot.abandoned = True  # keep the FIFO aligned: the reply will be dropped
                raise
        if scope.cancelled_caught:
            # B-API-7: the reply slot is now ambiguous; fail closed and recycle the socket.
            error = CommandTimeoutError(slot.command.describe(), limit)
            slot.abandoned = True
            self.end(error)
            raise error
        if slot.error is not None:
            raise slot.error
        assert slot.reply is not None
        return slot.reply

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
        protocol, stream = self.protocol, self.stream
        while True:
            data = await stream.receive_some(self._receive_size)
            now = self.last_activity = trio.current_time()
            protocol.receive_data(data)
            while True:
                message = protocol.next_event()
                if isinstance(message, Sentinel):
                    if message is NEED_DATA:
                        break
                    self.end(ConnectionLostError("server closed the connection", written=True))
                    return
                if isinstance(message, CommandReply | ApiReply):
                    self._deliver_reply(message)
                elif blocked := self._dispatch(self, message, now):
                    await self._wait_for_room(list(blocked), message)

    async def _wait_for_room(self, blocked: list[Receiver[Any]], message: Message) -> None:
        """The BLOCK overflow policy: stop reading until each full receiver has room."""
        for receiver in blocked:
            await receiver.wait_writable()
            receiver.offer(message, self.generation)

    def _deliver_reply(self, reply: Reply) -> None:
        # ClientProtocol already raised if nothing was waiting, so the deque is not empty.
        slot = self._waiting.popleft()
        if not slot.abandoned:
            slot.resolve(reply)
        self._dispatch(self, reply, self.last_activity)
