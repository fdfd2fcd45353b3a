"""One connection as the fake FreeSWITCH sees it: its state, its queues, its fault knobs.

Writes go through :meth:`FakeConnection._transmit`, the single place where the write-side fault
knobs act (silence, trickle, mid-frame cut). Events and log lines wait in one ordered outbox that
is bounded like the real per-listener queues (B-LIM-2): when a stalled client lets it fill up,
losses are counted and, past the limit, the listener is killed with FreeSWITCH's notice.
The server-wide knobs a connection falls back on are read through :class:`ServerKnobs`, so this
module does not import the server.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Protocol, TypeAlias

import attrs
import trio

from esl_trio.protocol import EventFormat
from esl_trio.protocol.server import GOODBYE, auth_request, disconnect_notice

from ._events import EmittedEvent
from ._faults import Gate, ReceivedCommand
from ._subscriptions import Filters, Permissions, Subscriptions

__all__ = ["ConnectionEnd", "FakeConnection", "ServerKnobs"]

LOST_EVENTS = b"killed listener because of lost events\n"
LOST_LOGS = b"killed listener because of lost log lines\n"
_OVERSIZE = 16 * 1024 * 1024 + 1


class ServerKnobs(Protocol):
    """The server-wide settings a connection reads (``FakeFreeSwitch`` satisfies it).

    Read at every use, not copied at accept: a test may turn a knob while connections are open.
    """

    @property
    def event_format(self) -> EventFormat: ...
    @property
    def event_queue_size(self) -> int: ...
    @property
    def max_lost_events(self) -> int: ...
    @property
    def silenced(self) -> bool: ...
    @property
    def trickle(self) -> bool: ...
    @property
    def trickle_delay(self) -> float: ...
    @property
    def reply_delay(self) -> float: ...
    @property
    def _gate(self) -> Gate:
        """The server-wide hold of replies (``hold_replies`` / ``release_replies``)."""
        ...


class ConnectionEnd(Exception):
    """Internal: stop serving this connection now (peer gone, cut, drop rule, exit...)."""


@attrs.frozen
class _Raw:
    """Bytes injected by a test, written between frames; optionally close afterwards."""

    data: bytes
    close: bool = False
    reason: str = "closed after injected bytes"


@attrs.frozen
class _LogItem:
    frame: bytes


_Outgoing: TypeAlias = EmittedEvent | _LogItem | _Raw


class FakeConnection:
    """A connection accepted by the fake FreeSWITCH.

    Read-only state for assertions: :attr:`id` (1, 2, ... per fake), :attr:`peer`,
    :attr:`authenticated`, :attr:`user` (after userauth), :attr:`format`,
    :attr:`subscriptions`, :attr:`custom_subclasses`, :attr:`filters`, :attr:`log_level`,
    :attr:`commands` (every command received on it), :attr:`events_lost`, :attr:`closed`.

    Knobs for this connection only: :attr:`reply_delay` and :attr:`trickle` (None: use the
    server's), :meth:`silence`, :meth:`hold_replies`, :meth:`drop`, :meth:`cut_next_frame`,
    :meth:`send_raw` and the other ``send_*`` injections.
    """

    def __init__(
        self,
        server: ServerKnobs,
        connection_id: int,
        stream: trio.abc.Stream,
        peer: str,
        *,
        atomic_writes: bool,
    ) -> None:
        self._server = server
        #: 1 for the first connection the fake accepted, then 2, 3...
        self.id = connection_id
        #: ``"memory"`` or ``"host:port"`` of the client.
        self.peer = peer
        #: trio time of the accept.
        self.connected_at = trio.current_time()
        self.authenticated = False
        #: ``user@domain`` after a successful userauth.
        self.user: str | None = None
        #: Rude-rejected at accept (B-WIRE-3).
        self.rejected = False
        #: Every command received on this connection, in order.
        self.commands: list[ReceivedCommand] = []
        #: Level asked with ``log``; None when not logging.
        self.log_level: int | None = None
        #: Channel bound with ``myevents <uuid>``.
        self.session_uuid: str | None = None
        #: ``linger`` seconds (-1: forever) once set on a session-bound connection.
        self.linger: int | None = None
        #: Events dropped because this connection's queue was full (B-LIM-2).
        self.events_lost = 0
        self.logs_lost = 0
        self.closed = False
        #: Why it closed: "exit", "auth failed", "eof", "dropped", "lost events", ...
        self.close_reason: str | None = None
        self._stream = stream
        self._atomic = atomic_writes
        self._init_knobs()
        self._init_internals(server)

    def _init_knobs(self) -> None:
        #: Seconds to wait before each reply; None: the server's setting.
        self.reply_delay: float | None = None
        #: Write every frame one byte at a time; None: the server's setting.
        self.trickle: bool | None = None
        #: Read and execute commands but write nothing (see :meth:`silence`).
        self.silenced = False
        self._gate = Gate()
        self._cut_after: int | None = None

    def _init_internals(self, server: ServerKnobs) -> None:
        self._subs = Subscriptions(server.event_format)
        self._filters = Filters()
        self._permissions: Permissions | None = None
        self._inbox: deque[ReceivedCommand] = deque()
        self._outbox: deque[_Outgoing] = deque()
        self._queued_events = 0
        self._queued_logs = 0
        self._lost_streak = 0
        self._log_lost_streak = 0
        self._wake = trio.Event()
        self._scope = trio.CancelScope()
        self._closed_event = trio.Event()
        self._closing = False
        self._final_notice: bytes | None = None
        self._partial = False
        self._eof = False
        self._seen_command = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "authenticated" if self.authenticated else "open"
        return f"<FakeConnection {self.id} {self.peer} {state}>"

    # -- state for assertions ------------------------------------------------------------

    @property
    def format(self) -> EventFormat:
        """The connection's event format (set by every ``event <format> ...``)."""
        return self._subs.format

    @property
    def subscriptions(self) -> frozenset[str]:
        """Subscribed event names; ``{"ALL"}`` while ALL is on."""
        return self._subs.names()

    @property
    def custom_subclasses(self) -> frozenset[str]:
        """CUSTOM subclasses listed with ``event ... CUSTOM <subclass>``."""
        return frozenset(self._subs.custom)

    @property
    def events_enabled(self) -> bool:
        """An ``event``/``nixevent`` succeeded and no ``noevents`` followed."""
        return self._subs.enabled

    @property
    def filters(self) -> tuple[tuple[str, str], ...]:
        """``(header, value)`` filters in the order added, duplicates kept."""
        return tuple(self._filters.items)

    @property
    def queued_events(self) -> int:
        """Events accepted for this connection but not yet written."""
        return self._queued_events

    # -- fault knobs -----------------------------------------------------------------------

    def drop(self, *, flush: bool = False) -> None:
        """Close this connection without a notice (a crash or a cut cable).

        Args:
            flush: first write what is already queued for it (events, log lines, injected
                bytes), so that "emit, then drop" delivers the event. By default the cut is
                immediate and queued frames are lost, as when a real server dies.
        """
        if flush:
            self._enqueue(_Raw(b"", close=True, reason="dropped"))
        else:
            self._kill(None, "dropped")

    async def wait_closed(self) -> None:
        """Return once the fake has closed this connection."""
        await self._closed_event.wait()

    def cut_next_frame(self, after_bytes: int) -> None:
        """Write only the first ``after_bytes`` bytes of the next frame, then close."""
        if after_bytes < 0:
            raise ValueError("after_bytes must be >= 0")
        self._cut_after = after_bytes

    def hold_replies(self) -> None:
        """Withhold replies (and so events, B-WIRE-7) until :meth:`release_replies`."""
        self._gate.shut()

    def release_replies(self) -> None:
        self._gate.open()

    def silence(self) -> None:
        """Keep reading and executing commands but write nothing at all: a dead-looking peer.

        What would have been written meanwhile is discarded, not delayed.
        """
        self.silenced = True

    def unsilence(self) -> None:
        self.silenced = False

    def send_raw(self, data: bytes, *, close: bool = False) -> None:
        """Write ``data`` as is at the next point between frames; then close if ``close``."""
        self._enqueue(_Raw(bytes(data), close))

    def send_auth_request(self) -> None:
        """A second ``auth/request`` (a confused server or a proxy; B-CONN-15)."""
        self.send_raw(auth_request())

    def send_disconnect_notice(
        self,
        body: bytes = GOODBYE,
        *,
        linger: bool = False,
        close: bool | None = None,
        channel_name: str = "loopback/9196-a",
    ) -> None:
        """Inject a ``text/disconnect-notice`` (B-DISC-1/3) between frames.

        Args:
            body: the notice text (ignored for a linger notice, whose body is empty).
            linger: send the linger form (``Content-Disposition: linger``) instead.
            close: close after it; default: close unless ``linger``.
            channel_name: the ``Channel-Name`` of a linger notice.
        """
        if linger:
            extra = [
                ("Controlled-Session-UUID", self.session_uuid or str(uuid.uuid4())),
                ("Content-Disposition", "linger"),
                ("Channel-Name", channel_name),
                ("Linger-Time", str(-1 if self.linger is None else self.linger)),
            ]
            frame = disconnect_notice(b"", extra)
        else:
            frame = disconnect_notice(body)
        self.send_raw(frame, close=(not linger) if close is None else close)

    def send_oversize_frame(
        self, length: int = _OVERSIZE, content_type: str = "text/event-plain"
    ) -> None:
        """A frame header announcing ``length`` body bytes (default 16 MiB + 1), no body.

        A client enforcing libesl's 16 MiB limit (B-FRAME-11) must fail the connection.
        """
        header = f"Content-Length: {length}\nContent-Type: {content_type}\n\n"
        self.send_raw(header.encode())

    # -- used by the server ------------------------------------------------------------------

    def _enqueue(self, item: _Outgoing) -> None:
        self._outbox.append(item)
        self._wake.set()

    def _offer_event(self, event: EmittedEvent) -> bool:
        """Queue an event if this connection listens for it (B-SUBW-5, B-LIM-2)."""
        if self._closing or not self.authenticated:
            return False
        if not (
            self._subs.accepts(event.name, event.subclass) and self._filters.accepts(event.header)
        ):
            return False
        if not self._subs.accepts_channel(
            event.header("Unique-ID"), event.header("Job-Owner-UUID")
        ):
            return False
        if self._queued_events >= self._server.event_queue_size:
            self.events_lost += 1
            self._lost_streak += 1
            if self._lost_streak > self._server.max_lost_events:
                self._kill(LOST_EVENTS, "lost events")
            return False
        self._lost_streak = 0
        self._queued_events += 1
        self._enqueue(event)
        return True

    def _offer_log(self, frame: bytes, level: int) -> bool:
        """Queue a log line if this connection asked for that level (B-CMD-5)."""
        if self._closing or self.log_level is None or level > self.log_level:
            return False
        if self._queued_logs >= self._server.event_queue_size:
            self.logs_lost += 1
            self._log_lost_streak += 1
            if self._log_lost_streak > self._server.max_lost_events:
                self._kill(LOST_LOGS, "lost log lines")
            return False
        self._log_lost_streak = 0
        self._queued_logs += 1
        self._enqueue(_LogItem(frame))
        return True

    def _discard_events(self) -> None:
        """``noevents`` flushes events queued but not yet written (B-SUBW-3)."""
        self._outbox = deque(item for item in self._outbox if not isinstance(item, EmittedEvent))
        self._queued_events = 0

    def _discard_logs(self) -> None:
        self._outbox = deque(item for item in self._outbox if not isinstance(item, _LogItem))
        self._queued_logs = 0

    def _kill(self, notice: bytes | None, reason: str) -> None:
        """Stop serving at once; write ``notice`` afterwards if the stream allows it."""
        if self._closing:
            return
        self._closing = True
        self.close_reason = reason
        self._final_notice = notice
        self._scope.cancel()

    def _pop_outgoing(self) -> _Outgoing:
        item = self._outbox.popleft()
        if isinstance(item, EmittedEvent):
            self._queued_events -= 1
        elif isinstance(item, _LogItem):
            self._queued_logs -= 1
        return item

    async def _write_outgoing(self, item: _Outgoing) -> None:
        if isinstance(item, EmittedEvent):
            await self._transmit(item.frame(self.format))
        elif isinstance(item, _LogItem):
            await self._transmit(item.frame)
        else:
            await self._transmit(item.data)
            if item.close:
                self.close_reason = item.reason
                raise ConnectionEnd(item.reason)

    async def _transmit(self, data: bytes) -> None:
        """Write one frame, through the silence / cut / trickle knobs."""
        if self.silenced or self._server.silenced:
            return
        cut, self._cut_after = self._cut_after, None
        if cut is not None:
            data = data[:cut]
        await self._write_frame(data)
        if cut is not None:
            self.close_reason = "cut mid-frame"
            raise ConnectionEnd(self.close_reason)

    async def _write_frame(self, data: bytes) -> None:
        trickle = self._server.trickle if self.trickle is None else self.trickle
        if not trickle:
            self._partial = not self._atomic  # a cancelled socket write may be half done
            await self._write(data)
        else:
            delay = self._server.trickle_delay
            for index in range(len(data)):
                self._partial = index > 0 or not self._atomic
                await self._write(data[index : index + 1])
                if delay and index + 1 < len(data):
                    await trio.sleep(delay)
        self._partial = False

    async def _write(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.close_reason = self.close_reason or "peer gone"
            raise ConnectionEnd("peer gone") from exc

    def _reply_delay(self) -> float:
        return self._server.reply_delay if self.reply_delay is None else self.reply_delay

    async def _wait_replies_allowed(self) -> None:
        """Honour reply_delay and both hold gates (server-wide and this connection's)."""
        delay = self._reply_delay()
        if delay > 0:
            await trio.sleep(delay)
        while not (self._server._gate.is_open and self._gate.is_open):
            await self._server._gate.wait_open()
            await self._gate.wait_open()
