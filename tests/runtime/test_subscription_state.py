"""Desired subscription state and its commands (B-SUBS-*, B-SUBW-*, G-1, G-2)."""

from __future__ import annotations

from esl_trio._subscriptions import SubscriptionState, filter_commands, restore_commands
from esl_trio.config import SubscriptionConfig
from esl_trio.protocol import EventFormat


def wire(commands: list[object]) -> list[bytes]:
    return [c.to_bytes() for c in commands]  # type: ignore[attr-defined]


def test_restore_order_events_then_filters_B_SUBS_10() -> None:
    state = SubscriptionState.from_config(
        SubscriptionConfig(
            events=["channel_create", "CHANNEL_CREATE"],
            custom=["sofia::register"],
            filters=[("Unique-ID", "abc")],
            format=EventFormat.PLAIN,
        ),
        heartbeat=True,
    )
    assert wire(restore_commands(state)) == [
        b"event plain BACKGROUND_JOB HEARTBEAT CHANNEL_CREATE CUSTOM sofia::register\n\n",
        b"filter Event-Name BACKGROUND_JOB\n\n",
        b"filter Event-Name HEARTBEAT\n\n",  # liveness events survive user filters too
        b"filter Unique-ID abc\n\n",
    ]


def test_all_with_exclusions_restores_with_nixevent_B_SUBW_2() -> None:
    state = SubscriptionState(all=True, excluded=("HEARTBEAT",))
    assert wire(restore_commands(state)) == [b"event json ALL\n\n", b"nixevent HEARTBEAT\n\n"]


def test_job_filter_only_while_user_filters_exist_G_2() -> None:
    empty = SubscriptionState()
    one = SubscriptionState(filters=(("Unique-ID", "x"),))
    assert empty.wire_filters() == ()
    assert one.wire_filters() == (("Event-Name", "BACKGROUND_JOB"), ("Unique-ID", "x"))
    own = SubscriptionState(filters=(("Event-Name", "BACKGROUND_JOB"), ("Unique-ID", "x")))
    assert own.wire_filters() == own.filters


def test_filter_diffs_never_hide_job_completions() -> None:
    empty = SubscriptionState()
    one = SubscriptionState(filters=(("Unique-ID", "x"),))
    assert wire(filter_commands(empty, one)) == [
        b"filter Event-Name BACKGROUND_JOB\n\n",
        b"filter Unique-ID x\n\n",
    ]
    # Removing the last user filter: the user filter goes first, the job filter last.
    assert wire(filter_commands(one, empty)) == [
        b"filter delete Unique-ID x\n\n",
        b"filter delete Event-Name BACKGROUND_JOB\n\n",
    ]
