"""Concurrent subscription changes never lose state (issue 9 item 1).

Desired state, what the fake FreeSWITCH has on the socket, and what a reconnect restores must
be the same, whatever the interleaving of callers, replies and cancellations.
"""

from __future__ import annotations

from collections import Counter

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_trio import EslRuntime, RuntimeState
from esl_trio._event_names import EVENT_NAMES
from esl_trio._subscriptions import SubscriptionState
from esl_trio.testing import FakeConnection, FakeFreeSwitch, open_fake_freeswitch
from tests.runtime.conftest import OpenRuntime, base_config

NAMES = ("CHANNEL_ANSWER", "CHANNEL_HANGUP", "DTMF", "HEARTBEAT")
FILTERS = (("Unique-ID", "a"), ("Unique-ID", "b"), ("Event-Name", "CHANNEL_ANSWER"))


def expected_names(state: SubscriptionState) -> frozenset[str]:
    """What the fake reports for ``state`` (it mirrors mod_event_socket's bookkeeping)."""
    if state.all and not state.excluded:
        return frozenset({"ALL"})
    if state.all:  # nixevent while on ALL: every type but the excluded ones
        return frozenset(EVENT_NAMES) - set(state.excluded)
    return frozenset((*state.internal, *state.names))


def assert_reconciled(state: SubscriptionState, conn: FakeConnection) -> None:
    assert conn.subscriptions == expected_names(state), (state, conn.subscriptions)
    assert Counter(conn.filters) == Counter(state.wire_filters()), (state, conn.filters)


async def check_everywhere(rt: EslRuntime, fs: FakeFreeSwitch) -> None:
    """Desired == wire now, and == wire after a reconnect."""
    state = rt.subscriptions.state
    assert_reconciled(state, fs.connections[-1])
    count = len(fs.all_connections)
    await fs.drop_all()
    with trio.fail_after(60):
        await fs.wait_authenticated(count + 1)
        await rt.wait_state(RuntimeState.RECONNECTING, RuntimeState.READY)
        await rt.wait_state(RuntimeState.READY)
    assert rt.subscriptions.state == state
    assert_reconciled(state, fs.connections[-1])


# -- the three reported losses, deterministically ---------------------------------------


async def test_issue9_item1_two_concurrent_subscribes_keep_both_names(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    fs.reply_delay = 0.1
    async with open_runtime() as rt:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.subscriptions.subscribe, "CHANNEL_ANSWER")
            nursery.start_soon(rt.subscriptions.subscribe, "CHANNEL_HANGUP")
        assert set(rt.subscriptions.state.names) == {"CHANNEL_ANSWER", "CHANNEL_HANGUP"}
        await check_everywhere(rt, fs)


async def test_issue9_item1_two_concurrent_add_filters_keep_both(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    fs.reply_delay = 0.1
    async with open_runtime() as rt:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.subscriptions.add_filter, "Unique-ID", "a")
            nursery.start_soon(rt.subscriptions.add_filter, "Unique-ID", "b")
        assert set(rt.subscriptions.state.filters) == {("Unique-ID", "a"), ("Unique-ID", "b")}
        await check_everywhere(rt, fs)


async def test_issue9_item1_removing_the_last_two_filters_concurrently_leaves_none(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    fs.reply_delay = 0.1
    async with open_runtime() as rt:
        await rt.subscriptions.subscribe("CHANNEL_ANSWER")
        await rt.subscriptions.add_filter("Unique-ID", "a")
        await rt.subscriptions.add_filter("Unique-ID", "b")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.subscriptions.remove_filter, "Unique-ID", "a")
            nursery.start_soon(rt.subscriptions.remove_filter, "Unique-ID", "b")
        assert rt.subscriptions.state.filters == ()
        assert fs.connections[-1].filters == ()  # not the job filter alone: events flow
        await check_everywhere(rt, fs)


# -- the property ------------------------------------------------------------------------

ops = st.one_of(
    st.tuples(st.sampled_from(["subscribe", "unsubscribe"]), st.sampled_from(NAMES)),
    st.tuples(st.sampled_from(["add_filter", "remove_filter"]), st.sampled_from(FILTERS)),
    st.tuples(st.just("subscribe_all"), st.none()),
)
# (operation, delay before starting it, cancel it after this long or never)
plans = st.lists(
    st.tuples(ops, st.floats(0, 0.2), st.none() | st.floats(0.01, 0.3)),
    min_size=1,
    max_size=12,
)


async def mutate(rt: EslRuntime, op: tuple[str, object], cancel_after: float | None) -> None:
    kind, arg = op
    subs = rt.subscriptions
    with trio.move_on_after(cancel_after if cancel_after is not None else 1e9):
        if kind == "subscribe":
            await subs.subscribe(str(arg))
        elif kind == "unsubscribe":
            await subs.unsubscribe(str(arg))
        elif kind == "add_filter":
            await subs.add_filter(*arg)  # type: ignore[misc]
        elif kind == "remove_filter":
            await subs.remove_filter(*arg)  # type: ignore[misc]
        else:
            await subs.subscribe_all()


async def scenario(plan: list[tuple[tuple[str, object], float, float | None]]) -> None:
    async with open_fake_freeswitch() as fs:
        fs.reply_delay = 0.05
        async with open_esl_runtime_for(fs) as rt:
            async with trio.open_nursery() as nursery:
                for op, delay, cancel_after in plan:
                    await trio.sleep(delay)
                    nursery.start_soon(mutate, rt, op, cancel_after)
            await check_everywhere(rt, fs)


def open_esl_runtime_for(fs: FakeFreeSwitch):  # type: ignore[no-untyped-def]
    from esl_trio import open_esl_runtime

    return open_esl_runtime(base_config(), connector=fs.connector)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans)
def test_issue9_item1_random_concurrent_mutations_keep_desired_wire_and_restore_equal(
    plan: list[tuple[tuple[str, object], float, float | None]],
) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(scenario, plan, clock=clock)
