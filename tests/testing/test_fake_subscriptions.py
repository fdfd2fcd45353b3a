"""Subscriptions, CUSTOM subclasses, filters and formats with FreeSWITCH's real semantics."""

from __future__ import annotations

import pytest
import trio

from esl_trio.protocol import (
    Api,
    ApiReply,
    CustomEvent,
    Event,
    EventFormat,
    EventSubscribe,
    FilterAdd,
    FilterDelete,
    NixEvent,
    NoEvents,
)
from esl_trio.testing import UserCredentials, open_fake_freeswitch
from esl_trio.testing._subscriptions import Filters, Permissions, Subscriptions, event_type
from tests._fixtures import raw
from tests.testing._raw_client import RawClient, connect


async def names_seen(client: RawClient, emitted: int = 0) -> list[str]:
    """Event names received before the reply to a barrier api call."""
    await client.send_raw(b"api echo barrier\n\n")
    seen = []
    while True:
        message = await client.next()
        if isinstance(message, ApiReply):
            return seen
        assert isinstance(message, Event), message
        seen.append(message.name if message.name != "CUSTOM" else f"CUSTOM:{message.subclass}")


# -- event / nixevent / noevents on the wire (B-SUBW-1/2/3) ------------------------------------


async def test_event_reply_bytes_like_fixture_b_subw_1():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        await client.send(EventSubscribe("plain", ["ALL"]))
        expected = raw("03-event-plain-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected
        await client.send(EventSubscribe("json", ["ALL"]))
        expected = raw("09-event-json-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected


async def test_event_is_additive_b_subw_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain CHANNEL_ANSWER")
        await client.text(EventSubscribe("plain", ["CHANNEL_HANGUP"]))
        await client.text(EventSubscribe("plain", ["CHANNEL_HANGUP"]))  # a shorter list
        for name in ("CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_CREATE"):
            fs.emit(name)
        assert await names_seen(client) == ["CHANNEL_ANSWER", "CHANNEL_HANGUP"]
        assert fs.connection(1).subscriptions == {"CHANNEL_ANSWER", "CHANNEL_HANGUP"}


async def test_unknown_names_ignored_and_no_keywords_b_subw_1():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        assert await client.text(b"event plain NOT_AN_EVENT\n\n") == "-ERR no keywords supplied"
        assert await client.text(b"event json\n\n") == "-ERR no keywords supplied"
        conn = fs.connection(1)
        assert conn.format is EventFormat.JSON  # the format change took effect anyway
        assert not conn.events_enabled
        assert await client.text(b"event xml BOGUS HEARTBEAT\n\n") == (
            "+OK event listener enabled xml"
        )
        assert conn.subscriptions == {"HEARTBEAT"}


async def test_event_names_are_case_insensitive_b_evn_1():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        await client.text(b"event plain channel_answer SWITCH_EVENT_HEARTBEAT\n\n")
        assert fs.connection(1).subscriptions == {"CHANNEL_ANSWER", "HEARTBEAT"}
        fs.emit("channel_answer")
        fs.emit_heartbeat()
        assert await names_seen(client) == ["CHANNEL_ANSWER", "HEARTBEAT"]


async def test_event_without_format_word_and_prefix_verb_b_cmd_8():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        assert await client.text(b"event HEARTBEAT\n\n") == "+OK event listener enabled plain"
        assert await client.text(b"events json CHANNEL_ANSWER\n\n") == (
            "+OK event listener enabled json"
        )
        assert fs.connection(1).subscriptions == {"HEARTBEAT", "CHANNEL_ANSWER"}


async def test_nixevent_removes_b_subw_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain CHANNEL_ANSWER CHANNEL_HANGUP")
        assert await client.text(NixEvent(["CHANNEL_ANSWER"])) == "+OK events nixed"
        fs.emit("CHANNEL_ANSWER")
        fs.emit("CHANNEL_HANGUP")
        assert await names_seen(client) == ["CHANNEL_HANGUP"]
        assert await client.text(b"nixevent BOGUS\n\n") == "-ERR no keywords supplied"


async def test_nixevent_from_all_means_all_except_b_subw_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain ALL")
        await client.text(NixEvent(["HEARTBEAT"]))
        conn = fs.connection(1)
        assert "ALL" not in conn.subscriptions
        assert "HEARTBEAT" not in conn.subscriptions
        assert "CHANNEL_ANSWER" in conn.subscriptions
        fs.emit_heartbeat()
        fs.emit("CHANNEL_ANSWER")
        fs.emit("CUSTOM", subclass="any::thing")  # ALL had subscribed every subclass
        assert await names_seen(client) == ["CHANNEL_ANSWER", "CUSTOM:any::thing"]
        await client.text(NixEvent(["ALL"]))
        fs.emit("CHANNEL_ANSWER")
        assert await names_seen(client) == []


async def test_noevents_clears_and_flushes_b_subw_3():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        await client.send(NoEvents())
        expected = b"Content-Type: command/reply\nReply-Text: -ERR not listening for events\n\n"
        assert await client.raw_bytes(len(expected)) == expected
        await client.text(EventSubscribe("plain", ["ALL"]))
        conn = fs.connection(1)
        conn.hold_replies()
        await client.send(Api("echo", "held"))  # the processor waits to write this reply
        await client.send(NoEvents())
        await fs.wait_command(NoEvents, count=2)
        fs.emit("CHANNEL_ANSWER")  # queued behind the held reply...
        assert conn.queued_events == 1
        conn.release_replies()
        assert (await client.next()).body == b"held"
        reply = await client.next()  # no event before it
        assert reply.text == "+OK no longer listening for events"
        assert conn.queued_events == 0  # ...and flushed by noevents
        fs.emit("CHANNEL_ANSWER")
        assert await names_seen(client) == []
        assert not conn.events_enabled


async def test_custom_subclasses_b_evn_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        bare = await connect(fs, events="plain CUSTOM")
        listed = await connect(fs)
        await listed.send(EventSubscribe("plain", [], ["my::test"]))
        expected = raw("22-event-plain-custom-reply.raw")
        assert await listed.raw_bytes(len(expected)) == expected
        everything = await connect(fs, events="plain ALL")
        fs.emit("CUSTOM", subclass="my::test")
        fs.emit("CUSTOM", subclass="other::thing")
        fs.emit("CUSTOM")  # no subclass: CUSTOM alone is enough
        assert await names_seen(bare) == ["CUSTOM:None"]
        assert await names_seen(listed) == ["CUSTOM:my::test", "CUSTOM:None"]
        assert await names_seen(everything) == [
            "CUSTOM:my::test",
            "CUSTOM:other::thing",
            "CUSTOM:None",
        ]
        assert fs.connection(2).custom_subclasses == {"my::test"}
        await listed.text(NixEvent([], ["my::test"]))
        fs.emit("CUSTOM", subclass="my::test")
        assert await names_seen(listed) == []


async def test_custom_event_headers_b_evn_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="json ALL")
        fs.emit("CUSTOM", {"X-Test": "1"}, body="payload", subclass="sofia::register")
        event = await client.event()
        assert isinstance(event, CustomEvent)
        assert event.subclass == "sofia::register"
        assert next(iter(event.headers.items()))[0] == "Event-Subclass"
        assert event.get("X-Test") == "1"
        assert event.body == b"payload"


async def test_myevents_binds_one_channel_b_cmd_2():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        fs.channels.add("chan-a")
        client = await connect(fs)
        assert await client.text(b"myevents nosuch json\n\n") == "-ERR invalid uuid"
        assert await client.text(b"myevents chan-a json\n\n") == "+OK Events Enabled"
        assert await client.text(b"myevents chan-a\n\n") == "-ERR aready enabled."
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-b"})
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-a"})
        fs.emit("HEARTBEAT")
        fs.emit("BACKGROUND_JOB", {"Job-Owner-UUID": "chan-a"})  # not subscribed by myevents
        assert await names_seen(client) == ["CHANNEL_ANSWER"]
        assert fs.connection(1).format is EventFormat.JSON
        assert fs.connection(1).session_uuid == "chan-a"


async def test_myevents_unknown_uuid_without_format_quirk_b_cmd_2():
    """FreeSWITCH accepts it, bound to no channel: any channel event with a Unique-ID passes."""
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        assert await client.text(b"myevents nosuch\n\n") == "+OK Events Enabled"
        assert fs.connection(1).session_uuid is None
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "whatever"})
        fs.emit("CHANNEL_ANSWER")
        assert await names_seen(client) == ["CHANNEL_ANSWER"]


