"""The outbound server's limits and hostile peers (issue 12 item 4), and its task structure.

A garbage or hostile peer is played by hand over a bounded memory pipe: it is FreeSWITCH's side
gone wrong, which the fake dialer (a faithful FreeSWITCH) does not do on its own.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytest
import trio

from esl_trio import OutboundCall, open_outbound_server, serve_outbound
from esl_trio.errors import CommandTimeoutError, ConnectionLostError
from esl_trio.outbound import OutboundServer
from esl_trio.testing import open_fake_dialer
from esl_trio.testing._pipe import bounded_stream_pair

from .conftest import serving

FIXTURES = Path(__file__).parent.parent / "fixtures" / "freeswitch-1.11"
CONNECT_REPLY = (FIXTURES / "30-outbound-connect-reply.raw").read_bytes()
RECORDED_UUID = "74bfaba6-c80f-4938-ac25-144cf48ff82f"


class Peer:
    """FreeSWITCH's end of one outbound socket, played by the test byte by byte."""

    def __init__(self, server: OutboundServer) -> None:
        self.stream, theirs = bounded_stream_pair(65536)
        server.serve_stream(theirs)
        self.received = bytearray()

    async def expect(self, data: bytes) -> None:
        while data not in self.received:
            chunk = await self.stream.receive_some(65536)
            assert chunk, f"closed before {data!r}; got {bytes(self.received)!r}"
            self.received += chunk

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def wait_closed(self) -> None:
        while chunk := await self.stream.receive_some(65536):
            self.received += chunk


async def idle(call: OutboundCall) -> None:
    await call.wait_hangup()


# -- the limit of concurrent calls -------------------------------------------------------------


