"""Serving one connection: greeting, reading commands, answering them in order, flushing events.

Two tasks per connection, both in the fake's nursery (through the connection's cancel scope):

* the *reader* turns bytes into commands (:class:`CommandReader`) and queues them;
* the *processor* answers queued commands one at a time, in order (B-WIRE-6), and writes queued
  events and log lines only between replies (B-WIRE-7), like the listener thread of
  ``mod_event_socket``. A slow reply (``reply_delay``, held replies, an ``async`` api handler)
  therefore stalls everything behind it on that connection, as a slow ``api`` does (B-APIW-4).

Endings: ``exit`` / failed auth / auth timeout / EOF write the goodbye notice and close
(B-AUTH-2/3, B-CMD-1); a killed listener (lost events) writes its notice after the current
frame if it can (B-LIM-2); a drop closes without a word. A client vanishing at any point only
ends its own connection: stream errors never leave this module. What serving needs from the
server goes through :class:`SessionHost`, so this module does not import the server.
"""

from __future__ import annotations

import contextlib
import math
from typing import Final, Protocol

import trio

from esl_trio.protocol import (
    NEED_DATA,
    CommandReader,
    RemoteProtocolError,
    Sentinel,
    TruncatedFrameError,
)
from esl_trio.protocol.server import GOODBYE, auth_request, disconnect_notice, rude_rejection

from ._connection import ConnectionEnd, FakeConnection
from ._dispatch import CommandHost, execute
from ._faults import DropRule, ReceivedCommand

__all__ = ["SessionHost", "serve_connection"]

_RECEIVE_SIZE: Final = 65536


class SessionHost(CommandHost, Protocol):
    """What serving a connection needs from the server (``FakeFreeSwitch`` satisfies it)."""

    @property
    def auth_timeout(self) -> float | None: ...
    @property
    def close_grace(self) -> float: ...
    def _record(self, conn: FakeConnection, command: ReceivedCommand) -> None: ...
    def _claim_drop_rule(self, command: ReceivedCommand) -> DropRule | None: ...
    def _on_closed(self, conn: FakeConnection) -> None: ...


async def serve_connection(server: SessionHost, conn: FakeConnection) -> None:
    """Serve ``conn`` until it ends; always closes the stream and unregisters it."""
    try:
        with conn._scope:
            await _run(server, conn)
        await _final_notice(server, conn)
    finally:
        conn.closed = conn._closing = True
        try:
            await trio.aclose_forcefully(conn._stream)
        finally:
            server._on_closed(conn)


async def _run(server: SessionHost, conn: FakeConnection) -> None:
    try:
        if not await _greet(server, conn):
            return
    except ConnectionEnd:
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_read_loop, server, conn)
        await _process_loop(server, conn)
        nursery.cancel_scope.cancel()


async def _greet(server: SessionHost, conn: FakeConnection) -> bool:
    """``auth/request`` (B-WIRE-2), or the ACL's rude rejection and goodbye (B-WIRE-3)."""
    if conn.rejected:
        conn.close_reason = "rude rejection"
        await conn._transmit(rude_rejection())
        await conn._transmit(disconnect_notice(GOODBYE))
        return False
    await conn._transmit(auth_request())
    return True


async def _final_notice(server: SessionHost, conn: FakeConnection) -> None:
    """After a kill: the notice, unless a frame was cut half-way (it would garble it)."""
    notice = conn._final_notice
    if notice is None or conn._partial:
        return
    with trio.move_on_after(server.close_grace), contextlib.suppress(ConnectionEnd):
        await conn._transmit(disconnect_notice(notice))


# -- reading -----------------------------------------------------------------------------------


async def _read_loop(server: SessionHost, conn: FakeConnection) -> None:
    reader = CommandReader()
    try:
        while _drain(server, conn, reader):
            reader.receive_data(bytes(await conn._stream.receive_some(_RECEIVE_SIZE)))
    except (trio.BrokenResourceError, trio.ClosedResourceError, TruncatedFrameError):
        pass  # the client vanished, maybe mid-command: like EOF
    except RemoteProtocolError:
        conn._kill(None, "client protocol error")  # FreeSWITCH drops such a client (B-LIM-1)
    finally:
        conn._eof = True
        conn._wake.set()


def _drain(server: SessionHost, conn: FakeConnection, reader: CommandReader) -> bool:
    """Queue every complete command; False once the client's stream has ended."""
    while True:
        command = reader.next_command()
        if isinstance(command, Sentinel):
            return command is NEED_DATA  # else CONNECTION_CLOSED
        conn._seen_command = True
        conn._inbox.append(command)
        server._record(conn, command)
        conn._wake.set()


# -- processing --------------------------------------------------------------------------------


async def _process_loop(server: SessionHost, conn: FakeConnection) -> None:
    try:
        while await _step(server, conn):
            pass
    except ConnectionEnd:
        pass


async def _step(server: SessionHost, conn: FakeConnection) -> bool:
    """One unit of work: a command, or a flush of queued frames. False: close."""
    await _wait_for_work(server, conn)
    if conn._inbox:
        return await _handle(server, conn, conn._inbox.popleft())
    if conn._outbox:
        for _ in range(len(conn._outbox)):
            await conn._write_outgoing(conn._pop_outgoing())
        return True
    conn.close_reason = conn.close_reason or "eof"
    await conn._transmit(disconnect_notice(GOODBYE))  # the listener's goodbye, as after exit
    return False


async def _wait_for_work(server: SessionHost, conn: FakeConnection) -> None:
    """Sleep until there is something to do; enforce the pre-auth timeout (B-AUTH-3)."""
    while not (conn._inbox or conn._outbox or conn._eof):
        conn._wake = trio.Event()
        deadline = math.inf
        if server.auth_timeout is not None and not conn._seen_command:
            deadline = conn.connected_at + server.auth_timeout
        with trio.move_on_at(deadline) as scope:
            await conn._wake.wait()
        if scope.cancelled_caught:
            conn.close_reason = "auth timeout"
            await conn._transmit(disconnect_notice(GOODBYE))
            raise ConnectionEnd(conn.close_reason)


async def _handle(server: SessionHost, conn: FakeConnection, command: ReceivedCommand) -> bool:
    """Execute one command and write its reply, honouring drop rules and reply knobs."""
    rule = server._claim_drop_rule(command)
    if rule is not None and rule.before_reply:
        conn.close_reason = "drop rule"
        raise ConnectionEnd(conn.close_reason)
    reply = await execute(server, conn, command)
    await conn._wait_replies_allowed()
    if rule is not None:
        data = b"".join(reply.frames)
        await conn._transmit(data if rule.partial is None else data[: rule.partial])
        conn.close_reason = "drop rule"
        raise ConnectionEnd(conn.close_reason)
    for frame in reply.frames:
        await conn._transmit(frame)
    if reply.after is not None:
        reply.after()
    if reply.close:
        conn.close_reason = reply.reason
        return False
    return True
