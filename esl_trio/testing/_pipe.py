"""In-memory byte streams with a bounded buffer, so a client that stops reading stalls the server.

``trio.testing.memory_stream_pair`` buffers without limit, so a fake server writing to a client
that never reads would never block, and the overflow behaviour of a real FreeSWITCH (its event
queue fills while the socket is stuck, B-LIM-2) could not be reproduced. These pipes behave like
a socket with a send buffer of ``capacity`` bytes instead:

* ``send_all`` waits while the buffer holds ``capacity`` bytes or more, then appends the whole
  write at once. A write is therefore all-or-nothing: cancelling a blocked ``send_all`` leaves no
  partial frame behind (the fake relies on this to end a stuck connection cleanly).
* ``receive_some`` returns what is buffered (at most ``max_bytes``); ``b""`` once the sender has
  closed and the buffer is drained.
* Closing the receiving side makes the sender's ``send_all`` raise ``BrokenResourceError``, like
  writing to a socket whose peer has gone.
"""

from __future__ import annotations

import trio

__all__ = ["PipeStream", "bounded_stream_pair"]

_DEFAULT_RECEIVE = 65536


class _Buffer:
    """The shared state of one direction: bytes in flight and who is waiting for what."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data = bytearray()
        self.sender_closed = False
        self.receiver_closed = False
        self.readers = trio.lowlevel.ParkingLot()
        self.writers = trio.lowlevel.ParkingLot()

    def wake_all(self) -> None:
        self.readers.unpark_all()
        self.writers.unpark_all()


class _PipeSendStream(trio.abc.SendStream):
    """The writing end of one direction."""

    def __init__(self, buffer: _Buffer) -> None:
        self._buffer = buffer
        self._busy = False

    def _check_open(self) -> None:
        if self._buffer.sender_closed:
            raise trio.ClosedResourceError("this stream was closed")
        if self._buffer.receiver_closed:
            raise trio.BrokenResourceError("the receiving side was closed")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._busy:
            raise trio.BusyResourceError("another task is already sending on this stream")
        self._busy = True
        try:
            await trio.lowlevel.checkpoint()
            await self._wait_for_room()
            self._buffer.data += data
            self._buffer.readers.unpark_all()
        finally:
            self._busy = False

    async def _wait_for_room(self) -> None:
        buffer = self._buffer
        self._check_open()
        while len(buffer.data) >= buffer.capacity:
            await buffer.writers.park()
            self._check_open()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()
        buffer = self._buffer
        while len(buffer.data) >= buffer.capacity and not (
            buffer.sender_closed or buffer.receiver_closed
        ):
            await buffer.writers.park()

    async def send_eof(self) -> None:
        """Half-close: the reader sees EOF after the buffered bytes."""
        await self.aclose()

    async def aclose(self) -> None:
        self._buffer.sender_closed = True
        self._buffer.wake_all()
        await trio.lowlevel.checkpoint()


class _PipeReceiveStream(trio.abc.ReceiveStream):
    """The reading end of one direction."""

    def __init__(self, buffer: _Buffer) -> None:
        self._buffer = buffer
        self._busy = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._busy:
            raise trio.BusyResourceError("another task is already receiving on this stream")
        self._busy = True
        try:
            await trio.lowlevel.checkpoint()
            return await self._take(max_bytes or _DEFAULT_RECEIVE)
        finally:
            self._busy = False

    async def _take(self, max_bytes: int) -> bytes:
        buffer = self._buffer
        while True:
            if buffer.receiver_closed:
                raise trio.ClosedResourceError("this stream was closed")
            if buffer.data:
                chunk = bytes(buffer.data[:max_bytes])
                del buffer.data[:max_bytes]
                buffer.writers.unpark_all()
                return chunk
            if buffer.sender_closed:
                return b""
            await buffer.readers.park()

    async def aclose(self) -> None:
        self._buffer.receiver_closed = True
        self._buffer.data.clear()
        self._buffer.wake_all()
        await trio.lowlevel.checkpoint()


PipeStream = trio.StapledStream[_PipeSendStream, _PipeReceiveStream]


def bounded_stream_pair(capacity: int = 65536) -> tuple[PipeStream, PipeStream]:
    """Two connected bidirectional streams; each direction buffers up to ``capacity`` bytes.

    Returns:
        ``(client_end, server_end)``.
    """
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1 byte: {capacity!r}")
    upstream = _Buffer(capacity)  # client -> server
    downstream = _Buffer(capacity)  # server -> client
    client = trio.StapledStream(_PipeSendStream(upstream), _PipeReceiveStream(downstream))
    server = trio.StapledStream(_PipeSendStream(downstream), _PipeReceiveStream(upstream))
    return client, server