# -- filters (B-SUBW-4/5) ----------------------------------------------------------------------


async def test_filter_reply_texts_b_subw_4():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs)
        await client.send(FilterAdd("Event-Name", "CUSTOM"))
        expected = raw("21-filter-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected
        assert await client.text(b"filter add Unique-ID a b c\n\n") == (
            "+OK filter added. [Unique-ID]=[a b c]"
        )
        assert await client.text(FilterAdd("Event-Name", "CUSTOM")) == (
            "+OK filter added. [Event-Name]=[CUSTOM]"
        )
        conn = fs.connection(1)
        assert conn.filters == (
            ("Event-Name", "CUSTOM"),
            ("Unique-ID", "a b c"),
            ("Event-Name", "CUSTOM"),  # duplicates are stored twice
        )
        assert await client.text(FilterDelete("event-name", "CUSTOM")) == (
            "+OK filter deleted. [event-name][CUSTOM]"
        )
        assert conn.filters == (("Unique-ID", "a b c"),)
        assert await client.text(FilterDelete("Unique-ID")) == "+OK filter deleted. [Unique-ID][]"
        assert await client.text(FilterDelete("Nothing", "x")) == (
            "+OK filter deleted. [Nothing][x]"
        )
        await client.text(FilterAdd("A", "1"))
        assert await client.text(FilterDelete("all")) == "+OK filter deleted. [all][]"
        assert conn.filters == ()
        assert await client.text(b"filter Unique-ID\n\n") == "-ERR invalid syntax"


async def test_filters_select_events_b_subw_5():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain ALL")
        await client.text(FilterAdd("Unique-ID", "chan-1"))
        await client.text(FilterAdd("Event-Name", "heartbeat"))  # case-insensitive value
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-1"})
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-2"})
        fs.emit("CHANNEL_ANSWER")  # no Unique-ID at all
        fs.emit_heartbeat()
        assert await names_seen(client) == ["CHANNEL_ANSWER", "HEARTBEAT"]


async def test_negative_filter_vetoes_b_subw_5():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain ALL")
        await client.text(FilterAdd("Event-Name", "CHANNEL_ANSWER"))
        await client.text(FilterAdd("Unique-ID", "-chan-2"))
        first = fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-1"})
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-2"})
        assert await names_seen(client) == ["CHANNEL_ANSWER"]
        assert first.queued_for == [1]


async def test_only_negative_filters_block_everything_b_subw_5():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain ALL")
        await client.text(FilterAdd("Unique-ID", "-chan-2"))
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "chan-1"})
        assert await names_seen(client) == []


