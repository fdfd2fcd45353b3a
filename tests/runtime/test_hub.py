"""Event routing to receivers (B-EVN-1/2), by call (Unique-ID), and ending them all."""

from __future__ import annotations

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from esl_trio import GapReason, NotReadyError, Overflow, StreamGap
from esl_trio._hub import EventHub
from esl_trio.protocol import Event, EventFormat, make_event
from esl_trio.protocol.server import encode_event
from tests.runtime.conftest import drained_names

DROP = Overflow.DROP_NEWEST


def event(name: str, subclass: str | None = None, unique_id: str | None = None) -> Event:
    headers = [("Event-Name", name)] + ([("Event-Subclass", subclass)] if subclass else [])
    headers += [("Unique-ID", unique_id)] if unique_id else []
    return make_event(EventFormat.JSON, encode_event(EventFormat.JSON, headers))


class RecordingSink:
    """An EventSink as the calls module would register one."""

    def __init__(self) -> None:
        self.log: list[object] = []

    def offer(self, event: Event, generation: int) -> bool:
        self.log.append(event.unique_id)
        return True

    def mark_gap(self, reason: GapReason, generation: int) -> None:
        self.log.append(("gap", reason, generation))

    def flush_gap(self) -> None:
        self.log.append("flush")

    def close(self, error: BaseException | None = None) -> None:
        self.log.append(("close", error))


def test_routing_by_name_case_insensitive_B_EVN_1() -> None:
    hub = EventHub()
    answers = hub.open(["channel_answer"], (), max_buffer=10, overflow=DROP)
    everything = hub.open((), (), max_buffer=10, overflow=DROP)
    for name in ("CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_ANSWER"):
        hub.deliver(event(name), 1)
    assert drained_names(answers) == ["CHANNEL_ANSWER", "CHANNEL_ANSWER"]
    assert drained_names(everything) == ["CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_ANSWER"]


def test_routing_by_custom_subclass_B_EVN_2() -> None:
    hub = EventHub()
    register = hub.open((), ["sofia::register"], max_buffer=10, overflow=DROP)
    custom = hub.open(["CUSTOM"], ["sofia::register"], max_buffer=10, overflow=DROP)
    hub.deliver(event("CUSTOM", "sofia::register"), 1)
    hub.deliver(event("CUSTOM", "conference::maintenance"), 1)
    assert drained_names(register) == ["CUSTOM"]
    assert drained_names(custom) == ["CUSTOM", "CUSTOM"]  # once each, never twice for one event


def test_closed_receivers_are_forgotten() -> None:
    hub = EventHub()
    receiver = hub.open(["HEARTBEAT"], (), max_buffer=1, overflow=DROP)
    hub.deliver(event("HEARTBEAT"), 1)
    hub.deliver(event("HEARTBEAT"), 1)  # dropped: the buffer holds one
    receiver.close()
    assert hub.statistics() == ()
    assert hub.dropped_total() == 1  # the closed receiver's drops still count
    hub.deliver(event("HEARTBEAT"), 1)  # nobody left: no error


def test_full_block_receivers_are_reported() -> None:
    hub = EventHub()
    hub.open(["X"], (), max_buffer=1, overflow=Overflow.BLOCK)
    assert list(hub.deliver(event("X"), 1)) == []
    (blocked,) = hub.deliver(event("X"), 1)
    assert blocked.statistics().buffered == 1 and not hasattr(blocked, "receive")


# -- issue 11 item 4: routing by call --------------------------------------------------------


def test_issue11_item4_unique_id_receiver_gets_only_its_call() -> None:
    hub = EventHub()
    call = hub.open((), (), unique_id="call-1", max_buffer=10, overflow=DROP)
    answers = hub.open(["CHANNEL_ANSWER"], (), unique_id="call-1", max_buffer=10, overflow=DROP)
    for uid in ("call-1", "call-2", "call-1"):
        hub.deliver(event("CHANNEL_ANSWER", unique_id=uid), 1)
    hub.deliver(event("CHANNEL_HANGUP", unique_id="call-1"), 1)
    hub.deliver(event("HEARTBEAT"), 1)  # no Unique-ID at all
    assert drained_names(call) == ["CHANNEL_ANSWER", "CHANNEL_ANSWER", "CHANNEL_HANGUP"]
    assert drained_names(answers) == ["CHANNEL_ANSWER", "CHANNEL_ANSWER"]
    assert {s.name for s in hub.statistics()} == {"*@call-1", "CHANNEL_ANSWER@call-1"}


def test_issue11_item4_sinks_are_routed_by_unique_id_and_removed() -> None:
    hub = EventHub()
    sink, other = RecordingSink(), RecordingSink()
    hub.add_unique_id_sink("call-1", sink)
    hub.add_unique_id_sink("call-2", other)
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-1"), 1)
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-2"), 1)
    hub.remove_unique_id_sink("call-1", sink)
    hub.remove_unique_id_sink("call-1", sink)  # twice: no error
    hub.deliver(event("CHANNEL_HANGUP", unique_id="call-1"), 1)
    assert sink.log == ["call-1"]
    assert other.log == ["call-2"]
    assert hub._by_call.keys() == {"call-2"}  # an empty call leaves the index


