"""Event routing to receivers (B-EVN-1/2)."""

from __future__ import annotations

from esl_trio import Overflow
from esl_trio._hub import EventHub
from esl_trio.protocol import Event, EventFormat, make_event
from esl_trio.protocol.server import encode_event
from tests.runtime.conftest import drained_names


def event(name: str, subclass: str | None = None) -> Event:
    headers = [("Event-Name", name)] + ([("Event-Subclass", subclass)] if subclass else [])
    return make_event(EventFormat.JSON, encode_event(EventFormat.JSON, headers))


def test_routing_by_name_case_insensitive_B_EVN_1() -> None:
    hub = EventHub()
    answers = hub.open(["channel_answer"], (), max_buffer=10, overflow=Overflow.DROP_NEWEST)
    everything = hub.open((), (), max_buffer=10, overflow=Overflow.DROP_NEWEST)
    for name in ("CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_ANSWER"):
        hub.deliver(event(name), 1)
    assert drained_names(answers) == ["CHANNEL_ANSWER", "CHANNEL_ANSWER"]
    assert drained_names(everything) == ["CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_ANSWER"]


def test_routing_by_custom_subclass_B_EVN_2() -> None:
    hub = EventHub()
    register = hub.open((), ["sofia::register"], max_buffer=10, overflow=Overflow.DROP_NEWEST)
    custom = hub.open(["CUSTOM"], ["sofia::register"], max_buffer=10, overflow=Overflow.DROP_NEWEST)
    hub.deliver(event("CUSTOM", "sofia::register"), 1)
    hub.deliver(event("CUSTOM", "conference::maintenance"), 1)
    assert drained_names(register) == ["CUSTOM"]
    assert drained_names(custom) == ["CUSTOM", "CUSTOM"]  # once each, never twice for one event


def test_closed_receivers_are_forgotten() -> None:
    hub = EventHub()
    receiver = hub.open(["HEARTBEAT"], (), max_buffer=1, overflow=Overflow.DROP_NEWEST)
    receiver.close()
    assert hub.receivers == []
    hub.deliver(event("HEARTBEAT"), 1)  # nobody left: no error


def test_full_block_receivers_are_reported() -> None:
    hub = EventHub()
    blocking = hub.open(["X"], (), max_buffer=1, overflow=Overflow.BLOCK)
    assert hub.deliver(event("X"), 1) == []
    assert hub.deliver(event("X"), 1) == [blocking]
