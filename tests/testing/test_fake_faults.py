"""Every fault knob of the fake, and the server-side queue limits (B-LIM-2)."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel

from esl_trio.protocol import (
    Api,
    ApiReply,
    Auth,
    AuthRequest,
    BgApi,
    CommandReply,
    DisconnectNotice,
    FrameParser,
    RemoteProtocolError,
    RudeRejection,
    TruncatedFrameError,
)
from esl_trio.protocol.server import GOODBYE, disconnect_notice, rude_rejection
from esl_trio.testing import SHUTDOWN_NOTICE, open_fake_freeswitch
from tests.testing._raw_client import Closed, RawClient, connect, goodbye

# -- closing connections -----------------------------------------------------------------------


async def test_drop_all_closes_without_notice():
    async with open_fake_freeswitch() as fs:
        a = await connect(fs)
        b = await connect(fs)
        await fs.drop_all()
        assert fs.connections == []
        for client in (a, b):
            assert await client.expect_close() == []
        assert {c.close_reason for c in fs.all_connections} == {"dropped"}
        again = await connect(fs)
        assert await again.api("echo alive") == b"alive"


async def test_drop_with_flush_writes_what_is_queued_first():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain CHANNEL_ANSWER")
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "before-the-cut"})
        await fs.drop_all(flush=True)
        messages = await client.expect_close()
        assert [m.get("Unique-ID") for m in messages] == ["before-the-cut"]  # no notice
        assert fs.connection(1).close_reason == "dropped"
        lost = await connect(fs, events="plain CHANNEL_ANSWER")
        fs.emit("CHANNEL_ANSWER")
        await fs.drop_all()  # immediate: the queued event is lost, as when a server dies
        assert await lost.expect_close() == []


async def test_connection_drop_closes_only_that_one():
    async with open_fake_freeswitch() as fs:
        a = await connect(fs)
        b = await connect(fs)
        fs.connection(1).drop()
        await fs.connection(1).wait_closed()
        assert await a.expect_close() == []
        assert await b.api("echo still here") == b"still here"


async def test_cut_next_frame_closes_mid_frame():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.connection(1).cut_next_frame(20)
        await client.send(Api("status"))
        data = await client.read_all()
        assert data == b"Content-Type: api/re"
        parser = FrameParser()
        parser.feed(data)
        parser.feed(b"")
        with pytest.raises(TruncatedFrameError):
            parser.next_frame()
        assert fs.connection(1).close_reason == "cut mid-frame"


async def test_server_cut_next_frame_targets_live_connections():
    async with open_fake_freeswitch() as fs:
        a = await connect(fs, events="plain HEARTBEAT")
        b = await connect(fs, events="plain HEARTBEAT")
        fs.cut_next_frame(0)
        fs.emit_heartbeat()
        assert await a.read_all() == b""
        assert await b.read_all() == b""


async def test_drop_on_before_reply():
    async with open_fake_freeswitch() as fs:
        rule = fs.drop_on(Api)
        client = await connect(fs)
        await client.send(Api("status"))
        assert await client.expect_close() == []  # no reply, no notice
        assert rule.fired == 1
        again = await connect(fs)
        assert await again.api("echo once") == b"once"  # times=1


async def test_drop_on_after_reply():
    async with open_fake_freeswitch() as fs:
        fs.drop_on("bgapi", before_reply=False)
        client = await connect(fs)
        await client.send(BgApi("status", job_uuid="j1"))
        messages = await client.expect_close()
        assert [m.text for m in messages] == ["+OK Job-UUID: j1"]


async def test_drop_on_partial_reply():
    async with open_fake_freeswitch() as fs:
        fs.drop_on("api echo", partial=30, times=None)
        client = await connect(fs)
        await client.send(Api("echo", "hello"))
        assert await client.read_all() == b"Content-Type: api/response\nCon"
        other = await connect(fs)
        await other.send(Api("echo", "again"))
        assert len(await other.read_all()) == 30
        with pytest.raises(ValueError, match="partial"):
            fs.drop_on(Api, partial=3, before_reply=True)


async def test_drop_rule_cancel_and_predicate():
    async with open_fake_freeswitch() as fs:
        rule = fs.drop_on(lambda c: isinstance(c, Api) and c.args == "boom", times=None)
        client = await connect(fs)
        assert await client.api("echo fine") == b"fine"
        rule.cancel()
        assert await client.api("echo boom") == b"boom"
        assert rule.fired == 0


# -- slowing and withholding replies -----------------------------------------------------------


async def test_reply_delay(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.reply_delay = 2.5
        start = trio.current_time()
        assert await client.api("echo slow") == b"slow"
        assert trio.current_time() - start == pytest.approx(2.5)
        fs.connection(1).reply_delay = 0.0  # per-connection override
        start = trio.current_time()
        assert await client.api("echo fast") == b"fast"
        assert trio.current_time() == start


async def test_hold_and_release_replies_b_wire_7(autojump_clock):
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain HEARTBEAT")
        fs.hold_replies()
        await client.send(Api("echo", "held"))
        await fs.wait_command("api echo held")
        fs.emit_heartbeat()  # events wait behind the held reply
        await client.expect_nothing(60)
        fs.release_replies()
        reply = await client.next()
        assert isinstance(reply, ApiReply)
        assert reply.body == b"held"
        assert (await client.event()).name == "HEARTBEAT"


async def test_hold_replies_per_connection(autojump_clock):
    async with open_fake_freeswitch() as fs:
        held = await connect(fs)
        free = await connect(fs)
        fs.connection(1).hold_replies()
        await held.send(Api("echo", "later"))
        assert await free.api("echo now") == b"now"
        await held.expect_nothing(10)
        fs.connection(1).release_replies()
        assert (await held.reply()).body == b"later"


async def test_silence_reads_but_writes_nothing(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="plain HEARTBEAT")
        fs.silence()
        await client.send(Api("echo", "lost"))
        await fs.wait_command("api echo lost")
        fs.emit_heartbeat()
        await client.expect_nothing(60)
        fs.unsilence()
        assert await client.api("echo back") == b"back"  # the silenced reply was discarded


async def test_silenced_server_sends_no_greeting(autojump_clock):
    async with open_fake_freeswitch(auth_timeout=None) as fs:
        fs.silence()
        client = RawClient(await fs.connect())
        await client.expect_nothing(60)
        fs.unsilence()
        await client.send(Auth("ClueCon"))
        assert (await client.reply()).text == "+OK accepted"


async def test_connection_silence(autojump_clock):
    async with open_fake_freeswitch() as fs:
        quiet = await connect(fs)
        loud = await connect(fs)
        fs.connection(1).silence()
        await quiet.send(Api("echo", "x"))
        assert await loud.api("echo y") == b"y"
        await quiet.expect_nothing(5)
        fs.connection(1).unsilence()
        assert await quiet.api("echo z") == b"z"


async def test_trickle_writes_one_byte_at_a_time(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.trickle = True
        fs.trickle_delay = 0.01
        client.chunks.clear()
        assert await client.api("echo trickled") == b"trickled"
        assert client.chunks
        assert {len(chunk) for chunk in client.chunks} == {1}


# -- garbage and unexpected frames -------------------------------------------------------------


async def test_send_raw_garbage_breaks_the_client_parser():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.send_raw(b"this is not a header\n\n")
        with pytest.raises(RemoteProtocolError):
            await client.next()


async def test_send_raw_then_close():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.send_raw(b"Content-Type: text/plain\n\n", conn=1, close=True)
        assert await client.read_all() == b"Content-Type: text/plain\n\n"


async def test_second_auth_request():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.send_auth_request()
        assert isinstance(await client.next(), AuthRequest)


async def test_disconnect_notice_injection_b_disc_1_3():
    async with open_fake_freeswitch() as fs:
        lingering = await connect(fs)
        closing = await connect(fs)
        fs.send_disconnect_notice(linger=True, conn=fs.connection(1))
        notice = await lingering.next()
        assert isinstance(notice, DisconnectNotice)
        assert notice.is_linger
        assert notice.headers["Linger-Time"] == "-1"
        assert await lingering.api("echo open") == b"open"
        fs.send_disconnect_notice(b"The system is being shut down.\n", conn=2)
        messages = await closing.expect_close()
        assert goodbye(messages).text == "The system is being shut down.\n"


async def test_oversize_content_length_injection():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        fs.send_oversize_frame()
        with pytest.raises(RemoteProtocolError):
            await client.next()


# -- refusing and rejecting --------------------------------------------------------------------


async def test_rude_rejection_of_next_connections_b_wire_3():
    async with open_fake_freeswitch() as fs:
        fs.rude_reject_next(2)
        for _ in range(2):
            client = RawClient(await fs.connect())
            expected = rude_rejection() + disconnect_notice(GOODBYE)
            assert await client.read_all() == expected  # never an auth/request
        assert isinstance(
            (await RawClient(await fs.connect()).next()), AuthRequest
        )  # the third is greeted
        assert [c.rejected for c in fs.all_connections] == [True, True, False]
        rejected = RawClient(await fs.connect())
        fs.rude_reject_next()
        assert isinstance(await rejected.next(), AuthRequest)  # only new connections
        late = RawClient(await fs.connect())
        assert isinstance(await late.next(), RudeRejection)


async def test_reject_auth_next():
    async with open_fake_freeswitch() as fs:
        fs.reject_auth_next()
        client = RawClient(await fs.connect())
        await client.next()
        await client.send(Auth("ClueCon"))
        messages = await client.expect_close()
        assert messages[0].text == "-ERR invalid"
        goodbye(messages)
        assert await (await connect(fs)).api("echo ok") == b"ok"


async def test_refuse_connections():
    async with open_fake_freeswitch() as fs:
        fs.refuse_connections = True
        with pytest.raises(ConnectionRefusedError):
            await fs.connect()
        with pytest.raises(OSError):
            await fs.connect()
        port = await fs.serve_tcp()
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        assert await RawClient(stream).read_all() == b""  # accepted, closed before greeting
        await stream.aclose()
        fs.refuse_connections = False
        await connect(fs)


# -- the bounded event queue (B-LIM-2) ---------------------------------------------------------


async def test_stalled_client_fills_the_queue_then_listener_is_killed_b_lim_2():
    async with open_fake_freeswitch(
        event_queue_size=10, max_lost_events=5, stream_buffer=2048, fire_api_events=False
    ) as fs:
        client = await connect(fs, events="plain CHANNEL_ANSWER")
        conn = fs.connection(1)
        body = b"x" * 300
        emitted = 0
        while not conn.closed and emitted < 1000:
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": f"u{emitted}"}, body)
            emitted += 1
            await trio.lowlevel.checkpoint()
        assert conn.events_lost == 6  # more than 5 consecutive losses
        assert conn.close_reason == "lost events"
        messages = await client.expect_close()
        events = messages[:-1]
        assert events
        assert [e.get("Unique-ID") for e in events] == [f"u{i}" for i in range(len(events))]
        assert goodbye(messages).body == b"killed listener because of lost events\n"


async def test_backpressure_queues_events_while_client_does_not_read():
    async with open_fake_freeswitch(stream_buffer=1024, fire_api_events=False) as fs:
        client = await connect(fs, events="plain HEARTBEAT")
        conn = fs.connection(1)
        for _ in range(50):
            fs.emit_heartbeat()
            await trio.lowlevel.checkpoint()
        assert conn.queued_events > 0  # the writer is blocked on the full stream
        assert conn.events_lost == 0
        for _ in range(50):
            assert (await client.event()).name == "HEARTBEAT"
        assert conn.queued_events == 0


async def test_losses_must_be_consecutive_b_lim_2():
    async with open_fake_freeswitch(
        event_queue_size=1, max_lost_events=2, stream_buffer=1, fire_api_events=False
    ) as fs:
        client = await connect(fs, events="plain HEARTBEAT")
        conn = fs.connection(1)
        for _ in range(4):  # two losses, then room again: the streak restarts
            fs.emit_heartbeat()
            fs.emit_heartbeat()
            fs.emit_heartbeat()
            await client.event()
            while conn.queued_events:
                await client.event()
        assert conn.events_lost == 8
        assert not conn.closed


async def test_killed_listener_closes_after_grace_if_never_read(autojump_clock):
    async with open_fake_freeswitch(
        event_queue_size=2, max_lost_events=1, stream_buffer=512, close_grace=3.0
    ) as fs:
        client = await connect(fs, events="plain HEARTBEAT")
        conn = fs.connection(1)
        while not conn._closing:
            fs.emit_heartbeat()
            await trio.lowlevel.checkpoint()
        start = trio.current_time()
        await conn.wait_closed()
        assert trio.current_time() - start == pytest.approx(3.0)
        messages = await client.expect_close()
        assert not any(isinstance(m, DisconnectNotice) for m in messages)  # no room for it


async def test_default_limits_kill_after_100000_plus_500_b_lim_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain CHANNEL_ANSWER")
        conn = fs.connection(1)
        for _ in range(100_000 + 500):  # no checkpoint: the writer never gets to run
            fs.emit("CHANNEL_ANSWER")
        assert not conn._closing
        fs.emit("CHANNEL_ANSWER")
        assert conn._closing
        assert conn.events_lost == 501
        messages = await client.expect_close(timeout=60)
        assert goodbye(messages).body == b"killed listener because of lost events\n"


# -- restart -----------------------------------------------------------------------------------


async def test_restart(autojump_clock):
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        fs.bgapi_delay = 10
        old_core = fs.core_uuid
        client = await connect(fs, events="plain ALL")
        fs.emit_heartbeat()
        await client.event()
        await client.command(BgApi("status"))
        await fs.restart()
        messages = await client.expect_close()
        assert goodbye(messages).body == SHUTDOWN_NOTICE
        assert fs.pending_jobs == {}
        assert fs.core_uuid != old_core
        fresh = await connect(fs, events="plain ALL")
        fs.emit_heartbeat()
        event = await fresh.event()
        assert event.sequence == 1
        assert event.core_uuid == fs.core_uuid
        await fresh.expect_nothing(30)  # the lost job never completes
        assert isinstance(await fresh.command(Api("status")), ApiReply | CommandReply)
        with pytest.raises(Closed):
            await client.next()
