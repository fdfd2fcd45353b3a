"""The runtime against the fake FreeSWITCH: connect, api, bgapi, events, shutdown.

Behaviour ids: B-CONN-*, B-API-*, B-BG-*, B-EVS-*, B-DRAIN-*.
"""

from __future__ import annotations

import pytest
import trio

from esl_trio import (
    AuthenticationError,
    CommandError,
    CommandTimeoutError,
    ConnectError,
    ConnectionLostError,
    EslRuntime,
    NotReadyError,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import RetryPolicy, Timeouts
from esl_trio.errors import HandshakeError
from esl_trio.protocol import (
    Api,
    ApiReply,
    Auth,
    BackgroundJobEvent,
    BgApi,
    Event,
    EventSubscribe,
    Exit,
)
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch
from tests.runtime.conftest import OpenRuntime, base_config, drained_names


def lines(fs: FakeFreeSwitch) -> list[bytes]:
    return [command.to_bytes().split(b"\n")[0] for _, command in fs.commands]  # type: ignore[union-attr]


# -- connect, authenticate, restore, close --------------------------------------------


async def test_connects_authenticates_and_restores_B_CONN_4_B_CONN_5(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    assert rt.state is RuntimeState.READY
    assert lines(fs) == [b"auth ClueCon", b"event json BACKGROUND_JOB"]
    health = rt.health()
    assert health.live and health.generation == 1 and health.state is RuntimeState.READY


async def test_leaving_the_block_sends_exit_and_closes_B_DRAIN_2(fs: FakeFreeSwitch) -> None:
    async with open_esl_runtime(base_config(), connector=fs.connector) as rt:
        await rt.api("status")
    assert isinstance(fs.commands[-1][1], Exit)
    assert rt.state is RuntimeState.CLOSED
    (conn,) = fs.all_connections
    with trio.fail_after(1):
        await conn.wait_closed()
    with pytest.raises(NotReadyError):
        await rt.api("status")  # B-DRAIN-7: closed means not ready, nothing written


async def test_auth_rejection_is_terminal_B_CONN_6(fs: FakeFreeSwitch) -> None:
    fs.password = "other"
    with pytest.raises(AuthenticationError, match="invalid") as caught:
        async with open_esl_runtime(base_config(), connector=fs.connector):
            pytest.fail("must not enter the block")
    assert caught.value.reason == "invalid"
    assert [type(c) for _, c in fs.commands] == [Auth]  # nothing sent after the -ERR


async def test_rude_rejection_is_a_handshake_error_B_WIRE_3(fs: FakeFreeSwitch) -> None:
    fs.rude_reject_next()
    with pytest.raises(HandshakeError, match="Access Denied"):
        async with open_esl_runtime(base_config(), connector=fs.connector):
            pytest.fail("must not enter the block")
    assert fs.commands == []  # never sent credentials


async def test_connect_failure_is_a_connect_error(fs: FakeFreeSwitch) -> None:
    fs.refuse_connections = True
    with pytest.raises(ConnectError):
        async with open_esl_runtime(base_config(), connector=fs.connector):
            pytest.fail("must not enter the block")


async def test_silent_server_hits_the_handshake_deadline_B_CONN_7(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fs.silence()
    start = trio.current_time()
    with pytest.raises(CommandTimeoutError, match="handshake"):
        async with open_esl_runtime(
            base_config(timeouts=Timeouts(handshake=3.0)), connector=fs.connector
        ):
            pytest.fail("must not enter the block")
    assert trio.current_time() - start == pytest.approx(3.0)


async def test_first_connect_can_be_retried(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fs.refuse_connections = True

    async def heal() -> None:
        await trio.sleep(1.2)
        fs.refuse_connections = False

    async with trio.open_nursery() as nursery:
        nursery.start_soon(heal)
        retry = RetryPolicy(initial_delay=0.5, max_delay=4, retry_first_connect=True)
        async with open_esl_runtime(base_config(retry=retry), connector=fs.connector) as rt:
            assert rt.state is RuntimeState.READY
            assert trio.current_time() == pytest.approx(1.5)  # 0.5 + 1.0 backoff


async def test_real_tcp_smoke(fs: FakeFreeSwitch) -> None:
    port = await fs.serve_tcp()
    config = base_config(host="127.0.0.1", port=port)
    async with open_esl_runtime(config) as rt:
        reply = await rt.api("status")
        assert b"UP" in reply.body
        job = await rt.bgapi("status")
        assert (await job.wait()).result.startswith("UP")


async def test_user_exceptions_come_out_unwrapped(fs: FakeFreeSwitch) -> None:
    with pytest.raises(KeyError, match="mine"):
        async with open_esl_runtime(base_config(), connector=fs.connector):
            raise KeyError("mine")


# -- api ---------------------------------------------------------------------------------


async def test_api_returns_output_verbatim_B_APIW_1_B_APIW_2(rt: EslRuntime) -> None:
    status = await rt.api("status")
    assert isinstance(status, ApiReply) and status.text.startswith("UP ")
    missing = await rt.api("nosuchcommand")
    assert missing.body == b"-ERR nosuchcommand Command not found\n" or missing.is_error


async def test_concurrent_api_calls_get_their_own_replies_B_API_2(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    results: dict[int, str] = {}

    async def call(i: int) -> None:
        results[i] = (await rt.api("echo", f"n{i}")).text

    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(call, i)
    assert results == {i: f"n{i}" for i in range(50)}


async def test_cancelled_before_write_is_never_sent(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    with trio.CancelScope() as scope:
        scope.cancel()
        await rt.api("echo", "ghost")
    assert not any(isinstance(c, Api) and c.args == "ghost" for _, c in fs.commands)
    assert (await rt.api("echo", "next")).text == "next"


async def test_cancelled_after_write_leaves_a_tombstone(
    fs: FakeFreeSwitch, rt: EslRuntime, autojump_clock: trio.abc.Clock
) -> None:
    fs.hold_replies()
    with trio.move_on_after(1):
        await rt.api("echo", "abandoned")
    await fs.wait_command("api echo abandoned")
    fs.release_replies()
    # The abandoned reply is read and dropped: the next caller gets its own.
    assert (await rt.api("echo", "mine")).text == "mine"
    assert rt.health().generation == 1


async def test_api_timeout_fails_closed_and_recycles_B_API_7(
    fs: FakeFreeSwitch, open_runtime: OpenRuntime, autojump_clock: trio.abc.Clock
) -> None:
    async with open_runtime(timeouts=Timeouts(api=5.0)) as rt:
        fs.hold_replies()
        other: list[BaseException] = []

        async def bystander() -> None:
            await trio.sleep(1)
            try:
                await rt.api("echo", "bystander")
            except ConnectionLostError as exc:
                other.append(exc)

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bystander)
            with pytest.raises(CommandTimeoutError):
                await rt.api("status")
        assert trio.current_time() - start == pytest.approx(5.0)
        assert len(other) == 1 and other[0].written  # type: ignore[attr-defined]
        fs.release_replies()
        await rt.wait_state(RuntimeState.READY)
        assert rt.health().generation == 2
        assert (await rt.api("echo", "after")).text == "after"


async def test_work_is_refused_while_not_ready_B_CONN_12(
    fs: FakeFreeSwitch, open_runtime: OpenRuntime, autojump_clock: trio.abc.Clock
) -> None:
    async with open_runtime(retry=RetryPolicy(initial_delay=10, max_delay=10)) as rt:
        await fs.drop_all()
        await rt.wait_state(RuntimeState.RECONNECTING)
        count = len(fs.commands)
        with pytest.raises(NotReadyError, match="reconnecting"):
            await rt.api("status")
        with pytest.raises(NotReadyError):
            await rt.bgapi("status")
        assert len(fs.commands) == count  # nothing written anywhere


async def test_permission_denied_api_raises_command_error_B_AUTH_6() -> None:
    from esl_trio.testing import UserCredentials

    users = {"1000@default": UserCredentials("pw", allowed_api=("status",))}
    async with open_fake_freeswitch(users=users) as fs:
        config = base_config(user="1000@default", password="pw")
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            assert (await rt.api("status")).text.startswith("UP")
            with pytest.raises(CommandError, match="permission denied"):
                await rt.api("originate", "loopback/1 &park")


async def test_validation_happens_before_anything_is_written_G_14(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    count = len(fs.commands)
    with pytest.raises(ValueError, match="line"):
        await rt.api("status\n\nexit")
    with pytest.raises(ValueError):
        await rt.api("show\tchannels")  # whitespace in the command token
    with pytest.raises(ValueError):
        await rt.bgapi("originate", "a\r\nb")
    assert len(fs.commands) == count


# -- bgapi -------------------------------------------------------------------------------


async def test_bgapi_job_completes_with_the_client_chosen_uuid_B_BGW_3(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    job = await rt.bgapi("status")
    sent = await fs.wait_command(BgApi)
    assert sent.job_uuid == job.job_uuid
    done = await job.wait()
    assert isinstance(done, BackgroundJobEvent)
    assert done.job_uuid == job.job_uuid and done.result.startswith("UP")
    assert rt.health().pending_jobs == 0


async def test_out_of_order_completions_B_BG_6(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    fs.auto_complete_jobs = False
    first = await rt.bgapi("echo", "one")
    second = await rt.bgapi("echo", "two")
    fs.complete_job(second.job_uuid)
    assert (await second.wait()).result == "two"
    assert not first.done
    fs.complete_job(first.job_uuid)
    assert (await first.wait()).result == "one"


async def test_completion_deadline_and_late_completion_B_BG_7(
    fs: FakeFreeSwitch, open_runtime: OpenRuntime, autojump_clock: trio.abc.Clock
) -> None:
    fs.auto_complete_jobs = False
    async with open_runtime(timeouts=Timeouts(bgapi_completion=30)) as rt:
        job = await rt.bgapi("status")
        start = trio.current_time()
        with pytest.raises(CommandTimeoutError, match="completion"):
            await job.wait()
        assert trio.current_time() - start == pytest.approx(30)
        fs.complete_job(job.job_uuid)  # late: ignored, no error anywhere
        assert (await rt.api("echo", "still fine")).text == "still fine"
        assert rt.health().jobs_timed_out == 1


async def test_bgapi_acceptance_error_raises_command_error_B_BG_4() -> None:
    from esl_trio.testing import UserCredentials

    users = {"1000@default": UserCredentials("pw", allowed_api=("status",))}
    async with open_fake_freeswitch(users=users) as fs:
        config = base_config(user="1000@default", password="pw")
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            with pytest.raises(CommandError, match="permission denied"):
                await rt.bgapi("originate", "x")
            assert rt.health().pending_jobs == 0


async def test_jobs_reach_us_past_user_filters_G_2(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    await rt.subscriptions.add_filter("Unique-ID", "some-call")
    job = await rt.bgapi("status")
    assert (await job.wait()).job_uuid == job.job_uuid


# -- events ------------------------------------------------------------------------------


async def test_events_in_socket_order_with_envelopes_B_EVS_1(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    await rt.subscriptions.subscribe("CHANNEL_CREATE", "CHANNEL_ANSWER")
    async with rt.events.receiver("CHANNEL_CREATE", "channel_answer") as events:
        for i in range(20):
            fs.emit("CHANNEL_CREATE" if i % 2 else "CHANNEL_ANSWER", {"Unique-ID": f"u{i}"})
        got = [await events.receive() for _ in range(20)]
    assert [e.unique_id for e in got if isinstance(e, Event)] == [f"u{i}" for i in range(20)]
    envelopes = [e.envelope for e in got if isinstance(e, Event)]
    assert all(env is not None and env.generation == 1 for env in envelopes)
    sequences = [env.sequence for env in envelopes if env is not None]
    assert sequences == sorted(sequences) and len(set(sequences)) == 20


async def test_receivers_match_names_subclasses_and_all_B_EVN_2(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    await rt.subscriptions.subscribe_all()
    async with (
        rt.events.receiver("HEARTBEAT") as beats,
        rt.events.receiver(subclasses=["sofia::register"]) as registers,
        rt.events.receiver() as everything,
    ):
        fs.emit("CUSTOM", {"X": "1"}, subclass="sofia::register")
        fs.emit_heartbeat()
        fs.emit("CUSTOM", {"X": "2"}, subclass="other::thing")
        await rt.api("status")  # a round trip: every event above has been read
        assert drained_names(beats) == ["HEARTBEAT"]
        assert drained_names(registers) == ["CUSTOM"]
        assert drained_names(everything)[:3] == ["CUSTOM", "HEARTBEAT", "CUSTOM"]


async def test_slow_consumer_loses_its_own_events_never_the_socket_B_LIM_2(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    await rt.subscriptions.subscribe("CHANNEL_CREATE")
    async with rt.events.receiver("CHANNEL_CREATE", max_buffer=5) as slow:
        for i in range(50):
            fs.emit("CHANNEL_CREATE", {"Unique-ID": f"u{i}"})
        # Replies keep flowing although the receiver is full.
        assert (await rt.api("echo", "alive")).text == "alive"
        items = [slow.receive_nowait() for _ in range(5)]
        fs.emit("CHANNEL_CREATE", {"Unique-ID": "late"})
        await rt.api("status")
        gap = slow.receive_nowait()
        after = slow.receive_nowait()
    assert [e.unique_id for e in items if isinstance(e, Event)] == [f"u{i}" for i in range(5)]
    assert isinstance(gap, StreamGap) and gap.dropped == 45
    assert isinstance(after, Event) and after.unique_id == "late"
    stats = rt.health().receivers
    assert stats == ()  # closed receivers leave health


async def test_health_counts_receiver_drops(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    await rt.subscriptions.subscribe("CHANNEL_CREATE")
    async with rt.events.receiver("CHANNEL_CREATE", max_buffer=2):
        for _ in range(5):
            fs.emit("CHANNEL_CREATE")
        await rt.api("status")
        (stats,) = rt.health().receivers
        assert (stats.buffered, stats.dropped) == (2, 3)
        assert rt.health().events_dropped == 3


# -- the rest of the protocol --------------------------------------------------------------


async def test_sendevent_returns_the_event_uuid_and_fires_it_B_CMD_6(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    await rt.subscriptions.subscribe_custom("my::test")
    async with rt.events.receiver(subclasses=["my::test"]) as events:
        uuid = await rt.sendevent(
            "CUSTOM", {"Event-Subclass": "my::test", "X-Key": "v"}, body="hello"
        )
        event = await events.receive()
    assert isinstance(event, Event)
    assert event.get("Event-UUID") == uuid and event.body == b"hello"


async def test_sendmsg_to_a_channel_B_CMD_7(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    fs.channels.add("chan-1")
    assert (await rt.execute("chan-1", "playback", "tone_stream://%(100,0,440)")).ok
    assert (await rt.hangup("chan-1")).ok
    with pytest.raises(CommandError, match="invalid session id"):
        await rt.hangup("no-such-channel")


async def test_log_lines_stream_to_their_receiver_B_CMD_5(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    async with rt.logs.receiver(level=6) as lines_rx:
        await fs.wait_command("log 6")
        fs.emit_log("hello-from-the-log", level=6)
        fs.emit_log("too verbose", level=7)
        line = await lines_rx.receive()
    assert getattr(line, "text", "").strip().endswith("hello-from-the-log")
    await fs.wait_command("nolog")


async def test_command_escape_hatch(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    reply = await rt.command(EventSubscribe(names=("CHANNEL_PARK",)))
    assert reply.text == "+OK event listener enabled json"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="managed"):
        await rt.command(Exit())


async def test_userauth_rights_are_kept_B_AUTH_5() -> None:
    from esl_trio.testing import UserCredentials

    users = {
        "1000@default": UserCredentials(
            "pw", allowed_events=("CHANNEL_ANSWER", "BACKGROUND_JOB"), allowed_api=("status",)
        )
    }
    async with open_fake_freeswitch(users=users) as fs:
        config = base_config(user="1000@default", password="pw")
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            rights = rt.permissions
            assert rights is not None
            assert rights.api == frozenset({"status"})
            assert rights.events == frozenset({"CHANNEL_ANSWER", "BACKGROUND_JOB"})
        async with open_esl_runtime(base_config(), connector=fs.connector) as rt:
            assert rt.permissions is None  # plain auth: unrestricted


async def test_subscription_error_leaves_desired_state_unchanged_B_SUBS_7() -> None:
    from esl_trio.testing import UserCredentials

    allowed = ("CHANNEL_ANSWER", "BACKGROUND_JOB")
    users = {"1000@default": UserCredentials("pw", allowed_events=allowed)}
    async with open_fake_freeswitch(users=users) as fs:
        config = base_config(user="1000@default", password="pw")
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            before = rt.subscriptions.state
            with pytest.raises(CommandError, match="permission denied"):
                await rt.subscriptions.subscribe("CHANNEL_HANGUP")
            assert rt.subscriptions.state == before
            await rt.subscriptions.subscribe("CHANNEL_ANSWER")  # the next change still works
            assert rt.subscriptions.state.names == ("CHANNEL_ANSWER",)
            assert rt.state is RuntimeState.READY
