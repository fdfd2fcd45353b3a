"""Outbound mode against a real FreeSWITCH 1.11 (opt-in, like test_live.py).

Skipped unless ``ESL_TRIO_LIVE_URL=esl://password@host:port`` is set. Each test starts
``open_outbound_server`` on a free port and, through an inbound runtime, makes FreeSWITCH dial
it with no dialplan of ours::

    bgapi originate loopback/9196/default '&socket(<host>:<port> async full)'

FreeSWITCH must reach ``<host>``: ``ESL_TRIO_LIVE_OUTBOUND_HOST``, else the local address of
the inbound connection's socket (the address FreeSWITCH already talks to). Facts relied on,
from FreeSWITCH's source and the recorded traffic in tests/fixtures/freeswitch-1.11:

* ``originate`` (mod_commands ``originate_function``) splits its arguments with
  ``switch_separate_string(cmd, ' ', ...)``, whose blank splitter does not split inside single
  quotes and whose cleanup strips them: the quoted ``'&socket(h:p async full)'`` is one
  argument. ``&app(args)`` runs ``app`` with ``args`` (the text up to ``)``) on the originated
  leg, here ``loopback/9196-a``; its other leg runs the stock dialplan's 9196 (echo).
* The ``socket`` application (mod_event_socket ``socket_function``) connects, waits for
  ``connect`` and answers with the channel data: ``Socket-Mode: async``, ``Control: full``,
  ``variable_current_application: socket``, ``variable_current_application_data:
  <host>:<port> async full``, ``Caller-Destination-Number: 9196`` (fixture
  ``30-outbound-connect-reply.raw``, recorded exactly this way).
* After a hangup with ``linger`` set, FreeSWITCH keeps sending the channel's events, then a
  ``text/disconnect-notice`` with ``Content-Disposition: linger`` (fixture
  ``34-outbound-after-hangup-stream.raw``).

In production the dialplan sends calls instead, e.g. in ``conf/dialplan/default.xml``::

    <extension name="esl-trio">
      <condition field="destination_number" expression="^8084$">
        <action application="socket" data="127.0.0.1:8084 async full"/>
      </condition>
    </extension>

(``async``: commands do not wait for the running application; ``full``: ``api``, ``event`` and
``linger`` are allowed on the socket.)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from esl_trio import EslRuntime, OutboundCall, open_esl_runtime, open_outbound_server
from esl_trio.config import tcp_connector
from esl_trio.outbound import OutboundServer
from esl_trio.protocol import Event

from ._live import LIVE, live_config

pytestmark = LIVE

TONE = "tone_stream://%(300,0,440)"


@asynccontextmanager
async def inbound() -> AsyncIterator[tuple[EslRuntime, str]]:
    """The inbound runtime, and the address FreeSWITCH can reach this process at."""
    config = live_config()
    base = tcp_connector(config)
    local: list[str] = []

    async def connect() -> trio.abc.Stream:
        stream = await base()
        if isinstance(stream, trio.SocketStream):
            local.append(stream.socket.getsockname()[0])
        return stream

    async with open_esl_runtime(config, connector=connect) as rt:
        host = os.environ.get("ESL_TRIO_LIVE_OUTBOUND_HOST") or local[0]
        await rt.subscriptions.subscribe("CHANNEL_HANGUP")
        yield rt, host


class Dialled:
    """One call FreeSWITCH sent: the runtime, the address, the server."""

    def __init__(self, rt: EslRuntime, host: str, server: OutboundServer) -> None:
        self.rt, self.host, self.server = rt, host, server

    async def hangup_of(self, hangups: AsyncIterator[object], uuid: str) -> Event:
        with trio.fail_after(30):
            async for event in hangups:
                if isinstance(event, Event) and event.unique_id == uuid:
                    return event
        raise AssertionError("the receiver ended before the call's CHANNEL_HANGUP")

    async def idle(self) -> None:
        """Until no handler runs (the server's counters are final)."""
        with trio.fail_after(10):
            while self.server.active_calls:  # noqa: ASYNC110 - a counter, polled
                await trio.sleep(0.05)


@asynccontextmanager
async def dialled(
    handler: Callable[[OutboundCall], Awaitable[None]], **options: Any
) -> AsyncIterator[tuple[Dialled, OutboundCall, AsyncIterator[object]]]:
    """A server, one call FreeSWITCH sent it (as its handler got it), and a receiver of
    CHANNEL_HANGUP opened before the call existed."""
    send, calls = trio.open_memory_channel[OutboundCall](10)

    async def reporting(call: OutboundCall) -> None:
        send.send_nowait(call)
        await handler(call)

    async with (
        inbound() as (rt, host),
        open_outbound_server(reporting, host=host, port=0, **options) as server,
        rt.events.receiver("CHANNEL_HANGUP") as hangups,
    ):
        socket_app = f"'&socket({host}:{server.port} async full)'"  # one argument: quoted
        job = await rt.bgapi("originate", f"loopback/9196/default {socket_app}")
        with trio.fail_after(30):
            done = await job.wait()
            assert done.result.startswith("+OK "), done.result
            call = await calls.receive()
        yield Dialled(rt, host, server), call, hangups


async def test_handler_gets_the_channel_data_plays_and_its_return_hangs_up() -> None:
    played: list[Event] = []

    async def handle(call: OutboundCall) -> None:
        await call.answer()
        played.append(await call.playback(TONE))

    async with dialled(handle) as (live, call, hangups):
        data = call.channel_data
        assert data.socket_mode == "async"
        assert data.control == "full"
        assert data.destination_number == "9196"
        assert (data.channel_name or "").startswith("loopback/9196")
        assert data.variable("current_application") == "socket"
        assert data.variable("current_application_data") == (
            f"{live.host}:{live.server.port} async full"
        )
        hangup = await live.hangup_of(hangups, call.uuid)
        assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert played, "the handler did not finish its playback"
        assert played[0]["Application"] == "playback"
        assert played[0]["Application-Data"] == TONE
        await live.idle()
        assert live.server.stats().completed == 1
        exists = await live.rt.api("uuid_exists", call.uuid)
        assert exists.text.strip() == "false"


async def test_a_raising_handler_hangs_the_call_up_with_the_error_cause() -> None:
    async def handle(call: OutboundCall) -> None:
        await call.answer()
        raise RuntimeError("on purpose")

    async with dialled(handle, error_cause="CALL_REJECTED") as (live, call, hangups):
        hangup = await live.hangup_of(hangups, call.uuid)
        assert hangup.get("Hangup-Cause") == "CALL_REJECTED"
        await live.idle()
        assert live.server.stats().failed == 1


async def test_far_end_hangup_cancels_the_handler_after_the_grace() -> None:
    grace = 1.0
    causes: list[str | None] = []
    times: dict[str, float] = {}
    cancelled = trio.Event()

    async def handle(call: OutboundCall) -> None:
        await call.answer()
        outcome = await call.wait_hangup()
        times["hung_up"] = trio.current_time()
        causes.append(outcome.cause)
        try:
            await trio.sleep_forever()  # a handler that ignores the hangup
        finally:
            times["cancelled"] = trio.current_time()
            cancelled.set()

    async with dialled(handle, hangup_grace=grace) as (live, call, hangups):
        with trio.fail_after(30):
            await call.wait_answered()
            reply = await live.rt.api("uuid_kill", call.uuid)  # NORMAL_CLEARING by default
            assert reply.text.startswith("+OK"), reply.text
            hangup = await live.hangup_of(hangups, call.uuid)
            await cancelled.wait()
        assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert causes == ["NORMAL_CLEARING"]
        assert times["cancelled"] - times["hung_up"] >= grace * 0.9
        await live.idle()
        stats = live.server.stats()
        assert (stats.hung_up, stats.completed, stats.failed) == (1, 0, 0)
