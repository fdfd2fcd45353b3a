"""``rt.logs`` receivers: cleanup that survives cancellation (issue 8 item 5), their end
(issue 8 item 3) and the private router (issue 8 item 11). B-CMD-5."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from esl_trio import EslRuntime, GapReason, NotReadyError, RuntimeState, StreamGap
from esl_trio._logs import LogRouter, LogStream
from esl_trio.protocol import Command, LogLine
from esl_trio.testing import FakeFreeSwitch
from tests.runtime.conftest import OpenRuntime


async def open_and_get_cancelled(rt: EslRuntime, fs: FakeFreeSwitch, level: int) -> None:
    with trio.CancelScope() as scope:
        async with rt.logs.receiver(level=level):
            await fs.wait_command(f"log {level}")
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught


async def test_issue8_item5_cancelled_log_receiver_sends_nolog(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    await open_and_get_cancelled(rt, fs, 7)
    with trio.fail_after(1):  # sent during the cleanup, so it is there already
        await fs.wait_command("nolog")
    assert fs.connection(1).log_level is None
    fs.emit_log("nobody listens", level=1)
    assert fs.connection(1).logs_lost == 0  # the server does not even queue log lines now


async def test_issue8_item5_cancelled_verbose_receiver_lowers_the_level(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    async with rt.logs.receiver(level=3) as quiet:
        await fs.wait_command("log 3")
        await open_and_get_cancelled(rt, fs, 7)
        with trio.fail_after(1):
            await fs.wait_command("log 3", count=2)
        assert fs.connection(1).log_level == 3
        fs.emit_log("still wanted", level=3)
        line = await quiet.receive()
        assert isinstance(line, LogLine) and "still wanted" in line.text
    assert fs.connection(1).log_level is None


async def test_issue8_item5_cleanup_is_bounded_by_the_command_timeout(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    limit = rt.config.timeouts.command
    with trio.CancelScope() as scope:
        async with rt.logs.receiver(level=7):
            await fs.wait_command("log 7")
            fs.hold_replies()  # the nolog will never be answered
            scope.cancel()
            started = trio.current_time()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() - started <= limit + 0.001
    assert trio.current_time() - started > 0  # it did wait for the reply, not give up at once


async def test_issue8_item5_cleanup_without_a_connection_is_quiet(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        async with rt.logs.receiver(level=5):
            await fs.wait_command("log 5")
            fs.reject_auth_next(100)  # keep the runtime from reconnecting for a while
            await fs.drop_all()
            with trio.fail_after(5):
                await rt.wait_state(RuntimeState.RECONNECTING, RuntimeState.FAILED)
        # Left while not READY: no error, and the next connection starts without logs.
        assert rt.logs.statistics() == ()


class FakeSend:
    """``send`` for a bare router: records commands, can fail or stall."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail: BaseException | None = None
        self.stall = False

    async def __call__(self, command: Command) -> object:
        self.sent.append(command.describe())
        if self.stall:
            await trio.sleep_forever()
        if self.fail is not None:
            raise self.fail
        await trio.lowlevel.checkpoint()
        return None


async def test_issue8_item5_a_stalled_cleanup_leaves_the_level_unknown_and_it_is_resent(
    autojump_clock: trio.abc.Clock,
) -> None:
    send = FakeSend()
    router = LogRouter(send, command_timeout=2)
    stream = LogStream(router)
    async with stream.receiver(level=6):
        send.stall = True
    assert trio.current_time() == 2  # bounded
    send.stall = False
    async with stream.receiver(level=6):
        pass
    assert send.sent == ["log 6", "nolog", "log 6", "nolog"]


async def test_issue8_item5_not_ready_on_cleanup_means_no_logs_on_the_next_connection() -> None:
    send = FakeSend()
    router = LogRouter(send, command_timeout=2)
    async with LogStream(router).receiver(level=4):
        send.fail = NotReadyError("reconnecting")
    assert router.restore_commands() == []  # nothing to restore: nobody wants logs
    send.fail = None
    async with LogStream(router).receiver(level=4):
        assert router.restore_commands()[0].describe() == "log 4"


async def test_issue8_item3_log_receivers_end_with_the_runtime_error() -> None:
    router = LogRouter(FakeSend(), command_timeout=2)
    error = NotReadyError("the runtime stopped for good")
    async with LogStream(router).receiver(level=7) as lines:
        router.mark_gap(2)
        router.close_all(error)
        assert lines.receive_nowait() == StreamGap(GapReason.RECONNECT, 0, 2)
        with pytest.raises(NotReadyError):
            await lines.receive()
    async with LogStream(router).receiver(level=7) as late:  # opened after the end
        with pytest.raises(NotReadyError):
            late.receive_nowait()
    assert router.dropped_total() == 0


async def test_issue8_item4_log_gap_is_flushed_on_ready() -> None:
    router = LogRouter(FakeSend(), command_timeout=2)
    async with LogStream(router).receiver(level=7) as lines:
        router.mark_gap(3)
        with pytest.raises(trio.WouldBlock):
            lines.receive_nowait()
        router.flush_gaps()
        assert lines.receive_nowait() == StreamGap(GapReason.RECONNECT, 0, 3)
        assert [s.name for s in router.statistics()] == ["log<=7"]
