"""Misspelt event names are refused before anything is written (issue 8 item 9)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_trio import EslRuntime, InvalidArgumentError
from esl_trio._event_names import EVENT_NAMES, check_event_names
from esl_trio.config import SubscriptionConfig
from esl_trio.errors import LocalProtocolError, UnknownEventNameError
from esl_trio.testing import FakeFreeSwitch
from esl_trio.testing._subscriptions import EVENT_NAMES as FAKE_EVENT_NAMES

KNOWN = set(EVENT_NAMES)


def test_issue8_item9_catalogue_is_freeswitchs_event_names() -> None:
    # The fake FreeSWITCH carries its own copy of switch_event.c's list, ALL last.
    assert (*EVENT_NAMES, "ALL") == tuple(FAKE_EVENT_NAMES)
    assert len(EVENT_NAMES) == len(KNOWN)


@given(st.lists(st.sampled_from(EVENT_NAMES), min_size=1), st.randoms())
def test_issue8_item9_known_names_pass_in_any_case_deduplicated(
    names: list[str], rng: object
) -> None:
    mixed = ["".join(c.lower() if rng.random() < 0.5 else c for c in n) for n in names]  # type: ignore[attr-defined]
    assert check_event_names(mixed) == tuple(dict.fromkeys(names))


@settings(max_examples=300)
@given(st.sampled_from(EVENT_NAMES), st.data())
def test_issue8_item9_one_typo_is_refused_and_the_name_suggested(
    name: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(name) - 1))
    typo = name[:index] + name[index + 1 :]  # one letter dropped, e.g. CHANNEL_ANSWR
    if typo.upper() in KNOWN or not typo:
        return  # e.g. dropping a letter of another name's prefix still spells a real one
    with pytest.raises(UnknownEventNameError) as caught:
        check_event_names([typo])
    error = caught.value
    assert error.name == typo.upper()
    assert set(error.suggestions) <= KNOWN
    if len(name) >= 5:
        assert name in error.suggestions, (typo, error.suggestions)
    assert isinstance(error, InvalidArgumentError) and isinstance(error, ValueError)
    assert error.written is False


def test_issue8_item9_all_only_where_subscribing_allows_it() -> None:
    assert check_event_names(["all"], allow_all=True) == ("ALL",)
    with pytest.raises(UnknownEventNameError, match="ALL is not allowed here"):
        check_event_names(["ALL"])
    assert check_event_names(["SWITCH_EVENT_CHANNEL_ANSWER"]) == ("SWITCH_EVENT_CHANNEL_ANSWER",)


@pytest.mark.parametrize("bad", ["", "CHANNEL ANSWER", "X\r\nevent json ALL", "A\0"])
def test_issue8_item9_non_tokens_are_still_local_protocol_errors(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        check_event_names([bad])


def test_issue8_item9_config_refuses_a_misspelt_name() -> None:
    with pytest.raises(UnknownEventNameError, match="CHANNEL_ANSWER"):
        SubscriptionConfig(events=["CHANNEL_ANSWR"])
    assert SubscriptionConfig(events=["channel_answer"]).events == ("CHANNEL_ANSWER",)


async def test_issue8_item9_subscribe_and_unsubscribe_refuse_before_writing(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    count = len(fs.commands)
    with pytest.raises(UnknownEventNameError) as caught:
        await rt.subscriptions.subscribe("CHANNEL_ANSWER", "CHANNEL_HANGUPP")
    assert caught.value.suggestions[0] == "CHANNEL_HANGUP"
    with pytest.raises(UnknownEventNameError):
        await rt.subscriptions.unsubscribe("DTFM")
    assert len(fs.commands) == count
    assert rt.subscriptions.state.names == ()
