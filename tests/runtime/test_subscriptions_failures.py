"""A change of several commands that fails half-way leaves desired state and the wire
reconciled (issue 8 item 5): -ERR (undone), cancellation (finished), lost connection (the
restore reconciles)."""

from __future__ import annotations

import pytest
import trio

from esl_trio import (
    BackpressureError,
    CommandError,
    ConnectionLostError,
    EslError,
    RuntimeState,
)
from esl_trio._subscriptions import Subscriptions, SubscriptionState
from esl_trio.protocol import Command, FilterAdd, FilterDelete
from esl_trio.testing import FakeFreeSwitch
from tests.runtime.conftest import OpenRuntime
from tests.runtime.test_subscriptions_concurrency import assert_reconciled, check_everywhere


class ScriptedWire:
    """An ``Apply`` over a model of the socket's filters that fails one chosen command."""

    def __init__(self, fail_at: int, error: EslError) -> None:
        self.filters: list[tuple[str, str]] = []
        self.sent: list[str] = []
        self.fail_at = fail_at
        self.error = error

    async def __call__(self, commands: list[Command], kind: str, detail: object) -> None:
        while commands:
            await trio.lowlevel.checkpoint()
            command = commands[0]
            self.sent.append(command.describe())
            if len(self.sent) == self.fail_at:
                raise self.error
            if isinstance(command, FilterAdd):
                self.filters.append((command.header, command.value))
            elif isinstance(command, FilterDelete):
                self.filters.remove((command.header, command.value or ""))
            del commands[0]


ERRORS = [
    pytest.param(CommandError("filter", "-ERR invalid"), id="err"),
    pytest.param(BackpressureError("1 commands and jobs in flight (limit 1)"), id="refused"),
]


@pytest.mark.parametrize("error", ERRORS)
async def test_issue8_item5_first_filter_failing_half_way_is_undone(error: EslError) -> None:
    # Adding the first user filter is two commands: the job filter, then the user's.
    wire = ScriptedWire(fail_at=2, error=error)
    subs = Subscriptions(SubscriptionState(), wire)
    with pytest.raises(type(error)):
        await subs.add_filter("Unique-ID", "a")
    assert subs.state.filters == ()
    assert wire.filters == list(subs.state.wire_filters()) == []  # job filter taken back
    assert wire.sent[-1].startswith("filter delete Event-Name")


@pytest.mark.parametrize("error", ERRORS)
async def test_issue8_item5_last_filter_removal_failing_half_way_is_undone(
    error: EslError,
) -> None:
    wire = ScriptedWire(fail_at=10**9, error=error)
    subs = Subscriptions(SubscriptionState(), wire)
    await subs.add_filter("Unique-ID", "a")
    wire.fail_at = len(wire.sent) + 2  # the removal: user filter, then the job filter
    with pytest.raises(type(error)):
        await subs.remove_filter("Unique-ID", "a")
    assert subs.state.filters == (("Unique-ID", "a"),)
    assert wire.filters == list(subs.state.wire_filters())


async def test_issue8_item5_a_failing_undo_is_noted_on_the_error() -> None:
    wire = ScriptedWire(fail_at=2, error=CommandError("filter", "-ERR invalid"))
    subs = Subscriptions(SubscriptionState(), wire)
    original = wire.__call__

    async def apply(commands: list[Command], kind: str, detail: object) -> None:
        if "undo" in detail:  # type: ignore[operator]
            raise ConnectionLostError("connection lost", written=False)
        await original(commands, kind, detail)

    subs._apply = apply
    with pytest.raises(CommandError) as caught:
        await subs.add_filter("Unique-ID", "a")
    assert any("undoing" in note for note in caught.value.__notes__)
    assert subs.state.filters == ()


async def test_issue8_item5_cancelled_half_way_the_change_finishes(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        await rt.subscriptions.subscribe("CHANNEL_ANSWER")
        fs.reply_delay = 1.0
        start = trio.current_time()
        with trio.move_on_after(0.5) as scope:  # during the first of the two replies
            await rt.subscriptions.add_filter("Unique-ID", "a")
        # The change finished, shielded, so it returns normally: in trio a Cancelled means
        # "it did not happen", which would be false here.
        assert scope.cancel_called and not scope.cancelled_caught
        assert trio.current_time() - start == pytest.approx(2.0)  # both replies awaited
        fs.reply_delay = 0.0
        assert rt.subscriptions.state.filters == (("Unique-ID", "a"),)
        assert_reconciled(rt.subscriptions.state, fs.connections[-1])
        await check_everywhere(rt, fs)


@pytest.mark.parametrize("before_reply", [True, False])
async def test_issue8_item5_connection_lost_half_way_is_reconciled_by_the_restore(
    autojump_clock: trio.abc.Clock,
    fs: FakeFreeSwitch,
    open_runtime: OpenRuntime,
    before_reply: bool,
) -> None:
    async with open_runtime() as rt:
        await rt.subscriptions.subscribe("CHANNEL_ANSWER")
        fs.drop_on("filter Unique-ID", before_reply=before_reply)
        try:
            await rt.subscriptions.add_filter("Unique-ID", "a")
        except ConnectionLostError:
            assert before_reply  # lost before the +OK: the change did not happen
            assert rt.subscriptions.state.filters == ()
        else:
            assert rt.subscriptions.state.filters == (("Unique-ID", "a"),)
        await fs.wait_authenticated(2)
        await rt.wait_state(RuntimeState.READY)
        await check_everywhere(rt, fs)
