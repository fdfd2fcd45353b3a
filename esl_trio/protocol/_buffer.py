"""The receive buffer shared by the two incremental readers (h11's ``ReceiveBuffer``).

:class:`~esl_trio.protocol.FrameParser` (server → client frames) and
:class:`~esl_trio.protocol.CommandReader` (client → server commands) both append received bytes
to one ``bytearray`` and walk a read offset forward over what they consumed, instead of copying
the rest of the buffer after every frame. The consumed prefix is dropped only when it is at
least half of the buffer, so compaction is amortised O(1) per byte whatever the read sizes, and a
256 KiB read holding 70 events costs at most one compaction, not 70 copies. ``scan`` remembers
where the owner's search for a terminator stopped, so bytes trickled one at a time are scanned
once (linear, not quadratic).
"""

from __future__ import annotations

__all__ = ["ReceiveBuffer"]


class ReceiveBuffer:
    """Received bytes; ``data[start:]`` is not consumed yet. Owners search ``data`` directly.

    Attributes:
        data: the bytes (consumed prefix included until the next compaction).
        start: index of the first unconsumed byte.
        scan: where the owner's next terminator search resumes (``start <= scan``).
    """

    __slots__ = ("data", "scan", "start")

    def __init__(self) -> None:
        self.data = bytearray()
        self.start = 0
        self.scan = 0

    def __len__(self) -> int:
        """Bytes received and not consumed."""
        return len(self.data) - self.start

    def append(self, chunk: bytes | bytearray) -> int:
        """Add ``chunk``; returns by how much indexes moved down (0 if nothing was dropped).

        Owners holding absolute indexes into :attr:`data` subtract the returned shift.
        """
        shift = self.start
        if shift and shift * 2 >= len(self.data):
            del self.data[:shift]
            self.start = 0
            self.scan -= shift
        else:
            shift = 0
        self.data += chunk
        return shift

    def consume(self, stop: int) -> bytes:
        """The unconsumed bytes up to ``stop``, now consumed (the scan restarts there)."""
        chunk = bytes(self.data[self.start : stop])
        self.start = self.scan = stop
        return chunk

    def skip(self, stop: int) -> None:
        """Consume up to ``stop`` without copying."""
        self.start = self.scan = stop
