"""``OutboundCall``: the :class:`~esl_trio.Call` a handler gets when FreeSWITCH dials us.

It is the same Call — state, waits, receivers, ``execute`` and every command built on it — over
the call's own socket instead of an inbound runtime. What differs is where commands go:

* ``sendmsg`` is written without a uuid (the socket's own channel);
* ``hangup``, ``getvar``, ``set`` and ``send_dtmf`` use the session commands (``sendmsg
  hangup``, ``getvar``, the ``set`` and ``send_dtmf`` applications), which FreeSWITCH accepts
  whatever the socket's control; ``bridge`` and ``transfer`` need ``api``, so ``full`` control;
* the socket's own commands: :meth:`OutboundCall.resume`, :meth:`~OutboundCall.subscribe`,
  :meth:`~OutboundCall.filter`, :meth:`~OutboundCall.divert_events`.

:class:`OutboundLink` is the call's keeper and command path: one per connection, owning the
:class:`~esl_trio._connection.Connection` and routing what the reader parses.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import trio

from ._call import Call
from ._call_dial import check_digits, check_word
from ._call_feeds import Feed, open_call_receiver
from ._call_values import Hangup
from ._connection import Connection, ConnectionEnded, ConnectionReport, NoticeArrived, ReplySlot
from ._errors import CommandError, ConnectionLostError, NotReadyError
from ._event_names import check_event_names
from ._outbound_config import OutboundConfig
from ._receivers import Overflow, Receiver
from .protocol import (
    Api,
    ApiReply,
    ChannelData,
    ClientProtocol,
    Command,
    CommandReply,
    DisconnectNotice,
    DivertEvents,
    Event,
    EventEnvelope,
    EventSubscribe,
    FilterAdd,
    FilterDelete,
    GetVar,
    Message,
    NixEvent,
    Resume,
    SendMsg,
)

__all__ = ["OutboundCall", "OutboundLink"]

#: What FreeSWITCH answers for a command it skipped: a command a single-channel socket may not
#: send, or ``getvar`` of an unset variable (mod_event_socket fills an empty reply with it).
_NOT_FOUND: Final = "-ERR command not found"
_FULL_ONLY: Final = "needs a socket with full control (dialplan: socket <host:port> async full)"


class OutboundLink:
    """One outbound socket: the command path and keeper of its call (see the module doc)."""

    __slots__ = (
        "_connection",
        "_executing",
        "_io_scopes",
        "_others",
        "_sequence",
        "call",
        "command_timeout",
        "end_reason",
        "event_format",
        "full",
        "myevents",
        "notice",
        "reports",
        "static",
    )

    def __init__(self, stream: trio.abc.Stream, config: OutboundConfig) -> None:
        send, self.reports = trio.open_memory_channel[ConnectionReport](8)
        protocol = ClientProtocol[ReplySlot](
            outbound=True,
            max_header_bytes=config.max_header_bytes,
            max_body_bytes=config.max_body_bytes,
        )
        self._connection = Connection(
            stream,
            protocol,
            generation=1,
            dispatch=self.dispatch,
            reports=send,
            receive_size=config.receive_size,
            write_timeout=config.write_timeout,
            queue_size=config.queue_size,
        )
        self.command_timeout = config.command_timeout
        self.call: OutboundCall | None = None
        self.full = True
        self.static = False
        #: ``myevents`` was sent: the call follows its channel through events.
        self.myevents = config.myevents
        self._executing = 0  # static mode: executes whose reply (= their end) is pending
        self._io_scopes: list[trio.CancelScope] = []
        #: The encoding ``myevents`` asked for (``event`` subscriptions ask for the same).
        self.event_format = config.event_format
        self._others: list[tuple[frozenset[str], Feed[Event]]] = []
        self._sequence = 0
        #: The disconnect notice, once it came (the channel is gone).
        self.notice: DisconnectNotice | None = None
        #: Why the socket ended (None while it is open).
        self.end_reason: BaseException | None = None

    @property
    def connection(self) -> Connection:
        """The socket's reader, writer and watchdog (run by the server's connection task)."""
        return self._connection

    # -- the commands a call sends (CallCommands) ---------------------------------------

    @property
    def runtime(self) -> OutboundLink:
        return self

    async def run_io(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run one of the connection's tasks (reader, writer, watchdog) so that the socket's
        end stops it at once, not only when the connection task finishes."""
        with trio.CancelScope() as scope:
            self._io_scopes.append(scope)
            if self.end_reason is not None:
                scope.cancel()
            await run()

    async def request(self, command: Command, limit: float | None = None) -> CommandReply:
        """Send one command and return its command/reply (an api/response is refused)."""
        if limit is None:
            # Static mode reads nothing behind a running execute until it ends: a deadline
            # for what waits behind it would declare a healthy socket dead.
            limit = math.inf if self._executing else self.command_timeout
        reply = await self._connection.request(command, limit)
        if isinstance(reply, ApiReply):
            raise CommandError(command.describe(), "answered with an api/response")
        return reply

    async def api(self, command: str, args: str = "") -> ApiReply:
        if not self.full:
            raise CommandError(f"api {command}", _FULL_ONLY)
        limit = math.inf if self._executing else self.command_timeout
        reply = await self._connection.request(Api(command, args), limit)
        if isinstance(reply, CommandReply):  # -ERR command not found / permission denied
            raise CommandError(f"api {command}", reply.text)
        return reply

    async def sendmsg(self, message: SendMsg) -> CommandReply:
        call = self.call
        if message.uuid is not None and call is not None and message.uuid == call.uuid:
            message = SendMsg(None, message.headers, message.body)  # our own channel
        if not (self.static and _is_execute(message)):
            return await self.request(message)
        # Static mode answers an execute once its application has finished: no deadline.
        self._executing += 1
        try:
            return await self.request(message, math.inf)
        finally:
            self._executing -= 1

    # -- what the call tells its keeper (CallKeeper) -------------------------------------

    def poke(self) -> None:
        """Nothing to do: there is no reconnect to resync after."""

    def note_gap(self, call: Call) -> None:
        """An outbound socket never reconnects, so no gap is ever marked."""

    def forget(self, call: Call) -> None:
        """The channel was destroyed; the connection task notices through the notice/EOF."""

    # -- the reader's dispatch (synchronous; never awaits) -------------------------------

    def dispatch(
        self, connection: Connection, message: Message, now: float
    ) -> Sequence[Feed[Event]]:
        if isinstance(message, Event):
            self._sequence += 1
            message.envelope = EventEnvelope(1, self._sequence, now)
            call = self.call
            if call is not None and message.unique_id == call.uuid:
                call.offer(message, 1)
            for names, feed in self._others:
                if not names or message.name in names:
                    feed.offer(message, 1)
        elif isinstance(message, DisconnectNotice) and self.notice is None:
            self.notice = message
            if message.is_linger:  # the connection reports the other notices itself
                connection.report(NoticeArrived(message))
        return ()

    def socket_receiver(
        self, names: frozenset[str], max_buffer: int, overflow: Overflow | str
    ) -> Receiver[Event]:
        label = "outbound socket " + (",".join(sorted(names)) or "*")
        opened: tuple[Receiver[Event], Feed[Event]] = open_call_receiver(
            label, max_buffer, overflow, self._drop_feed
        )
        receiver, feed = opened
        if self.end_reason is not None:
            feed.close(None)
        else:
            self._others.append((names, feed))
        return receiver

    def _drop_feed(self, feed: Feed[Event]) -> None:
        self._others = [(n, f) for n, f in self._others if f is not feed]

    # -- the socket ending -----------------------------------------------------------------

    def lost(self, report: ConnectionEnded) -> None:
        """The socket ended: close it, fail what waits on it, end the receivers."""
        if self.end_reason is not None:
            return
        self.end_reason = report.reason
        self._connection.close(report.reason)
        for scope in self._io_scopes:
            scope.cancel()
        call = self.call
        if call is not None and call.hangup_outcome is not None:
            call.released()  # the channel was gone already: its receivers just end
        elif call is not None:
            call.connection_lost()
            call.close(
                ConnectionLostError(
                    f"the outbound socket of call {call.uuid} closed: {report.reason}",
                    written=True,
                )
            )
        for _, feed in self._others:
            feed.close(None)
        self._others.clear()

    def channel_gone(self) -> None:
        """The disconnect notice: FreeSWITCH says the channel is gone. The call's waits end
        as on a hangup, even when no CHANNEL_HANGUP reached the socket (no ``myevents``, or a
        ``filter`` that lets it through no more)."""
        if self.call is not None:
            self.call.released("NORMAL_UNSPECIFIED")

    def close(self) -> None:
        """The server is done with the socket: the call is let go, everything waiting ends."""
        call = self.call
        if call is not None and call.resumed and call.hangup_outcome is None:
            # Handed back to the dialplan, up: nobody follows it any more, and no hangup
            # outcome would be true. Waits say so.
            call.close(
                NotReadyError(
                    f"call {call.uuid} was resumed into the dialplan and its socket closed;"
                    " it is no longer followed (an inbound runtime can attach to it)"
                )
            )
        elif call is not None:
            call.released()
        self.lost(
            ConnectionEnded(ConnectionLostError("the call's socket was closed", written=False))
        )