async def test_regex_filter_b_subw_5():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events="plain ALL")
        await client.text(FilterAdd("Caller-Caller-ID-Number", "/^10[0-9]{2}$/"))
        fs.emit("CHANNEL_ANSWER", {"Caller-Caller-ID-Number": "1001"})
        fs.emit("CHANNEL_HANGUP", {"Caller-Caller-ID-Number": "2001"})
        assert await names_seen(client) == ["CHANNEL_ANSWER"]


# -- formats (B-EVT-*) -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["plain", "json", "xml"])
async def test_each_format_decodes_to_the_same_event(fmt):
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        client = await connect(fs, events=f"{fmt} ALL")
        headers = [
            ("Unique-ID", "a1"),
            ("Caller-Caller-ID-Name", "Jöhn +Doe: 100%"),
            ("Variable_sip_h", "a;b=c&d"),
            ("Empty", ""),
            ("Hangup-Cause", "NORMAL_CLEARING"),
            ("Hangup-Cause", "NORMAL_CLEARING"),
        ]
        emitted = fs.emit("CHANNEL_HANGUP_COMPLETE", headers, body="line 1\nline 2\n")
        event = await client.event()
        assert event.format is EventFormat(fmt)
        assert event.name == "CHANNEL_HANGUP_COMPLETE"
        assert list(event.headers.items()) == list(emitted.headers)
        assert event.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
        assert event.body == b"line 1\nline 2\n"
        assert event.sequence == emitted.sequence


