"""Server-role reader: client bytes back to typed commands, FreeSWITCH's framing rules."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_trio.protocol import _commands
from esl_trio.protocol._command_reader import (
    CommandReader,
    InvalidCommand,
    ParsedCommand,
    UnknownCommand,
    parse_command,
)
from esl_trio.protocol._commands import (
    LOG_LEVEL_NAMES,
    Api,
    Auth,
    BgApi,
    Command,
    Connect,
    DivertEvents,
    EventSubscribe,
    Exit,
    FilterAdd,
    FilterDelete,
    GetVar,
    Linger,
    Log,
    MyEvents,
    NixEvent,
    NoEvents,
    NoLinger,
    NoLog,
    Resume,
    SendEvent,
    SendMsg,
    UserAuth,
)
from esl_trio.protocol._errors import RemoteProtocolError, TruncatedFrameError
from esl_trio.protocol._formats import EventFormat
from esl_trio.protocol._sentinels import CONNECTION_CLOSED, NEED_DATA

FORMAT_WORDS = {f.value for f in EventFormat}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "freeswitch-1.11"


def drain(reader: CommandReader) -> list[ParsedCommand]:
    """Every command available now (stops at NEED_DATA or CONNECTION_CLOSED)."""
    out: list[ParsedCommand] = []
    while True:
        item = reader.next_command()
        if item is NEED_DATA or item is CONNECTION_CLOSED:
            return out
        assert not isinstance(item, type(NEED_DATA))
        out.append(item)


def read_all(*chunks: bytes, eof: bool = True, **limits: int) -> list[ParsedCommand]:
    reader = CommandReader(**limits)
    out: list[ParsedCommand] = []
    for chunk in chunks:
        reader.receive_data(chunk)
        out += drain(reader)
    if eof:
        reader.receive_data(b"")
        out += drain(reader)
        assert reader.next_command() is CONNECTION_CLOSED
    return out


# --- strategies: valid commands of every class ---------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=20)
some_text = text.filter(bool)
token = st.text(
    st.characters(exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1, max_size=12
).filter(lambda s: not any(c.isspace() for c in s))
event_name = token.filter(lambda s: not _commands._is_custom_keyword(s))
header_name = token.filter(lambda s: ":" not in s and s.lower() != "content-length")
header_value = text.filter(lambda s: not s.startswith(" "))
headers = st.lists(st.tuples(header_name, header_value), max_size=4)
formats = st.sampled_from(EventFormat)
job_uuids = st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True)


@st.composite
def event_lists(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    names = draw(st.lists(event_name, max_size=4))
    custom = draw(st.lists(token, max_size=3))
    if not custom and draw(st.booleans()):
        names.append(draw(st.sampled_from(["CUSTOM", "custom", "SWITCH_EVENT_CUSTOM"])))
    if not names and not custom:
        names = ["ALL"]
    return names, custom


def _filter_delete(header: str, value: str | None) -> FilterDelete:
    return FilterDelete(header, None if header.lower() == "all" else value)


STRATEGIES: dict[type[Command], st.SearchStrategy[Command]] = {
    Auth: st.builds(Auth, some_text),
    UserAuth: st.builds(
        UserAuth,
        token.filter(lambda s: "@" not in s and ":" not in s),
        token.filter(lambda s: ":" not in s),
        some_text,
    ),
    Api: st.builds(Api, token, text),
    BgApi: st.builds(BgApi, token, text, job_uuid=job_uuids),
    EventSubscribe: st.builds(lambda f, lists: EventSubscribe(f, *lists), formats, event_lists()),
    NixEvent: st.builds(lambda lists: NixEvent(*lists), event_lists()),
    NoEvents: st.just(NoEvents()),
    FilterAdd: st.builds(
        FilterAdd, token.filter(lambda s: s.lower() not in ("add", "delete")), some_text
    ),
    FilterDelete: st.builds(
        _filter_delete, token | st.sampled_from(["all", "ALL"]), st.none() | some_text
    ),
    MyEvents: st.builds(
        MyEvents,
        st.none() | token.filter(lambda s: s.lower() not in FORMAT_WORDS),
        st.none() | formats,
    ),
    DivertEvents: st.builds(DivertEvents, st.booleans()),
    Linger: st.builds(Linger, st.none() | st.integers(0, 2**31 - 1)),
    NoLinger: st.just(NoLinger()),
    Log: st.builds(Log, st.integers(0, 7) | st.sampled_from(LOG_LEVEL_NAMES).map(str.upper)),
    NoLog: st.just(NoLog()),
    Exit: st.just(Exit()),
    SendEvent: st.builds(SendEvent, token, headers, st.binary(max_size=40)),
    SendMsg: st.one_of(
        st.builds(SendMsg, st.none() | token, headers, st.binary(max_size=40)),
        st.builds(
            SendMsg.execute,
            st.none() | token,
            token,
            header_value,
            event_lock=st.booleans(),
            async_=st.booleans(),
            loops=st.none() | st.integers(1, 99),
        ),
        st.builds(SendMsg.hangup, st.none() | token, token),
    ),
    Connect: st.just(Connect()),
    Resume: st.just(Resume()),
    GetVar: st.builds(GetVar, token),
}
commands = st.one_of(*STRATEGIES.values())


def test_strategies_cover_every_command_class() -> None:
    assert set(STRATEGIES) == set(Command.__subclasses__())


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# --- round trip ----------------------------------------------------------------------------


@given(commands)
def test_parse_command_round_trip(command: Command) -> None:
    """Reading ``c.to_bytes()`` gives back ``c`` (BgApi keeps its job_uuid)."""
    assert read_all(command.to_bytes()) == [command]


@given(st.lists(commands, min_size=1, max_size=6), st.lists(st.integers(0, 10_000), max_size=12))
def test_round_trip_in_random_chunks_B_WIRE_5(cmds: list[Command], cuts: list[int]) -> None:
    data = b"".join(c.to_bytes() for c in cmds)
    assert read_all(*split(data, cuts)) == cmds


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=4))
def test_round_trip_byte_at_a_time_B_WIRE_5(cmds: list[Command]) -> None:
    data = b"".join(c.to_bytes() for c in cmds)
    assert read_all(*(data[i : i + 1] for i in range(len(data)))) == cmds


@given(st.lists(commands, min_size=1, max_size=4), st.lists(st.integers(0, 10_000), max_size=8))
def test_round_trip_with_crlf_and_leading_newlines_B_WIRE_5(
    cmds: list[Command], cuts: list[int]
) -> None:
    """Clients that send CRLF, or stray blank lines between commands, are read the same."""
    pieces = []
    for command in cmds:
        wire = command.to_bytes()
        body_length = len(getattr(command, "body", b""))
        head, body = wire[: len(wire) - body_length], wire[len(wire) - body_length :]
        pieces.append(b"\r\n" + head.replace(b"\n", b"\r\n") + body)
    assert read_all(*split(b"".join(pieces), cuts)) == cmds


def test_real_client_transcript_is_read_back() -> None:
    """Every command the recorded client sent to FreeSWITCH 1.11 parses to the typed command."""
    transcript = (FIXTURES / "99-full-session-transcript.txt").read_bytes()
    sent = b"".join(
        transcript[m.end() : m.end() + int(m[1])]
        for m in re.finditer(rb"^>> (\d+) bytes\n", transcript, re.MULTILINE)
    )
    # the recorded client let FreeSWITCH choose job ids: pin ours to compare
    got = [attrs.evolve(c, job_uuid="j") if isinstance(c, BgApi) else c for c in read_all(sent)]
    originate = (
        "{origination_caller_id_number=1000,origination_uuid=98e7111c-27ed-492b-bcb8-bb7bcbb0e89a}"
        "loopback/9196/default &playback(tone_stream://%(200,0,440);loops=2)"
    )
    assert got == [
        Auth("ClueCon"),
        Api("status"),
        Api("nosuchcommand"),
        EventSubscribe("plain", ["ALL"]),
        BgApi("status", job_uuid="j"),
        BgApi("originate", originate, job_uuid="j"),
        NoEvents(),
        EventSubscribe("json", ["ALL"]),
        BgApi("status", job_uuid="j"),
        NoEvents(),
        EventSubscribe("xml", ["BACKGROUND_JOB"]),
        BgApi("version", job_uuid="j"),
        Api("originate", "null/1234 &park"),
        Api("uuid_kill", "bfde5bf4-6ee0-4d1e-9e89-b24f79d83692"),
        Exit(),
    ]


# --- framing (B-WIRE-5) --------------------------------------------------------------------


def test_leading_cr_lf_discarded_B_WIRE_5() -> None:
    assert read_all(b"\r\n\n\r", b"\n\napi status\n\n", b"\n\r\n") == [Api("status")]


@pytest.mark.parametrize("terminator", [b"\n\n", b"\r\n\r\n", b"\n\r\n", b"\n\r\r\n", b"\r\r\n\n"])
def test_terminators_where_cr_is_ignored_B_WIRE_5(terminator: bytes) -> None:
    assert read_all(b"api status" + terminator) == [Api("status")]


def test_cr_lf_headers_with_trailing_crs_stripped_B_WIRE_5() -> None:
    data = b"bgapi status\r\nJob-UUID: abc\r\r\n\r\n"
    assert read_all(data) == [BgApi("status", job_uuid="abc")]


def test_lone_cr_is_not_a_terminator() -> None:
    reader = CommandReader()
    reader.receive_data(b"api status\r\r")
    assert reader.next_command() is NEED_DATA
    reader.receive_data(b"\n\n")
    assert reader.next_command() == Api("status")


def test_several_commands_in_one_chunk() -> None:
    data = b"api status\n\nevent plain ALL\n\nnoevents\n\nexit\n\n"
    assert read_all(data) == [Api("status"), EventSubscribe("plain", ["ALL"]), NoEvents(), Exit()]


def test_body_with_content_length_may_contain_blank_lines_B_CMD_6() -> None:
    body = b"line1\n\nline2\r\n\r\n\n\n"
    data = b"sendevent CUSTOM\nEvent-Subclass: a::b\ncontent-length: %d\n\n" % len(body) + body
    expected = SendEvent("CUSTOM", {"Event-Subclass": "a::b"}, body)
    assert read_all(data + b"api status\n\n") == [expected, Api("status")]


def test_content_length_header_case_insensitive_and_zero() -> None:
    assert read_all(b"sendmsg u\nCONTENT-LENGTH: 2\n\nhi") == [SendMsg("u", body=b"hi")]
    assert read_all(b"sendmsg u\nContent-Length: 0\n\napi x\n\n") == [SendMsg("u"), Api("x")]


def test_need_data_until_body_complete() -> None:
    reader = CommandReader()
    reader.receive_data(b"sendmsg u\ncontent-length: 3\n\nab")
    assert reader.next_command() is NEED_DATA
    reader.receive_data(b"c")
    assert reader.next_command() == SendMsg("u", body=b"abc")
    assert reader.next_command() is NEED_DATA


# --- limits, truncation, sticky errors -----------------------------------------------------


def test_block_limit_B_LIM_1() -> None:
    assert read_all(b"api " + b"x" * 10 + b"\n\n", max_block_bytes=16) == [Api("x" * 10)]
    with pytest.raises(RemoteProtocolError, match="exceeds 16"):
        read_all(b"api " + b"x" * 11 + b"\n\n", max_block_bytes=16)
    with pytest.raises(RemoteProtocolError, match="exceeds 16"):  # never terminated
        read_all(b"x" * 17, eof=False, max_block_bytes=16)


def test_leading_newlines_do_not_count_towards_the_block_limit() -> None:
    assert read_all(b"\n" * 100 + b"api x\n\n", max_block_bytes=8) == [Api("x")]


def test_body_limit_B_LIM_1() -> None:
    assert read_all(b"sendmsg u\ncontent-length: 4\n\nabcd", max_body_bytes=4) == [
        SendMsg("u", body=b"abcd")
    ]
    with pytest.raises(RemoteProtocolError, match="exceeds 4"):
        read_all(b"sendmsg u\ncontent-length: 5\n\n", eof=False, max_body_bytes=4)


@pytest.mark.parametrize("value", [b"-1", b"x", b"1 ", b"+1", b"", b"9" * 40, "٣".encode()])
def test_malformed_content_length_is_a_protocol_error(value: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="content-length"):
        read_all(b"sendmsg u\ncontent-length: " + value + b"\n\n", eof=False)


def test_repeated_content_length_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match="2 content-length"):
        read_all(b"sendmsg u\ncontent-length: 1\ncontent-length: 1\n\nab", eof=False)


def test_header_without_colon_and_bad_utf8_are_protocol_errors() -> None:
    with pytest.raises(RemoteProtocolError, match="without ':'"):
        read_all(b"sendmsg u\nno colon here\n\n", eof=False)
    with pytest.raises(RemoteProtocolError, match="UTF-8"):
        read_all(b"api \xff\n\n", eof=False)


@pytest.mark.parametrize(
    "partial", [b"api status", b"api status\n", b"sendmsg u\ncontent-length: 3\n\nab"]
)
def test_eof_mid_command_is_truncation_B_DISC_4(partial: bytes) -> None:
    with pytest.raises(TruncatedFrameError):
        read_all(partial)


def test_clean_eof_B_FRAME_8() -> None:
    assert read_all(b"") == []
    assert read_all(b"api x\n\n\r\n\n") == [Api("x")]


def test_errors_are_sticky() -> None:
    reader = CommandReader(max_block_bytes=4)
    reader.receive_data(b"api status\n\n")
    with pytest.raises(RemoteProtocolError) as first:
        reader.next_command()
    with pytest.raises(RemoteProtocolError) as again:
        reader.next_command()
    assert again.value is first.value
    reader.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as after_eof:
        reader.next_command()
    assert after_eof.value is first.value


def test_truncation_is_sticky() -> None:
    reader = CommandReader()
    reader.receive_data(b"api")
    reader.receive_data(b"")
    with pytest.raises(TruncatedFrameError) as first:
        reader.next_command()
    with pytest.raises(TruncatedFrameError) as again:
        reader.next_command()
    assert again.value is first.value


def test_data_after_eof_is_a_usage_error() -> None:
    reader = CommandReader()
    reader.receive_data(b"")
    reader.receive_data(b"")
    with pytest.raises(RuntimeError):
        reader.receive_data(b"x")


class CountingBuffer(bytearray):
    """bytearray that counts how many bytes find() and count() look at."""

    scanned = 0

    def find(self, sub, start=0, end=None):
        result = super().find(sub, start, end)
        stop = len(self) if end is None else end
        CountingBuffer.scanned += (result + 1 if result >= 0 else stop) - start
        return result

    def count(self, sub, start=0, end=None):
        CountingBuffer.scanned += (len(self) if end is None else end) - start
        return super().count(sub, start, end)


@pytest.mark.parametrize("filler", [b"x", b"\r", b"a: b\n"])
def test_scanning_is_linear_when_fed_byte_by_byte(filler: bytes) -> None:
    """No rescans from the start of the block: total bytes examined stays O(input)."""
    reader = CommandReader()
    reader._rb.data = CountingBuffer()
    CountingBuffer.scanned = 0
    data = b"sendmsg u\n" + filler * 5000 + b"z: 1\n\n"
    for i in range(len(data)):
        reader.receive_data(data[i : i + 1])
        if i < len(data) - 1:
            assert reader.next_command() is NEED_DATA
    assert isinstance(reader.next_command(), (Command, InvalidCommand))
    assert CountingBuffer.scanned <= 3 * len(data)


# --- parse_command mapping -----------------------------------------------------------------

PARSED = [
    ("API status", [], Api("status")),
    ("api originate  a b ", [], Api("originate", " a b ")),
    ("bgapi status", [("job-uuid", "abc")], BgApi("status", job_uuid="abc")),
    ("auth Clue Con", [], Auth("Clue Con")),
    ("userauth alice@example.com:p:w@x", [], UserAuth("alice", "example.com", "p:w@x")),
    ("event PLAIN all", [], EventSubscribe("plain", ["all"])),
    ("event json  A   B ", [], EventSubscribe("json", ["A", "B"])),
    ("event xml CUSTOM a::b c::d", [], EventSubscribe("xml", [], ["a::b", "c::d"])),
    ("event plain X custom a::b", [], EventSubscribe("plain", ["X"], ["a::b"])),
    ("event plain X CUSTOM", [], EventSubscribe("plain", ["X", "CUSTOM"])),
    ("nixevent CUSTOM a::b", [], NixEvent([], ["a::b"])),
    ("noevents", [], NoEvents()),
    ("filter Event-Name CUSTOM", [], FilterAdd("Event-Name", "CUSTOM")),
    ("filter add Event-Name CUSTOM", [], FilterAdd("Event-Name", "CUSTOM")),
    ("filter  Caller-ID-Name John Doe", [], FilterAdd("Caller-ID-Name", "John Doe")),
    ("filter delete Event-Name CUSTOM", [], FilterDelete("Event-Name", "CUSTOM")),
    ("filter delete Event-Name", [], FilterDelete("Event-Name")),
    ("filter delete all", [], FilterDelete("all")),
    ("filter DELETE all junk", [], FilterDelete("all")),
    ("myevents u1 JSON", [], MyEvents("u1", "json")),
    ("myevents u1", [], MyEvents("u1")),
    ("divert_events on", [], DivertEvents(on=True)),
    ("divert_events whatever", [], DivertEvents(on=False)),
    ("linger", [], Linger()),
    ("linger 15", [], Linger(15)),
    ("nolinger", [], NoLinger()),
    ("log", [], Log()),
    ("log 3", [], Log(3)),
    ("log Debug", [], Log("Debug")),
    ("nolog", [], NoLog()),
    ("exit", [], Exit()),
    ("EXIT please", [], Exit()),
    ("...", [], Exit()),
    ("sendevent CUSTOM", [("content-length", "1"), ("a", "b")], SendEvent("CUSTOM", {"a": "b"})),
    ("sendmsg u1", [("call-command", "hangup")], SendMsg("u1", {"call-command": "hangup"})),
]


@pytest.mark.parametrize(("line", "headers", "expected"), PARSED, ids=[p[0] for p in PARSED])
def test_parse_command_mapping(
    line: str, headers: list[tuple[str, str]], expected: Command
) -> None:
    assert parse_command(line, headers, b"") == expected


def test_bgapi_without_job_uuid_gets_a_fresh_one_B_BGW_3() -> None:
    first, second = parse_command("bgapi status", [], b""), parse_command("bgapi status", [], b"")
    assert isinstance(first, BgApi)
    assert isinstance(second, BgApi)
    assert first.job_uuid != second.job_uuid


def test_body_is_kept_for_sendevent_and_sendmsg_B_CMD_6_B_CMD_7() -> None:
    assert parse_command("sendevent X", [], b"hi") == SendEvent("X", body=b"hi")
    assert parse_command("sendmsg u", [], b"hi") == SendMsg("u", body=b"hi")


@pytest.mark.parametrize(
    "line", ["foo", "api", "bgapi", "auth", "userauth", "filter", "events plain ALL", "connectx"]
)
def test_unknown_commands_B_CMD_8(line: str) -> None:
    assert parse_command(line, [("a", "b")], b"x") == UnknownCommand(line, (("a", "b"),), b"x")


INVALID = [
    ("filter Event-Name", "-ERR invalid syntax"),
    ("filter add Event-Name", "-ERR invalid syntax"),
    ("filter delete", "-ERR invalid syntax"),
    ("filter add CUSTOM", "-ERR invalid syntax"),
    ("event plain", "-ERR no keywords supplied"),
    ("event", "-ERR invalid syntax"),
    ("event ALL", "-ERR invalid syntax"),
    ("nixevent", "-ERR no keywords supplied"),
    ("divert_events", "-ERR missing value."),
    ("log 9", "-ERR invalid log level"),
    ("log verbose", "-ERR invalid log level"),
    ("linger soon", "-ERR invalid syntax"),
    ("linger " + "9" * 30, "-ERR invalid syntax"),
    ("sendevent", "-ERR invalid syntax"),
    ("userauth alice", "-ERR invalid"),
    ("userauth alice@example.com", "-ERR invalid"),
    ("userauth a b@example.com:pw", "-ERR invalid"),
    ("api  status", "-ERR invalid syntax"),
    ("api st\ratus", "-ERR invalid syntax"),
    ("auth pw\x00", "-ERR invalid syntax"),
    ("myevents u1 yaml", "-ERR invalid syntax"),
    ("myevents u1 json extra", "-ERR invalid syntax"),
    ("myevents json json", "-ERR invalid syntax"),
    ("bgapi status", "-ERR invalid syntax"),  # with the bad Job-UUID header below
]


@pytest.mark.parametrize(("line", "reply_text"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_arguments_carry_freeswitch_reply_text(line: str, reply_text: str) -> None:
    result = parse_command(line, [("Job-UUID", "x" * 65)], b"")
    assert isinstance(result, InvalidCommand)
    assert result.line == line
    assert result.reply_text == reply_text
    assert result.reason


def test_reprs_of_received_credentials_are_redacted() -> None:
    invalid = parse_command("auth hunter2\x00", [], b"")
    assert isinstance(invalid, InvalidCommand)
    assert "hunter2" not in repr(invalid)
    unknown = UnknownCommand("AUTH hunter2")
    assert "hunter2" not in repr(unknown)
    assert "hunter2" not in repr(parse_command("userauth a@b:hunter2", [], b""))


# --- arbitrary input -----------------------------------------------------------------------

interesting = st.lists(
    st.sampled_from(
        [b"\n", b"\r", b" ", b":", b"x", b"\x00", b"\xff", b"\xc3\xa9", b"api ", b"bgapi ",
         b"event plain ", b"filter ", b"CUSTOM ", b"sendmsg u", b"content-length: ", b"3",
         b"Job-UUID: ", b"exit", b"log ", b"linger ", b"userauth a@b:c", b"\n\n"]
    ),
    max_size=40,
).map(b"".join)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | interesting, st.lists(st.integers(0, 10_000), max_size=8))
def test_arbitrary_bytes_give_commands_or_protocol_errors(data: bytes, cuts: list[int]) -> None:
    """Whatever arrives: typed/unknown/invalid commands, or a RemoteProtocolError; and every
    typed command read survives its own round trip."""
    try:
        got = read_all(*split(data, cuts), max_block_bytes=150, max_body_bytes=5)
    except RemoteProtocolError:
        return
    for item in got:
        assert isinstance(item, Command | UnknownCommand | InvalidCommand)
        if isinstance(item, Command):
            assert read_all(item.to_bytes()) == [item]