def _is_execute(message: SendMsg) -> bool:
    return any(n.lower() == "call-command" and v == "execute" for n, v in message.headers)


class OutboundCall(Call):
    """The call FreeSWITCH connected for. A :class:`~esl_trio.Call`, plus the socket's own
    commands; the handler's scope is the call's scope.
    """

    __slots__ = ("_channel_data", "_data_event", "_full", "_link", "_socket_mode", "resumed")

    def __init__(self, link: OutboundLink, channel_data: ChannelData) -> None:
        # Only the CHANNEL_DATA event is kept (its raw block, decoded lazily); the reply's
        # decoded headers are rebuilt from it on first use of ``channel_data``: ~100 decoded
        # headers held for the whole call would be most of what a call costs.
        event = channel_data.to_event()
        uuid = event.unique_id
        if not uuid:
            raise CommandError("connect", "the channel data has no Unique-ID")
        super().__init__(link, uuid, destination="", hangup_on_exit=True)
        self._link = link
        self._data_event = event
        self._channel_data: ChannelData | None = None
        #: ``resume`` was sent: when the handler returns, the channel goes on in the dialplan
        #: instead of being hung up.
        self.resumed = False
        self._socket_mode = event.peek("Socket-Mode") or "async"
        self._full = (event.peek("Control") or "full") == "full"
        self.resynced(event)

    @property
    def channel_data(self) -> ChannelData:
        """The reply to ``connect``: every channel field and variable as FreeSWITCH had them
        when it dialled (``call.channel_data.caller_id_number``...)."""
        data = self._channel_data
        if data is None:
            event = self._data_event
            text = (event.get("Reply-Text") or "").rstrip("\r\n")
            data = self._channel_data = ChannelData(text, event.headers, event.raw)
        return data

    def __repr__(self) -> str:
        return f"<OutboundCall {self.uuid} {self.state.call_state or 'NEW'}>"

    @property
    def socket_mode(self) -> str:
        """``async`` or ``static``: how the dialplan's ``socket`` application was called."""
        return self._socket_mode

    @property
    def full_control(self) -> bool:
        """The socket has ``full`` control (``api``, ``event``, ``linger`` are allowed)."""
        return self._full

    # -- the session commands ----------------------------------------------------------

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> Hangup:
        """Hang the channel up with ``cause`` (``sendmsg`` hangup) and wait for the hangup."""
        check_word("hangup cause", cause)
        if self.hangup_outcome is None and not self._ended:
            reply = await self._link.sendmsg(SendMsg.hangup(None, cause))
            if reply.is_error and self.hangup_outcome is None:
                raise CommandError(f"sendmsg hangup {cause}", reply.text)
            if not self._link.myevents:  # no CHANNEL_HANGUP will come to say so
                return Hangup(cause)
        return await self.wait_hangup()

    async def getvar(self, name: str) -> str | None:
        """Channel variable ``name`` (the socket's ``getvar``); None when unset."""
        self._check_usable(f"getvar {name}")
        reply = await self._link.request(GetVar(check_word("variable name", name)))
        text = reply.text
        return None if text in ("", _NOT_FOUND) else text

    async def set(self, name: str, value: str) -> None:
        """Set channel variable ``name`` (the ``set`` application)."""
        check_word("variable name", name)
        if "=" in name:
            raise ValueError(f"variable name {name!r} must not contain '='")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"variable {name}: the value must not hold CR, LF or NUL")
        await self.execute("set", f"{name}={value}")

    async def send_dtmf(self, digits: str, *, duration_ms: int | None = None) -> None:
        """Send DTMF ``digits`` to the channel (the ``send_dtmf`` application)."""
        check_digits(digits)
        await self.execute("send_dtmf", digits + (f"@{duration_ms}" if duration_ms else ""))

    async def bridge(self, other: Call | str) -> None:
        """Bridge with another channel (``uuid_bridge``; needs full control)."""
        self._require_full("bridge")
        await super().bridge(other)

    async def transfer(
        self, destination: str, *, dialplan: str = "XML", context: str = "default"
    ) -> None:
        """Send the channel to ``destination`` (``uuid_transfer``; needs full control)."""
        self._require_full("transfer")
        await super().transfer(destination, dialplan=dialplan, context=context)

    def _require_full(self, what: str) -> None:
        if not self.full_control:
            raise CommandError(what, _FULL_ONLY)

    # -- the socket's own commands -------------------------------------------------------

    async def resume(self) -> None:
        """``resume``: when the handler returns, the channel continues in the dialplan
        (after the ``socket`` application) instead of being hung up."""
        self._check_usable("resume")
        await self._checked(Resume())
        self.resumed = True

    async def subscribe(self, *names: str, custom: Sequence[str] = ()) -> None:
        """``event <names> [CUSTOM <custom>...]``: more events on this socket (needs full
        control).

        While ``myevents`` is on (the default) FreeSWITCH still delivers only this channel's
        events, so this adds event types of this channel (they reach :meth:`events`). Other
        channels' events need a server with ``myevents=False``; they reach
        :meth:`socket_events`.
        """
        self._require_full("event")
        wanted = check_event_names(names)
        await self._checked(EventSubscribe(self._link.event_format, wanted, tuple(custom)))

    async def unsubscribe(self, *names: str, custom: Sequence[str] = ()) -> None:
        """``nixevent <names> [CUSTOM <custom>...]`` (needs full control)."""
        self._require_full("nixevent")
        await self._checked(NixEvent(check_event_names(names), tuple(custom)))

    async def filter(self, header: str, value: str) -> None:
        """``filter <header> <value>``: only events matching a filter reach the socket —
        this channel's too: filter out CHANNEL_EXECUTE_COMPLETE and ``execute`` never
        returns before the hangup."""
        await self._checked(FilterAdd(header, value))

    async def unfilter(self, header: str, value: str | None = None) -> None:
        """``filter delete <header> [<value>]``."""
        await self._checked(FilterDelete(header, value))

    async def divert_events(self, on: bool = True) -> None:
        """``divert_events on|off``: events the channel's media bugs and inputs raise
        (DETECTED_SPEECH, ...) come to this socket instead of the dialplan."""
        await self._checked(DivertEvents(on))

    def socket_events(
        self, *names: str, max_buffer: int = 1000, overflow: Overflow | str = Overflow.DROP_NEWEST
    ) -> Receiver[Event]:
        """A bounded receiver of every event reaching this socket named ``names`` (none: all),
        this channel's and any other's (after :meth:`subscribe`). It ends with the socket."""
        return self._link.socket_receiver(frozenset(n.upper() for n in names), max_buffer, overflow)

    async def _checked(self, command: Command) -> CommandReply:
        reply = await self._link.request(command)
        if reply.is_error:
            raise CommandError(command.describe(), reply.text)
        return reply