async def test_format_is_per_connection_and_changes_b_subw_1():
    async with open_fake_freeswitch(fire_api_events=False) as fs:
        plain = await connect(fs, events="plain HEARTBEAT")
        jsonc = await connect(fs, events="json HEARTBEAT")
        fs.emit_heartbeat()
        assert (await plain.event()).format is EventFormat.PLAIN
        assert (await jsonc.event()).format is EventFormat.JSON
        await plain.text(EventSubscribe("xml", ["CHANNEL_ANSWER"]))  # format for all events
        fs.emit_heartbeat()
        assert (await plain.event()).format is EventFormat.XML


async def test_standard_headers_and_process_wide_sequence_b_evn_4():
    async with open_fake_freeswitch(
        fire_api_events=False, core_uuid="core-1", hostname="pbx"
    ) as fs:
        fs.wall_clock = lambda: 1795690792.706748
        a = await connect(fs, events="plain CHANNEL_ANSWER")
        b = await connect(fs, events="plain HEARTBEAT")
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": "u"})
        fs.emit_heartbeat()
        fs.emit("CHANNEL_ANSWER", {"Event-Calling-File": "mine.c"})
        first, third = await a.event(), await a.event()
        second = await b.event()
        assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
        names = [n for n, _ in first.headers.items()]
        assert names[:13] == [
            "Event-Name",
            "Core-UUID",
            "FreeSWITCH-Hostname",
            "FreeSWITCH-Switchname",
            "FreeSWITCH-IPv4",
            "FreeSWITCH-IPv6",
            "Event-Date-Local",
            "Event-Date-GMT",
            "Event-Date-Timestamp",
            "Event-Calling-File",
            "Event-Calling-Function",
            "Event-Calling-Line-Number",
            "Event-Sequence",
        ]
        assert first.core_uuid == "core-1"
        assert first.get("FreeSWITCH-Hostname") == "pbx"
        assert first.get("Event-Date-Timestamp") == "1795690792706748"
        assert first.get("Event-Date-GMT") == "Thu, 26 Nov 2026 10:59:52 GMT"
        assert third.get("Event-Calling-File") == "mine.c"  # replaced in place
        assert second.get("Event-Info") == "System Ready"


async def test_heartbeat_interval(autojump_clock):
    async with open_fake_freeswitch(heartbeat_interval=20, fire_api_events=False) as fs:
        client = await connect(fs, events="json HEARTBEAT")
        start = trio.current_time()
        for _ in range(2):
            assert (await client.event(timeout=30)).name == "HEARTBEAT"
        assert trio.current_time() - start == pytest.approx(40)


async def test_emit_rejects_all():
    async with open_fake_freeswitch() as fs:
        with pytest.raises(ValueError, match="ALL"):
            fs.emit("all")


# -- the semantics objects directly ------------------------------------------------------------


def test_event_type_matches_like_switch_name_event():
    assert event_type("channel_answer") == "CHANNEL_ANSWER"
    assert event_type("SWITCH_EVENT_CUSTOM") == "CUSTOM"
    assert event_type("XXXXXXXXXXXXXHEARTBEAT") == "HEARTBEAT"  # any 13-character prefix
    assert event_type("CHANNEL_TRANSFER") is None
    assert event_type("ALL") == "ALL"


