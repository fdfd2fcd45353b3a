"""Shutdown and cancellation races a review of the task-tree rebuild found (issue 10).

Each test failed before its fix: the runtime hung (1, 2, 3), crashed the user's block with a
background error (4), or raised LifecycleError (5). All on the autojump clock, each bounded by
``trio.fail_after`` so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import trio
import trio.testing

from esl_trio import ConnectError, DrainError, RuntimeConfig, RuntimeState, open_esl_runtime
from esl_trio.config import RetryPolicy
from esl_trio.health import ReconnectPhase
from esl_trio.testing import FakeFreeSwitch

UUID = "11111111-2222-3333-4444-555555555555"
QUICK_RETRY = RetryPolicy(initial_delay=0.1, max_delay=0.1)


async def test_a_cancelled_aclose_still_finishes_the_shutdown(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    async def forever(args: str) -> str:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    fs.api_handlers["slow"] = forever
    outcome: list[str] = []

    async def call(rt: object) -> None:
        try:
            await rt.api("slow")  # type: ignore[attr-defined]
        except DrainError as exc:
            outcome.append(type(exc).__name__)

    with trio.fail_after(60):
        async with (
            open_esl_runtime(RuntimeConfig(host="x"), connector=fs.connector) as rt,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(call, rt)
            await trio.sleep(0.1)
            with trio.move_on_after(1):
                await rt.aclose()  # the shutdown, once begun, completes regardless
        assert rt.state is RuntimeState.CLOSED
    assert outcome == ["DrainCutError"]


async def test_a_shutdown_during_restore_with_a_peer_not_reading_does_not_hang(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    async def stuck_server(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"Content-Type: auth/request\n\n")
        data = b""
        while b"\n\n" not in data:
            data += await stream.receive_some(4096)
        await stream.send_all(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        await trio.sleep_forever()  # stops reading: the restore write blocks

    async with trio.open_nursery() as servers:
        count = 0

        async def connector() -> trio.abc.Stream:
            nonlocal count
            count += 1
            if count == 1:
                return await fs.connect()
            client, server = trio.testing.lockstep_stream_pair()
            servers.start_soon(stuck_server, server)
            return client

        config = RuntimeConfig(host="x", retry=QUICK_RETRY)
        with trio.fail_after(60):
            async with open_esl_runtime(config, connector=connector) as rt:
                changes = rt.state_changes()
                await fs.drop_all()
                async for change in changes:
                    if getattr(change, "phase", None) is ReconnectPhase.RESTORING:
                        break
                await trio.sleep(0.01)  # the writer is now stuck in its shielded write
        assert rt.state is RuntimeState.CLOSED
        servers.cancel_scope.cancel()


async def test_a_deadline_around_entering_works_with_retry_first_connect(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def refused() -> trio.abc.Stream:
        await trio.sleep(0.01)
        raise ConnectionRefusedError(111, "refused")

    config = RuntimeConfig(
        host="x", retry=RetryPolicy(retry_first_connect=True, initial_delay=1, max_delay=1)
    )
    with trio.fail_after(60):
        with trio.move_on_after(5) as scope:
            async with open_esl_runtime(config, connector=refused):
                raise AssertionError("the switch is down: the block must not be entered")
    assert scope.cancelled_caught
    assert trio.current_time() == 5


async def test_a_background_resync_error_never_crashes_the_block(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    fs.channels.add(UUID)
    fs.api_handlers["uuid_dump"] = lambda args: f"Unique-ID: {UUID}\nChannel-State: CS_EXECUTE\n"
    config = RuntimeConfig(host="x", retry=QUICK_RETRY)
    with trio.fail_after(600):
        async with (
            open_esl_runtime(config, connector=fs.connector) as rt,
            rt.attach(UUID),
        ):

            async def forever(args: str) -> str:
                await trio.sleep_forever()
                raise AssertionError("unreachable")

            fs.api_handlers["uuid_exists"] = forever  # the resync's question times out
            await fs.drop_all()
            await rt.wait_state(RuntimeState.RECONNECTING)
            await rt.wait_state(RuntimeState.READY)
            await trio.sleep(100)  # the api timeout (30 s) passes: a recycle, not a crash
            assert rt.state in (RuntimeState.READY, RuntimeState.RECONNECTING)


async def test_a_connect_failing_during_the_shutdown_is_no_lifecycle_error(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    gate, second_attempt = trio.Event(), trio.Event()
    count = 0

    async def connector() -> trio.abc.Stream:
        nonlocal count
        count += 1
        if count == 1:
            return await fs.connect()
        second_attempt.set()
        await gate.wait()
        raise ConnectError("refused")

    config = RuntimeConfig(host="x", retry=QUICK_RETRY)
    with trio.fail_after(60):
        async with open_esl_runtime(config, connector=connector) as rt:
            await fs.drop_all()
            await second_attempt.wait()
            gate.set()  # the connect fails in the same tick as the shutdown stops supervision
            await rt.aclose()
    assert rt.state is RuntimeState.CLOSED