def test_issue11_item4_unique_id_is_not_read_while_no_call_is_routed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []
    original = Event.unique_id.fget  # type: ignore[attr-defined]

    def counting(self: Event) -> str | None:
        reads.append(self.name)
        return original(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(Event, "unique_id", property(counting))
    hub = EventHub()
    everything = hub.open((), (), max_buffer=10, overflow=DROP)
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-1"), 1)
    assert reads == []
    call = hub.open((), (), unique_id="call-1", max_buffer=10, overflow=DROP)
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-1"), 1)
    assert reads == ["CHANNEL_ANSWER"]
    call.close()
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-1"), 1)
    assert reads == ["CHANNEL_ANSWER"]
    assert len(drained_names(everything)) == 3


def test_issue11_item4_cost_per_event_does_not_grow_with_open_calls() -> None:
    """O(1): with 10 000 calls routed, an event reaches its own call's sink and no other
    sink is even looked at (a filter loop would offer to, or test, every one)."""
    touched: list[str] = []

    class Sink(RecordingSink):
        def __init__(self, uid: str) -> None:
            super().__init__()
            self.uid = uid

        def offer(self, event: Event, generation: int) -> bool:
            touched.append(self.uid)
            return True

    hub = EventHub()
    for n in range(10_000):
        hub.add_unique_id_sink(f"call-{n}", Sink(f"call-{n}"))
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-4321"), 1)
    hub.deliver(event("CHANNEL_ANSWER", unique_id="call-none"), 1)
    assert touched == ["call-4321"]


@given(
    opened=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=8),
    events=st.lists(st.sampled_from(["a", "b", "c", "d", "e", None]), max_size=30),
)
def test_issue11_item4_call_routing_equals_a_filter_by_unique_id(
    opened: list[str], events: list[str | None]
) -> None:
    """For any set of per-call receivers and any stream: each gets exactly the events whose
    Unique-ID is its call, in order (what a filter loop would give, without the loop)."""
    hub = EventHub()
    receivers = [
        (uid, hub.open((), (), unique_id=uid, max_buffer=100, overflow=DROP)) for uid in opened
    ]
    stream = [event("CHANNEL_STATE", unique_id=uid) for uid in events]
    for item in stream:
        hub.deliver(item, 1)
    for uid, receiver in receivers:
        got = []
        while True:
            try:
                got.append(receiver.receive_nowait())
            except trio.WouldBlock:
                break
        assert got == [item for item in stream if item.unique_id == uid]


# -- gaps and the end, for every receiver and sink -------------------------------------------


def test_issue8_item4_flush_gaps_reaches_every_receiver_and_sink() -> None:
    hub = EventHub()
    named = hub.open(["X"], (), max_buffer=10, overflow=DROP)
    call = hub.open((), (), unique_id="call-1", max_buffer=10, overflow=DROP)
    sink = RecordingSink()
    hub.add_unique_id_sink("call-1", sink)
    hub.mark_gap(GapReason.RECONNECT, 2)
    for receiver in (named, call):
        with pytest.raises(trio.WouldBlock):
            receiver.receive_nowait()  # pending until READY
    hub.flush_gaps()
    for receiver in (named, call):
        assert receiver.receive_nowait() == StreamGap(GapReason.RECONNECT, 0, 2)
    assert sink.log == [("gap", GapReason.RECONNECT, 2), "flush"]


def test_issue8_item4_marker_precedes_an_event_read_before_ready() -> None:
    """The new socket's first event may be routed before READY (read with the restore
    replies): the pending marker goes before it, and READY then adds no second one."""
    hub = EventHub()
    receiver = hub.open(["X"], (), max_buffer=10, overflow=DROP)
    hub.mark_gap(GapReason.RECONNECT, 2)
    hub.deliver(event("X", unique_id="early"), 2)
    hub.flush_gaps()
    assert receiver.receive_nowait() == StreamGap(GapReason.RECONNECT, 0, 2)
    assert drained_names(receiver) == ["X"]


def test_issue8_item3_close_all_ends_receivers_and_sinks_with_the_error() -> None:
    hub = EventHub()
    named = hub.open(["X"], (), max_buffer=10, overflow=DROP)
    call = hub.open((), (), unique_id="call-1", max_buffer=10, overflow=DROP)
    sink = RecordingSink()
    hub.add_unique_id_sink("call-1", sink)
    hub.deliver(event("X", unique_id="call-1"), 1)
    error = NotReadyError("the runtime stopped for good")
    hub.close_all(error)
    for receiver in (named, call):
        item = receiver.receive_nowait()  # the buffer is still read...
        assert isinstance(item, Event) and item.name == "X"
        with pytest.raises(NotReadyError):
            receiver.receive_nowait()  # ...then the error
    assert sink.log == ["call-1", ("close", error)]
    assert hub.statistics() == ()
    # Opened after the end: born ended, never waits for events that cannot come.
    late = hub.open(["X"], (), max_buffer=10, overflow=DROP)
    with pytest.raises(NotReadyError):
        late.receive_nowait()
    late_sink = RecordingSink()
    hub.add_unique_id_sink("call-2", late_sink)
    assert late_sink.log == [("close", error)]


def test_issue8_item3_a_second_close_all_keeps_the_first_reason() -> None:
    hub = EventHub()
    error = NotReadyError("the runtime stopped for good")
    hub.close_all(error)
    hub.close_all()  # the block is left later
    with pytest.raises(NotReadyError):
        hub.open(["X"], (), max_buffer=1, overflow=DROP).receive_nowait()


def test_issue8_item3_close_all_without_error_ends_iteration() -> None:
    hub = EventHub()
    receiver = hub.open(["X"], (), max_buffer=10, overflow=DROP)
    hub.close_all()
    with pytest.raises(trio.EndOfChannel):
        receiver.receive_nowait()