def test_subscriptions_rules():
    subs = Subscriptions(EventFormat.PLAIN)
    assert not subs.accepts("HEARTBEAT", None)
    assert subs.subscribe(["json", "CUSTOM", "a::b", "HEARTBEAT"], None) == (
        "+OK event listener enabled json"
    )
    assert subs.custom == {"a::b", "HEARTBEAT"}  # after CUSTOM every word is a subclass
    assert not subs.accepts("HEARTBEAT", None)
    assert subs.accepts("CUSTOM", "HEARTBEAT")
    assert subs.nix(["CUSTOM", "a::b"]) == "+OK events nixed"
    assert subs.accepts("CUSTOM", None)
    assert not subs.accepts("CUSTOM", "a::b")
    assert subs.clear() is True
    assert subs.clear() is False
    assert subs.nix(["HEARTBEAT"]) == "+OK events nixed"
    assert subs.enabled  # nixevent enables too, like FreeSWITCH
    assert not subs.accepts("HEARTBEAT", None)


def test_filters_rules():
    filters = Filters()

    def lookup(headers):
        table = {k.lower(): v for k, v in headers.items()}
        return lambda name: table.get(name.lower())

    assert filters.accepts(lookup({}))
    filters.add("Event-Name", "+ - +CHANNEL_ANSWER")  # the last sign wins, spaces skipped
    assert filters.accepts(lookup({"Event-Name": "channel_answer"}))
    filters.add("Unique-ID", "-/^bad/")  # not a regex in FreeSWITCH: compared literally
    assert filters.accepts(lookup({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "bad-1"}))
    assert not filters.accepts(lookup({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "/^bad/"}))
    filters.items.clear()
    filters.add("X", "/AbC/i")
    assert filters.accepts(lookup({"X": "xxabcxx"}))
    filters.items[:] = [("X", "/unterminated")]
    assert not filters.accepts(lookup({"X": "/unterminated"}))
    filters.items[:] = [("X", "/(/")]
    assert not filters.accepts(lookup({"X": "("}))


def test_permissions_nested_api_commands():
    rights = Permissions.from_credentials(
        UserCredentials("pw", allowed_api="bgapi expand status", allowed_events="all")
    )
    assert rights.all_events
    assert rights.allows_api("status", "")
    assert rights.allows_api("bgapi", "status")
    assert rights.allows_api("bgapi", "expand status")
    assert not rights.allows_api("bgapi", "expand version")
    assert not rights.allows_api("version", "")
    assert rights.allows_api("expand", "")
    assert Permissions.from_credentials(UserCredentials("pw")).allows_api("anything", "")


def test_permissions_follow_freeswitch_quirks():
    no_wildcard = Permissions.from_credentials(UserCredentials("pw", allowed_api="all"))
    assert not no_wildcard.allows_api("status", "")  # esl-allowed-api has no wildcard
    everything = Permissions.from_credentials(UserCredentials("pw", allowed_events="ALL"))
    assert everything.allows_event("HEARTBEAT")
    assert not everything.allows_subclass("a::b")  # subclasses must be listed once restricted
    listed = Permissions.from_credentials(
        UserCredentials("pw", allowed_events=["CUSTOM", "a::b"], allowed_log=False)
    )
    assert listed.allows_subclass("a::b")
    assert listed.allows_event("CUSTOM")
    assert not listed.allows_event("HEARTBEAT")
    assert not listed.log
    free = Permissions.from_credentials(UserCredentials("pw"))
    assert free.allows_subclass("x::y")
    assert free.allows_event("HEARTBEAT")
    assert UserCredentials("pw").reply_headers() == [
        ("Allowed-Events", "all"),
        ("Allowed-API", "all"),
        ("Allowed-LOG", "true"),
    ]