async def test_issue12_item4_beyond_max_calls_a_call_is_refused_with_a_cause(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []

    async def handler(call: OutboundCall) -> None:
        handled.append(call.uuid)
        await trio.sleep(5)

    with caplog.at_level(logging.WARNING, logger="esl_trio.outbound"):
        async with serving(handler, max_calls=2) as bench:
            first = await bench.dial()
            second = await bench.dial()
            await first.wait_command("linger")
            await second.wait_command("linger")
            refused = await bench.dial()
            await refused.wait_closed()
            assert bench.server.active_calls == 2
            await first.wait_closed()
            later = await bench.dial()  # room again
            await later.wait_closed()
    assert refused.hangup_cause == "SWITCH_CONGESTION"
    assert [c.verb for c in refused.commands] == ["connect", "sendmsg"]  # no handler, no events
    assert sorted(handled[:2]) == sorted([first.uuid, second.uuid])
    assert handled[2:] == [later.uuid]
    (record,) = [r for r in caplog.records if r.name == "esl_trio.outbound"]
    assert refused.uuid in record.getMessage() and "max_calls" in record.getMessage()
    stats = bench.server.stats()
    assert (stats.accepted, stats.refused, stats.completed) == (4, 1, 3)


async def test_issue12_item4_a_refusal_storm_logs_once_a_second(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="esl_trio.outbound"):
        async with serving(idle, max_calls=1, refuse_cause="USER_BUSY") as bench:
            held = await bench.dial()
            await held.wait_command("linger")
            storm = []
            for _ in range(50):  # one after the other, within the same second
                storm.append(await bench.dial())
                await storm[-1].wait_closed()
            await trio.sleep(1.5)
            last = await bench.dial()
            await last.wait_closed()
            held.hangup()
    assert {c.hangup_cause for c in [*storm, last]} == {"USER_BUSY"}
    lines = [r.getMessage() for r in caplog.records if r.name == "esl_trio.outbound"]
    assert len(lines) == 2
    assert "49 more refused since the last report" in lines[1]


# -- hostile or broken peers end their own connection only -----------------------------------


async def test_issue12_item4_garbage_instead_of_the_connect_reply_ends_that_connection_only(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(idle) as bench:
        good = await bench.dial()
        await good.wait_command("linger")
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        await peer.send(b"\x00\xffthis is not an event socket\n\n" * 3)
        await peer.wait_closed()
        assert bench.server.active_calls == 1  # the good call goes on
        good.hangup()
        await good.wait_closed()
    stats = bench.server.stats()
    assert (stats.broken, stats.completed) == (1, 1)
    assert any("before its call started" in r.getMessage() for r in caplog.records)


async def test_issue12_item4_a_peer_that_never_answers_connect_is_closed_at_the_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with serving(idle, connect_timeout=3) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        start = trio.current_time()
        await peer.wait_closed()
        assert trio.current_time() - start == pytest.approx(3)
    assert bench.server.stats().broken == 1


async def test_issue12_item4_an_oversized_frame_ends_that_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with serving(idle, max_header_bytes=4096) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        await peer.send(b"Content-Type: command/reply\nX: " + b"a" * 10_000)
        await peer.wait_closed()
    assert bench.server.stats().broken == 1


async def test_issue12_item4_an_auth_request_on_an_outbound_socket_is_a_protocol_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with serving(idle) as bench:
        peer = Peer(bench.server)  # an inbound port by mistake: it greets instead of waiting
        await peer.send(b"Content-Type: auth/request\n\n")
        await peer.wait_closed()
    assert b"auth " not in peer.received  # no credentials ever go out on this socket
    assert bench.server.stats().broken == 1


async def test_issue12_item4_a_stuck_reply_closes_the_socket_and_fails_the_command(
    autojump_clock: trio.abc.Clock,
) -> None:
    errors: list[BaseException] = []

    async def handler(call: OutboundCall) -> None:
        try:
            await call.getvar("x")
        except (CommandTimeoutError, ConnectionLostError) as exc:
            errors.append(exc)

    async with serving(handler, command_timeout=4, linger=None, myevents=False) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        await peer.send(CONNECT_REPLY)
        await peer.expect(b"getvar x\n\n")  # and never answer it
        start = trio.current_time()
        await peer.wait_closed()
        assert trio.current_time() - start == pytest.approx(4)
    assert len(errors) == 1 and isinstance(errors[0], CommandTimeoutError)


async def test_issue12_item4_a_socket_cut_mid_call_cancels_the_handler_after_the_grace(
    autojump_clock: trio.abc.Clock,
) -> None:
    marks: dict[str, float] = {}

    async def handler(call: OutboundCall) -> None:
        try:
            await trio.sleep_forever()
        finally:
            marks["cancelled"] = trio.current_time()

    async with serving(handler, hangup_grace=1.5, linger=None, myevents=False) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        await peer.send(CONNECT_REPLY)
        await trio.sleep(2)
        marks["cut"] = trio.current_time()
        await peer.stream.aclose()
    assert marks["cancelled"] - marks["cut"] == pytest.approx(1.5)
    assert bench.server.stats().hung_up == 1


async def test_issue12_item4_a_peer_that_stops_reading_is_cut_at_the_write_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    failures: list[tuple[float, BaseException]] = []
    second_write: list[float] = []

    async def set_big(call: OutboundCall, name: str) -> None:
        try:
            await call.set(name, "x" * 300_000)  # more than the pipe holds
        except ConnectionLostError as exc:
            failures.append((trio.current_time(), exc))

    async def handler(call: OutboundCall) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(set_big, call, "first")  # fills the pipe
            await trio.sleep(1)
            second_write.append(trio.current_time())
            nursery.start_soon(set_big, call, "second")  # cannot be written

    options = {"write_timeout": 2, "command_timeout": 30, "linger": None, "myevents": False}
    async with serving(handler, **options) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        await peer.send(CONNECT_REPLY)
        await peer.expect(b"sendmsg")  # then never reads again
    assert len(failures) == 2
    assert failures[0][0] - second_write[0] == pytest.approx(2)
    assert all(isinstance(error.__cause__, CommandTimeoutError) for _, error in failures)


# -- TCP, serve_outbound and the task tree ------------------------------------------------------


async def test_issue12_item1_over_tcp_with_a_real_listener() -> None:
    answered: list[str] = []

    async def handler(call: OutboundCall) -> None:
        await call.answer()
        answered.append(call.uuid)

    async with (
        open_fake_dialer() as dialer,
        open_outbound_server(handler, host="127.0.0.1", port=0) as server,
    ):
        assert server.port > 0
        with trio.fail_after(10):
            calls = [
                await dialer.dial(("127.0.0.1", server.port), answered=False) for _ in range(3)
            ]
            for call in calls:
                await call.wait_closed()
    assert sorted(answered) == sorted(c.uuid for c in calls)
    assert all(c.hangup_cause == "NORMAL_CLEARING" for c in calls)


async def test_issue12_item1_serve_outbound_runs_until_cancelled() -> None:
    async def handler(call: OutboundCall) -> None:
        await call.answer()

    async with open_fake_dialer() as dialer, trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: serve_outbound(handler, port=0, task_status=task_status)
        )
        with trio.fail_after(10):
            call = await dialer.dial(("127.0.0.1", server.port))
            await call.wait_closed()
        nursery.cancel_scope.cancel()
    assert call.applications == [("answer", "")]


def _task_names(task: trio.lowlevel.Task) -> list[str]:
    names = [task.name]
    for nursery in task.child_nurseries:
        for child in nursery.child_tasks:
            names += _task_names(child)
    return names


async def test_issue12_the_task_tree_per_call_is_fixed_and_nothing_outlives_the_block(
    autojump_clock: trio.abc.Clock,
) -> None:
    root = trio.lowlevel.current_task()
    async with serving(idle) as bench:
        calls = [await bench.dial() for _ in range(200)]
        for call in calls:
            await call.wait_command("linger")
        names = _task_names(root)
        per_call = [
            n
            for n in names
            if n.startswith("esl-trio outbound ") and n != "esl-trio outbound server"
        ]
        assert len(per_call) == 5 * 200  # connection (handler), reader, writer, watchdog, keeper
        assert names.count("esl-trio outbound server") == 1  # the connections' nursery
        for call in calls:
            call.hangup()
        for call in calls:
            await call.wait_closed()
    assert not [n for n in _task_names(root) if "esl-trio" in n]
    assert bench.server.stats().completed == 200


async def test_issue12_the_blocks_own_exception_comes_out_unwrapped(
    autojump_clock: trio.abc.Clock,
) -> None:
    mine = KeyError("mine")

    async def fail_in_the_block() -> None:
        async with serving(idle) as bench:
            await bench.dial()
            raise mine

    with pytest.raises(KeyError) as plain:
        await fail_in_the_block()
    assert plain.value is mine
    group = ExceptionGroup("mine", [ValueError("a"), KeyError("b")])
    with pytest.raises(ExceptionGroup) as caught:
        async with serving(idle):
            raise group
    assert caught.value.message == "mine"
    assert [id(e) for e in caught.value.exceptions] == [id(e) for e in group.exceptions]


async def test_issue12_item4_a_flood_of_silent_sockets_is_bounded(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with serving(idle, max_calls=1, connect_timeout=30) as bench:
        peers = [Peer(bench.server) for _ in range(30)]  # none ever answers connect
        await trio.sleep(1)
        assert bench.server.open_connections == 2 * 1 + 16  # the bound, not 30
        assert bench.server.stats().refused == 30 - 18
        closed = 0
        for peer in peers:
            with trio.move_on_after(0.5):  # 18 open ones wait 9 s in all, < connect_timeout
                await peer.wait_closed()
                closed += 1
                assert peer.received == b""  # the ones past the bound: closed, no connect
        assert closed == 12


async def test_issue12_item4_garbage_right_after_the_channel_data_is_no_internal_error(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="esl_trio.outbound"):
        async with serving(idle) as bench:
            for _ in range(20):  # whichever task sees it first, reader or conversation
                peer = Peer(bench.server)
                await peer.expect(b"connect\n\n")
                # In one read: the reply and garbage, so the reader reports the end in the same
                # step that wakes the conversation.
                await peer.send(CONNECT_REPLY + b"no colon here\n\n")
            await trio.sleep(1)
    assert not [r for r in caplog.records if "internal error" in r.getMessage()]
    assert bench.server.stats().accepted == 20 and bench.server.open_connections == 0


async def test_issue12_item3_a_call_still_connecting_when_the_drain_begins_is_hung_up(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with trio.open_nursery() as nursery, serving(idle) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")

        async def answer_late() -> None:
            await trio.sleep(1)  # the drain has begun by now
            await peer.send(CONNECT_REPLY)

        nursery.start_soon(answer_late)
    await peer.expect(b"hangup-cause: SYSTEM_SHUTDOWN")
    assert bench.server.stats().refused == 1


async def test_issue12_item3_cancelling_serve_outbound_drains_too(
    autojump_clock: trio.abc.Clock,
) -> None:
    marks: dict[str, float] = {}

    async def handler(call: OutboundCall) -> None:
        try:
            await call.wait_hangup()
        finally:
            marks["cancelled"] = trio.current_time()

    async with open_fake_dialer() as dialer, trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(serve_outbound, handler, port=0, drain_timeout=5)
        )
        call = await dialer.dial(("127.0.0.1", server.port))
        await call.wait_command("linger")
        start = trio.current_time()
        nursery.cancel_scope.cancel()
    await call.wait_closed()
    assert marks["cancelled"] - start == pytest.approx(5)  # the drain ran, then the cut
    assert call.hangup_cause == "SYSTEM_SHUTDOWN"
    assert server.stats().shut_down == 1


async def test_issue12_item3_aclose_may_cut_the_drain_short(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with serving(idle, drain_timeout=60) as bench:
        fake = await bench.dial()
        await fake.wait_command("linger")
        start = trio.current_time()
        await bench.server.aclose(drain_timeout=0)
        assert trio.current_time() - start < 1
        await fake.wait_closed()
    assert fake.hangup_cause == "SYSTEM_SHUTDOWN"


# -- found by review ------------------------------------------------------------------------


async def test_a_write_blocked_when_the_handler_ends_does_not_wedge_the_server(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def handler(call: OutboundCall) -> None:
        await call.resume()  # nothing owed afterwards: the connection ends at once
        with trio.move_on_after(1):
            await call.set("big", "x" * 300_000)  # more than the peer will ever read

    async with serving(handler, linger=None) as bench:
        peer = Peer(bench.server)
        await peer.expect(b"connect\n\n")
        await peer.send(CONNECT_REPLY)
        await peer.expect(b"myevents\n\n")
        await peer.send(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
        await peer.expect(b"resume\n\n")
        await peer.send(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
        with trio.fail_after(5):  # it used to stay open for ever, and so did the block
            while bench.server.open_connections:  # noqa: ASYNC110 - a counter
                await trio.sleep(0.5)
    assert bench.server.stats().completed == 1


async def test_static_mode_commands_behind_a_running_execute_get_no_false_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    got: list[object] = []

    async def handler(call: OutboundCall) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call.execute, "sleep", "60000")  # answered in 60 s (static)
            await trio.sleep(1)
            got.append(await call.getvar("caller"))  # read only after the sleep, by FS

    async with serving(handler, command_timeout=10) as bench:
        fake = await bench.dial(async_mode=False, variables={"caller": "1000"})
        await fake.wait_closed()
    assert got == ["1000"]
    assert fake.applications[0] == ("sleep", "60000")
    assert bench.server.stats().completed == 1


async def test_without_myevents_the_disconnect_notice_still_ends_the_calls_waits(
    autojump_clock: trio.abc.Clock,
) -> None:
    outcomes: list[str] = []

    async def handler(call: OutboundCall) -> None:
        outcomes.append((await call.wait_hangup()).cause)

    async with serving(handler, myevents=False, hangup_grace=30) as bench:
        fake = await bench.dial()
        await fake.wait_command("linger")
        fake.hangup()
        start = trio.current_time()
        await fake.wait_closed()
        assert trio.current_time() - start < 1  # not the 30 s grace
    assert outcomes == ["NORMAL_UNSPECIFIED"]  # gone; no event said how
    assert bench.server.stats().completed == 1


async def test_ports_are_readable_after_the_server_closed() -> None:
    async with open_outbound_server(idle, port=0) as server:
        port = server.port
    assert server.ports == [port] and str(port) in repr(server)
