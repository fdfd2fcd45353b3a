"""Fault matrix: the fake FreeSWITCH breaks at every point; the runtime recovers or stops.

For each fault every accepted piece of work ends in exactly one outcome (a result or a typed
error), nothing hangs, nothing resolves twice. All on ``autojump_clock`` with exact virtual
times. Behaviour ids: B-RECON-*, B-HB-*, B-BP-*, B-DRAIN-*, B-DISC-*, G-12, G-17, G-20.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from esl_trio import (
    AuthenticationError,
    BackpressureError,
    CommandError,
    ConnectionLostError,
    DrainError,
    EslRuntime,
    GapReason,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import BackpressureConfig, HeartbeatConfig, RetryPolicy, SubscriptionConfig
from esl_trio.health import ReconnectPhase, StopReason
from esl_trio.protocol import Auth, Event, EventSubscribe, FilterAdd
from esl_trio.testing import FakeFreeSwitch, UserCredentials, open_fake_freeswitch
from tests.runtime.conftest import OpenRuntime, base_config

RESTORED = SubscriptionConfig(events=["CHANNEL_ANSWER"], filters=[("Unique-ID", "call-1")])


async def reconnected(rt: EslRuntime, generation: int) -> None:
    with trio.fail_after(60):
        while rt.health().generation < generation or rt.state is not RuntimeState.READY:
            await rt.wait_state(RuntimeState.READY)
            if rt.health().generation < generation:
                await trio.sleep(0.01)


def restore_lines(fs: FakeFreeSwitch, connection: int) -> list[bytes]:
    conn = fs.connection(connection)
    return [c.to_bytes().split(b"\n")[0] for c in conn.commands]  # type: ignore[union-attr]


# -- drops at each point of the handshake and restore ------------------------------------


@pytest.mark.parametrize(
    "match",
    [Auth, EventSubscribe, FilterAdd],
    ids=["mid-auth", "restore-events", "restore-filters"],
)
async def test_drop_during_handshake_or_restore_is_retried_B_RECON_1(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime, match: type
) -> None:
    async with open_runtime(subscriptions=RESTORED) as rt:
        fs.drop_on(match)
        await fs.drop_all()
        await reconnected(rt, 3)
        assert rt.health().reconnect.reconnects == 1  # one recovery, two attempts
        # Events first, then the job filter, then user filters (B-SUBS-10).
        assert restore_lines(fs, 3) == [
            b"auth ClueCon",
            b"event json BACKGROUND_JOB CHANNEL_ANSWER",
            b"filter Event-Name BACKGROUND_JOB",
            b"filter Unique-ID call-1",
        ]


async def test_drop_before_the_greeting_is_retried(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    dropped: list[int] = []

    async def flaky() -> trio.abc.Stream:
        stream = await fs.connect()
        if len(dropped) < 2 and len(fs.all_connections) > 1:
            dropped.append(1)
            fs.all_connections[-1].drop()
        return stream

    async with open_esl_runtime(base_config(), connector=flaky) as rt:
        await fs.drop_all()
        await reconnected(rt, 4)
    assert len(dropped) == 2


async def test_reconnect_delays_follow_the_policy_and_reset_after_recovery_B_RECON_3_4(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    policy = RetryPolicy(initial_delay=1, multiplier=2, max_delay=8)
    async with open_runtime(retry=policy) as rt:
        fs.refuse_connections = True
        lost_at = trio.current_time()
        await fs.drop_all()
        await trio.sleep(1 + 2 + 4 - 0.5)  # attempts at +1, +3, +7 fail
        status = rt.health().reconnect
        assert status.phase is ReconnectPhase.WAITING
        assert (status.attempt, status.delay) == (3, 4)
        fs.refuse_connections = False
        await reconnected(rt, 2)
        assert trio.current_time() - lost_at == pytest.approx(1 + 2 + 4, abs=0.05)
        assert rt.health().reconnect.attempt == 0
        assert rt.health().last_error is None  # G-31: cleared by the full recovery


async def test_retries_exhausted_stops_for_good_B_RECON_5(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(retry=RetryPolicy(initial_delay=1, max_attempts=2)) as rt:
        fs.refuse_connections = True
        await fs.drop_all()
        await rt.wait_state(RuntimeState.FAILED)
        health = rt.health()
        assert health.reconnect.stop_reason is StopReason.RETRIES_EXHAUSTED
        assert health.last_error is not None and "ConnectError" in health.last_error.type
        fs.refuse_connections = False
        await trio.sleep(100)
        assert len(fs.all_connections) == 1  # no attempt after stopping


async def test_retry_disabled_stops_at_the_first_loss(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(retry=RetryPolicy.disabled()) as rt:
        await fs.drop_all()
        await rt.wait_state(RuntimeState.FAILED)
        assert rt.health().reconnect.stop_reason is StopReason.RETRY_DISABLED


async def test_auth_rejected_on_reconnect_is_terminal_B_RECON_2(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        fs.reject_auth_next()
        await fs.drop_all()
        await rt.wait_state(RuntimeState.FAILED)
        assert rt.health().reconnect.stop_reason is StopReason.AUTH_REJECTED
        assert rt.health().last_error.type == "AuthenticationError"  # type: ignore[union-attr]


async def test_rude_rejection_on_reconnect_is_terminal(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        fs.rude_reject_next()
        await fs.drop_all()
        await rt.wait_state(RuntimeState.FAILED)
        assert rt.health().reconnect.stop_reason is StopReason.PROTOCOL_FAILURE


async def test_restore_error_is_not_an_auth_failure_G_12(autojump_clock: trio.abc.Clock) -> None:
    users = {"1000@default": UserCredentials("pw", allowed_events=("CHANNEL_ANSWER",))}
    async with open_fake_freeswitch(users=users) as fs:
        config = base_config(user="1000@default", password="pw")
        with pytest.raises(CommandError, match="restore") as caught:
            async with open_esl_runtime(config, connector=fs.connector):
                pytest.fail("must not enter the block")
        assert not isinstance(caught.value, AuthenticationError)


async def test_slow_handshake_during_recovery_is_retried_not_terminal_G_17(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        fs.silence()
        await fs.drop_all()
        await trio.sleep(25)  # several handshake timeouts (10 s each), all retried
        assert rt.state is RuntimeState.RECONNECTING
        fs.unsilence()
        await reconnected(rt, 2)


# -- faults on an established connection ---------------------------------------------------


async def outcome(fn: Callable[[], object]) -> object:
    """Run a coroutine function; return its result or the exception it raised."""
    try:
        return await fn()  # type: ignore[misc]
    except Exception as exc:
        return exc


async def test_api_in_flight_when_the_socket_drops_B_API_8(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    fs.hold_replies()
    results: list[object] = []
    async with trio.open_nursery() as nursery:
        for i in range(3):
            nursery.start_soon(lambda i=i: _collect(results, rt.api("echo", f"n{i}")))
        await fs.wait_command("api echo n2")
        await fs.drop_all()
    assert len(results) == 3
    assert all(isinstance(r, ConnectionLostError) and r.written for r in results)
    fs.release_replies()
    await reconnected(rt, 2)
    assert (await rt.api("echo", "after")).text == "after"


async def _collect(results: list[object], awaitable: object) -> None:
    try:
        results.append(await awaitable)  # type: ignore[misc]
    except Exception as exc:
        results.append(exc)


async def test_mid_frame_cut_fails_the_call_and_recovers_B_DISC_4(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    fs.cut_next_frame(after_bytes=20)
    with pytest.raises(ConnectionLostError):
        await rt.api("status")
    await reconnected(rt, 2)
    assert rt.health().last_disconnect.type in {"TruncatedFrameError", "ConnectionLostError"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "inject",
    [
        lambda fs: fs.send_raw(b"this is not a frame\n\n"),
        lambda fs: fs.send_oversize_frame(),
        lambda fs: fs.send_raw(b"Content-Length: 2147483648\nContent-Type: api/response\n\n"),
        lambda fs: fs.send_auth_request(),
        lambda fs: fs.send_raw(b"Content-Type: api/response\nContent-Length: 5\n\nstray"),
    ],
    ids=["garbage", "oversize", "2GiB", "second-auth-request", "reply-with-nothing-waiting"],
)
async def test_protocol_violations_after_auth_reconnect(
    autojump_clock: trio.abc.Clock,
    fs: FakeFreeSwitch,
    rt: EslRuntime,
    inject: Callable[[FakeFreeSwitch], None],
) -> None:
    inject(fs)
    await reconnected(rt, 2)
    assert rt.health().last_disconnect.type in {  # type: ignore[union-attr]
        "RemoteProtocolError",
        "TruncatedFrameError",
    }
    assert (await rt.api("echo", "ok")).text == "ok"


async def test_disconnect_notice_then_close_is_handled_once_G_20(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    fs.send_disconnect_notice(b"The system is being shut down.\n")
    await reconnected(rt, 2)
    await trio.sleep(30)
    assert rt.health().generation == 2  # exactly one reconnect
    assert "shut down" in rt.health().last_disconnect.message  # type: ignore[union-attr]


async def test_linger_notice_keeps_the_connection_B_DISC_3(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    fs.send_disconnect_notice(b"", linger=True)
    assert (await rt.api("echo", "still here")).text == "still here"
    assert rt.health().generation == 1


async def test_server_restart_with_pending_jobs_and_receivers_B_BG_8(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    fs.auto_complete_jobs = False
    async with open_runtime(subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER"])) as rt:
        job = await rt.bgapi("originate", "loopback/1 &park")
        async with rt.events.receiver("CHANNEL_ANSWER") as events:
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": "before"})
            await rt.api("status")  # the event has been read before the cut
            await fs.drop_all()
            await reconnected(rt, 2)
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": "after"})
            # The job was accepted on connection 1 and completes on connection 2.
            fs.complete_job(job.job_uuid, "+OK done\n")
            with trio.fail_after(10):
                done = await job.wait()
                items = [await events.receive() for _ in range(3)]
            assert done.envelope is not None and done.envelope.generation == 2
    first, gap, second = items
    assert isinstance(first, Event) and first.unique_id == "before"
    assert gap == StreamGap(GapReason.RECONNECT, 0, 2)
    assert isinstance(second, Event) and second.unique_id == "after"


async def test_unaccepted_job_dies_with_its_socket_B_BG_8(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    fs.hold_replies()
    async with trio.open_nursery() as nursery:
        results: list[object] = []
        nursery.start_soon(_collect, results, rt.bgapi("status"))
        await fs.wait_command("bgapi status")
        await fs.drop_all()
    (result,) = results
    assert isinstance(result, ConnectionLostError)
    assert rt.health().pending_jobs == 0


# -- liveness ------------------------------------------------------------------------------


async def test_liveness_degrades_probes_then_reconnects_B_HB_2_4(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    config = base_config(heartbeat=HeartbeatConfig(interval=5))
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        start = trio.current_time()
        fs.silence()
        await trio.sleep(5.5)
        assert not rt.health().live
        assert rt.state is RuntimeState.READY  # degraded, not dead
        await fs.wait_command("api status")  # the single probe
        fs.unsilence()  # too late: the probe's reply was discarded while silent
        await rt.wait_state(RuntimeState.RECONNECTING)
        assert trio.current_time() - start == pytest.approx(10, abs=0.01)
        await reconnected(rt, 2)
        assert rt.health().live


async def test_any_inbound_frame_keeps_the_connection_live_B_HB_3(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    config = base_config(heartbeat=HeartbeatConfig(interval=5, subscribe_heartbeat=True))
    await assert_heartbeats_keep_it_live(fs, config, rounds=10)


async def assert_heartbeats_keep_it_live(
    fs: FakeFreeSwitch, config: RuntimeConfig, *, rounds: int
) -> None:
    """A HEARTBEAT every 4 s (interval 5): live all along, no reconnect, never a probe."""
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        for _ in range(rounds):
            await trio.sleep(4)
            fs.emit_heartbeat()
        assert rt.health().live and rt.health().generation == 1
        assert not any(c.to_bytes() == b"api status\n\n" for _, c in fs.commands)  # type: ignore[union-attr]


# -- backpressure and drain -----------------------------------------------------------------


async def test_backpressure_rejects_at_once_B_BP_1_2(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(backpressure=BackpressureConfig(max_inflight=2)) as rt:
        fs.hold_replies()
        results: list[object] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, results, rt.api("echo", "a"))
            nursery.start_soon(_collect, results, rt.api("echo", "b"))
            await fs.wait_command("api echo b")
            assert rt.health().overloaded
            count = len(fs.commands)
            with pytest.raises(BackpressureError, match="limit 2"):
                await rt.api("echo", "c")
            with pytest.raises(BackpressureError):
                await rt.bgapi("status")
            assert len(fs.commands) == count  # never queued, never written
            fs.release_replies()
        assert sorted(r.text for r in results) == ["a", "b"]  # type: ignore[attr-defined]
        assert not rt.health().overloaded


async def test_drain_lets_work_settle_then_cuts_at_the_deadline_B_DRAIN_1_3(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    fs.auto_complete_jobs = False
    results: list[object] = []
    async with trio.open_nursery() as nursery:
        async with open_runtime(backpressure=BackpressureConfig(drain_timeout=3)) as rt:
            job = await rt.bgapi("originate", "x")
            fs.reply_delay = 1.0
            nursery.start_soon(_collect, results, rt.api("echo", "settles"))
            nursery.start_soon(_collect, results, job.wait())
            await fs.wait_command("api echo settles")
            start = trio.current_time()
        # Left the block: the api settled within the deadline, the job was cut at 3 s.
        assert trio.current_time() - start == pytest.approx(3, abs=0.01)
    texts = [getattr(r, "text", None) for r in results]
    assert "settles" in texts
    assert any(isinstance(r, DrainError) for r in results)
    assert rt.state is RuntimeState.CLOSED
    assert fs.commands[-1][1].to_bytes() == b"exit\n\n"  # type: ignore[union-attr]


async def test_new_work_during_drain_is_refused_and_no_reconnect_follows_B_DRAIN_4(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        fs.hold_replies()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, [], rt.api("echo", "held"))
            await fs.wait_command("api echo held")
            nursery.start_soon(rt.aclose)
            await rt.wait_state(RuntimeState.DRAINING)
            with pytest.raises(DrainError):
                await rt.api("status")
            await fs.drop_all()  # the socket dies during the drain (B-DRAIN-5)
    assert rt.state is RuntimeState.CLOSED
    await trio.sleep(60)
    assert len(fs.all_connections) == 1


async def test_loss_during_drain_never_reconnects_B_DRAIN_5(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    fs.auto_complete_jobs = False
    async with open_runtime(backpressure=BackpressureConfig(drain_timeout=10)) as rt:
        job = await rt.bgapi("originate", "x")  # pending: the drain waits for it
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.aclose)
            await rt.wait_state(RuntimeState.DRAINING)
            await fs.drop_all()
            await trio.sleep(5)
            assert rt.state is RuntimeState.DRAINING  # not RECONNECTING, not READY
            assert len(fs.all_connections) == 1
        with pytest.raises(DrainError):
            await job.wait()
    assert rt.state is RuntimeState.CLOSED
    assert len(fs.all_connections) == 1


async def test_bgapi_counts_once_against_max_inflight_B_BP_1(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(backpressure=BackpressureConfig(max_inflight=1)) as rt:
        job = await rt.bgapi("status")  # refused before the fix: counted twice
        assert (await job.wait()).job_uuid == job.job_uuid


async def test_cut_inside_the_greeting_on_reconnect_is_retried(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    cut: list[int] = []

    async def cutting() -> trio.abc.Stream:
        stream = await fs.connect()
        if len(fs.all_connections) == 2 and not cut:
            cut.append(1)
            fs.all_connections[-1].cut_next_frame(5)  # "Conte" of the greeting, then EOF
        return stream

    async with open_esl_runtime(base_config(), connector=cutting) as rt:
        await fs.drop_all()
        await reconnected(rt, 3)
    assert cut == [1]


async def test_heartbeat_liveness_survives_user_filters(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    config = base_config(
        heartbeat=HeartbeatConfig(interval=5, subscribe_heartbeat=True),
        subscriptions=SubscriptionConfig(filters=[("Unique-ID", "some-call")]),
    )
    await assert_heartbeats_keep_it_live(fs, config, rounds=6)


async def test_a_trickled_frame_does_not_count_as_liveness_B_EVS_11(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    """Bytes that never complete a frame are not activity: slowloris ends in a reconnect."""
    config = base_config(
        heartbeat=HeartbeatConfig(interval=5),
        subscriptions=SubscriptionConfig(events=["CHANNEL_CREATE"]),
    )
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        fs.trickle = True
        fs.trickle_delay = 0.05  # ~2 500-byte event: ~2 minutes to arrive
        start = trio.current_time()
        fs.emit("CHANNEL_CREATE", {"Unique-ID": "slow", "Padding": "x" * 2000})
        await rt.wait_state(RuntimeState.RECONNECTING)
        assert trio.current_time() - start < 15  # two liveness windows, not two minutes
        # The second window and the probe's own deadline expire together: either ends it.
        reason = rt.health().last_disconnect.message  # type: ignore[union-attr]
        assert reason in {"liveness window expired", "api status: no answer within 5 s"}
        fs.trickle = False
        await reconnected(rt, 2)
