"""Typed client commands: exact bytes, validation at construction, secrets kept out of logs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from esl_trio.protocol._commands import (
    MAX_BODY_BYTES,
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
    ReplyKind,
    Resume,
    SendEvent,
    SendMsg,
    UserAuth,
)
from esl_trio.protocol._errors import LocalProtocolError
from esl_trio.protocol._formats import EventFormat

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "freeswitch-1.11"
UUID = "bfde5bf4-6ee0-4d1e-9e89-b24f79d83692"

# (command, exact bytes): one or more per class.
EXACT_BYTES: list[tuple[Command, bytes]] = [
    (Auth("ClueCon"), b"auth ClueCon\n\n"),
    (Auth("Clue Con"), b"auth Clue Con\n\n"),
    (UserAuth("alice", "example.com", "s3:cr@t x"), b"userauth alice@example.com:s3:cr@t x\n\n"),
    (Api("status"), b"api status\n\n"),
    (Api("originate", "null/1234 &park"), b"api originate null/1234 &park\n\n"),
    (BgApi("status", job_uuid="j-1"), b"bgapi status\nJob-UUID: j-1\n\n"),
    (BgApi("version", "x y", job_uuid="j-2"), b"bgapi version x y\nJob-UUID: j-2\n\n"),
    (EventSubscribe(EventFormat.PLAIN, ["ALL"]), b"event plain ALL\n\n"),
    (EventSubscribe(names=("ALL",)), b"event json ALL\n\n"),
    (EventSubscribe("xml", ["BACKGROUND_JOB"]), b"event xml BACKGROUND_JOB\n\n"),
    (EventSubscribe("plain", custom=["my::test"]), b"event plain CUSTOM my::test\n\n"),
    (
        EventSubscribe("json", ["HEARTBEAT"], ["a::b", "c::d"]),
        b"event json HEARTBEAT CUSTOM a::b c::d\n\n",
    ),
    (EventSubscribe("plain", ["HEARTBEAT", "CUSTOM"]), b"event plain HEARTBEAT CUSTOM\n\n"),
    (NixEvent(["HEARTBEAT"]), b"nixevent HEARTBEAT\n\n"),
    (NixEvent(custom=["a::b"]), b"nixevent CUSTOM a::b\n\n"),
    (NoEvents(), b"noevents\n\n"),
    (FilterAdd("Event-Name", "CUSTOM"), b"filter Event-Name CUSTOM\n\n"),
    (FilterAdd("Caller-Caller-ID-Name", "John Doe"), b"filter Caller-Caller-ID-Name John Doe\n\n"),
    (FilterDelete("Event-Name", "CUSTOM"), b"filter delete Event-Name CUSTOM\n\n"),
    (FilterDelete("Event-Name"), b"filter delete Event-Name\n\n"),
    (FilterDelete("all"), b"filter delete all\n\n"),
    (MyEvents(UUID), f"myevents {UUID}\n\n".encode()),
    (MyEvents(UUID, "json"), f"myevents {UUID} json\n\n".encode()),
    (MyEvents(), b"myevents\n\n"),
    (MyEvents(format="xml"), b"myevents xml\n\n"),
    (Connect(), b"connect\n\n"),
    (Resume(), b"resume\n\n"),
    (DivertEvents(on=True), b"divert_events on\n\n"),
    (DivertEvents(on=False), b"divert_events off\n\n"),
    (Linger(), b"linger\n\n"),
    (Linger(30), b"linger 30\n\n"),
    (NoLinger(), b"nolinger\n\n"),
    (Log(), b"log 7\n\n"),
    (Log("info"), b"log info\n\n"),
    (NoLog(), b"nolog\n\n"),
    (Exit(), b"exit\n\n"),
    (
        SendEvent("CUSTOM", {"Event-Subclass": "my::test", "X-Empty": ""}),
        b"sendevent CUSTOM\nEvent-Subclass: my::test\nX-Empty: \n\n",
    ),
    (
        SendEvent("CUSTOM", [("Event-Subclass", "my::test")], b"hello\n\nworld"),
        b"sendevent CUSTOM\nEvent-Subclass: my::test\ncontent-length: 12\n\nhello\n\nworld",
    ),
    (SendEvent("NOTIFY", body="é".encode()), b"sendevent NOTIFY\ncontent-length: 2\n\n\xc3\xa9"),
    (
        SendMsg(UUID, [("call-command", "nomedia")]),
        f"sendmsg {UUID}\ncall-command: nomedia\n\n".encode(),
    ),
    (
        SendMsg.execute(UUID, "playback", "tone_stream://%(200,0,440)"),
        f"sendmsg {UUID}\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: tone_stream://%(200,0,440)\n\n".encode(),
    ),
    (
        SendMsg.execute(UUID, "answer", event_lock=True, async_=True, loops=2),
        f"sendmsg {UUID}\ncall-command: execute\nexecute-app-name: answer\n"
        "event-lock: true\nasync: true\nloops: 2\n\n".encode(),
    ),
    (SendMsg(headers={"call-command": "unhold"}), b"sendmsg\ncall-command: unhold\n\n"),
    (SendMsg(None, body=b"hi"), b"sendmsg\ncontent-length: 2\n\nhi"),
    (
        SendMsg.execute(None, "playback", "/tmp/a.wav"),
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        b"execute-app-arg: /tmp/a.wav\n\n",
    ),
    (
        SendMsg.hangup(None, "USER_BUSY"),
        b"sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n",
    ),
    (
        SendMsg.hangup(UUID),
        f"sendmsg {UUID}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n".encode(),
    ),
    (GetVar("caller_id_number"), b"getvar caller_id_number\n\n"),
]


@pytest.mark.parametrize(("command", "expected"), EXACT_BYTES, ids=lambda x: repr(x)[:60])
def test_exact_bytes_B_SER_1(command: Command, expected: bytes) -> None:
    assert command.to_bytes() == expected


def test_every_class_has_exact_bytes() -> None:
    covered = {type(command) for command, _ in EXACT_BYTES}
    assert covered == set(Command.__subclasses__())


def _client_chunks(transcript: bytes) -> list[bytes]:
    """The bytes the real client sent: each ``>> N bytes`` line is followed by N raw bytes."""
    chunks = []
    for match in re.finditer(rb"^>> (\d+) bytes\n", transcript, re.MULTILINE):
        chunks.append(transcript[match.end() : match.end() + int(match[1])])
    return chunks


def test_bytes_match_real_client_transcript_B_SER_1() -> None:
    """Our commands reproduce what the recorded client sent to FreeSWITCH 1.11."""
    chunks = _client_chunks((FIXTURES / "99-full-session-transcript.txt").read_bytes())
    originate = (
        "{origination_caller_id_number=1000,origination_uuid=98e7111c-27ed-492b-bcb8-bb7bcbb0e89a}"
        "loopback/9196/default &playback(tone_stream://%(200,0,440);loops=2)"
    )
    expected: list[Command] = [
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
        Api("uuid_kill", UUID),
        Exit(),
    ]
    assert len(chunks) == len(expected)
    for chunk, command in zip(chunks, expected, strict=True):
        if isinstance(command, BgApi):  # the recorded client let FreeSWITCH pick the job id
            chunk = chunk[:-1] + b"Job-UUID: j\n\n"
        assert command.to_bytes() == chunk


def test_api_without_args_has_no_trailing_space_B_APIW_5() -> None:
    assert Api("status").to_bytes() == b"api status\n\n"
    assert Api("status", "").to_bytes() == b"api status\n\n"
    assert BgApi("status", job_uuid="x").to_bytes().startswith(b"bgapi status\n")


def test_header_block_ends_with_exactly_one_blank_line_B_SER_1() -> None:
    for command, _ in EXACT_BYTES:
        head = command.to_bytes().split(b"\n\n", 1)[0]
        assert b"\r" not in head
        assert not head.endswith(b"\n")
        if not getattr(command, "body", b""):
            assert command.to_bytes() == head + b"\n\n"


def test_reply_kind_api_only_B_WIRE_6() -> None:
    for command, _ in EXACT_BYTES:
        want = ReplyKind.API_RESPONSE if isinstance(command, Api) else ReplyKind.COMMAND_REPLY
        assert command.reply_kind is want
    assert Api.reply_kind is ReplyKind.API_RESPONSE
    assert BgApi.reply_kind is ReplyKind.COMMAND_REPLY


def test_verb_is_the_first_word_on_the_wire() -> None:
    for command, wire in EXACT_BYTES:
        assert wire.split(b"\n", 1)[0].split(b" ", 1)[0].decode() == command.verb


def test_describe_is_the_command_line_for_simple_commands() -> None:
    assert Api("originate", "a b").describe() == "api originate a b"
    assert EventSubscribe("plain", ["ALL"]).describe() == "event plain ALL"
    assert BgApi("status", job_uuid="j1").describe() == "bgapi status (Job-UUID j1)"
    assert SendMsg.hangup("u").describe() == "sendmsg u (2 headers, 0 body bytes)"
    assert SendEvent("X", body=b"abc").describe() == "sendevent X (0 headers, 3 body bytes)"


def test_commands_are_frozen_and_hashable() -> None:
    command = Api("status")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        command.command = "exit"  # type: ignore[misc]
    assert {Api("status"), Api("status")} == {Api("status")}
    assert Api("status") != BgApi("status", job_uuid="status")  # type: ignore[comparison-overlap]


def test_command_base_is_abstract() -> None:
    with pytest.raises(TypeError):
        Command()  # type: ignore[abstract]
    assert all(isinstance(command, Command) for command, _ in EXACT_BYTES)


def test_evolve_validates_again_B_SER_2() -> None:
    with pytest.raises(LocalProtocolError):
        attrs.evolve(Api("status"), args="x\nexit")


# --- injection: every string field of every command ---------------------------------------

Factory = Callable[[str], object]

STRING_FIELDS: dict[str, Factory] = {
    "Auth.password": lambda s: Auth(s),
    "UserAuth.user": lambda s: UserAuth(s, "d", "p"),
    "UserAuth.domain": lambda s: UserAuth("u", s, "p"),
    "UserAuth.password": lambda s: UserAuth("u", "d", s),
    "Api.command": lambda s: Api(s),
    "Api.args": lambda s: Api("status", s),
    "BgApi.command": lambda s: BgApi(s),
    "BgApi.args": lambda s: BgApi("status", s),
    "BgApi.job_uuid": lambda s: BgApi("status", job_uuid=s),
    "EventSubscribe.format": lambda s: EventSubscribe(s, ["ALL"]),
    "EventSubscribe.names": lambda s: EventSubscribe("plain", ["ALL", s]),
    "EventSubscribe.custom": lambda s: EventSubscribe("plain", [], ["a::b", s]),
    "NixEvent.names": lambda s: NixEvent([s]),
    "NixEvent.custom": lambda s: NixEvent(custom=[s]),
    "FilterAdd.header": lambda s: FilterAdd(s, "v"),
    "FilterAdd.value": lambda s: FilterAdd("h", s),
    "FilterDelete.header": lambda s: FilterDelete(s),
    "FilterDelete.value": lambda s: FilterDelete("h", s),
    "MyEvents.uuid": lambda s: MyEvents(s),
    "MyEvents.format": lambda s: MyEvents("u", s),
    "Log.level": lambda s: Log(s),
    "SendEvent.name": lambda s: SendEvent(s),
    "SendEvent.header-name": lambda s: SendEvent("X", [(s, "v")]),
    "SendEvent.header-value": lambda s: SendEvent("X", [("h", s)]),
    "SendMsg.uuid": lambda s: SendMsg(s),
    "SendMsg.header-name": lambda s: SendMsg("u", {s: "v"}),
    "SendMsg.header-value": lambda s: SendMsg("u", {"h": s}),
    "SendMsg.execute.uuid": lambda s: SendMsg.execute(s, "answer"),
    "SendMsg.execute.app": lambda s: SendMsg.execute("u", s),
    "SendMsg.execute.arg": lambda s: SendMsg.execute("u", "playback", s),
    "SendMsg.hangup.uuid": lambda s: SendMsg.hangup(s),
    "SendMsg.hangup.cause": lambda s: SendMsg.hangup("u", s),
}
INJECTIONS = ["x\ny", "x\ry", "x\r\ny", "x\n\nexit", "\n", "x\x00y", "x\ud800y"]


@pytest.mark.parametrize("field", sorted(STRING_FIELDS))
def test_string_fields_accept_a_plain_word(field: str) -> None:
    value = {"EventSubscribe.format": "json", "MyEvents.format": "xml", "Log.level": "debug"}
    command = STRING_FIELDS[field](value.get(field, "abc"))
    assert isinstance(command, Command)


@pytest.mark.parametrize("bad", INJECTIONS, ids=repr)
@pytest.mark.parametrize("field", sorted(STRING_FIELDS))
def test_line_breaks_and_nul_rejected_in_every_string_field_B_SER_2(field: str, bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        STRING_FIELDS[field](bad)


def test_api_injection_is_impossible_B_SER_2() -> None:
    with pytest.raises(LocalProtocolError, match=r"Api\.command .*line feed.*'status\\n\\nexit'"):
        Api("status\n\nexit")
    with pytest.raises(LocalProtocolError, match=r"Api\.args"):
        Api("status", "\n\nexit")


TOKEN_FIELDS = [
    "UserAuth.user",
    "UserAuth.domain",
    "Api.command",
    "BgApi.command",
    "BgApi.job_uuid",
    "EventSubscribe.names",
    "EventSubscribe.custom",
    "NixEvent.names",
    "NixEvent.custom",
    "FilterAdd.header",
    "FilterDelete.header",
    "MyEvents.uuid",
    "SendEvent.name",
    "SendEvent.header-name",
    "SendMsg.uuid",
    "SendMsg.header-name",
    "SendMsg.execute.app",
    "SendMsg.hangup.cause",
]


@pytest.mark.parametrize("bad", ["a b", "a\tb", " a", "a ", "a\u00a0b", "a\u2028b", "a\x85b", ""])
@pytest.mark.parametrize("field", TOKEN_FIELDS)
def test_whitespace_and_empty_rejected_in_token_fields_B_SER_2(field: str, bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        STRING_FIELDS[field](bad)


def test_free_text_fields_keep_spaces_tabs_and_unicode() -> None:
    assert Api("echo", " a\tb \u2028 é ").to_bytes() == "api echo  a\tb \u2028 é \n\n".encode()
    assert FilterAdd("h", "  v").to_bytes() == b"filter h   v\n\n"


@pytest.mark.parametrize(
    ("make", "forbidden"),
    [
        (lambda: UserAuth("a@b", "d", "p"), "'@'"),
        (lambda: UserAuth("a:b", "d", "p"), "':'"),
        (lambda: UserAuth("a", "d:x", "p"), "':'"),
        (lambda: SendEvent("X", {"a:b": "v"}), "':'"),
    ],
)
def test_separator_characters_rejected_B_AUTH_5(make: Callable[[], object], forbidden: str) -> None:
    with pytest.raises(LocalProtocolError, match=forbidden):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Api(b"status"),  # type: ignore[arg-type]
        lambda: Api("status", None),  # type: ignore[arg-type]
        lambda: Auth(1234),  # type: ignore[arg-type]
        lambda: EventSubscribe("plain", "ALL"),
        lambda: EventSubscribe("plain", [1]),  # type: ignore[list-item]
        lambda: SendEvent("X", "a: b"),  # type: ignore[arg-type]
        lambda: SendEvent("X", [("only-name",)]),  # type: ignore[list-item]
        lambda: SendEvent("X", body="text"),  # type: ignore[arg-type]
        lambda: DivertEvents("on"),  # type: ignore[arg-type]
        lambda: Linger(True),
        lambda: Linger(1.5),  # type: ignore[arg-type]
        lambda: Log(7.0),  # type: ignore[arg-type]
    ],
)
def test_wrong_types_raise_type_error(make: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        make()


# --- secrets ------------------------------------------------------------------------------

SECRET = "hunter2 with spaces"


@pytest.mark.parametrize(
    "command", [Auth(SECRET), UserAuth("alice", "example.com", SECRET)], ids=["auth", "userauth"]
)
def test_password_absent_from_repr_str_describe_B_AUTH_7(command: Command) -> None:
    for text in (repr(command), str(command), command.describe()):
        assert SECRET not in text
        assert "hunter2" not in text
    assert SECRET.encode() in command.to_bytes()


@pytest.mark.parametrize("bad", ["hunter2\nexit", "hunter2\r", "hunter2\x00"], ids=repr)
def test_password_absent_from_error_messages_B_AUTH_7(bad: str) -> None:
    for make in (Auth, lambda p: UserAuth("u", "d", p)):
        with pytest.raises(LocalProtocolError) as info:
            make(bad)
        assert "hunter2" not in str(info.value)
    with pytest.raises(LocalProtocolError, match="password contains a line break"):
        Auth("a\nb")


def test_empty_password_rejected_B_AUTH_1() -> None:
    with pytest.raises(LocalProtocolError, match="must not be empty"):
        Auth("")
    with pytest.raises(LocalProtocolError):
        UserAuth("u", "d", "")


# --- per-command rules --------------------------------------------------------------------


def test_bgapi_job_uuid_defaults_to_a_fresh_uuid4_B_BGW_3() -> None:
    first, second = BgApi("status"), BgApi("status")
    assert first.job_uuid != second.job_uuid
    assert uuid.UUID(first.job_uuid).version == 4
    assert first.to_bytes() == f"bgapi status\nJob-UUID: {first.job_uuid}\n\n".encode()


@pytest.mark.parametrize("job_uuid", ["", "a" * 65, "a_b", "a.b", "é", "{x}"])
def test_bgapi_job_uuid_limited_to_64_safe_characters_B_BGW_3(job_uuid: str) -> None:
    with pytest.raises(LocalProtocolError, match="job_uuid"):
        BgApi("status", job_uuid=job_uuid)
    assert BgApi("status", job_uuid="A-" * 32).job_uuid == "A-" * 32


def test_event_subscribe_converts_lists_and_format_B_SUBW_1() -> None:
    command = EventSubscribe("JSON", ["CHANNEL_ANSWER"], ["a::b"])
    assert command.format is EventFormat.JSON
    assert command.names == ("CHANNEL_ANSWER",)
    assert command.custom == ("a::b",)
    assert (
        EventSubscribe("plain", ["channel_answer"]).to_bytes() == b"event plain channel_answer\n\n"
    )
    with pytest.raises(LocalProtocolError, match="format"):
        EventSubscribe("yaml", ["ALL"])


@pytest.mark.parametrize("cls", [EventSubscribe, NixEvent])
def test_empty_subscription_rejected_B_SUBW_1(cls: type[Command]) -> None:
    with pytest.raises(LocalProtocolError, match="no keywords supplied"):
        cls()


@pytest.mark.parametrize(
    ("names", "custom"),
    [
        (["CUSTOM", "HEARTBEAT"], []),
        (["custom"], ["a::b"]),
        (["SWITCH_EVENT_CUSTOM", "X"], []),
        (["HEARTBEAT", "CUSTOM"], ["a::b"]),
    ],
)
def test_custom_keyword_only_where_freeswitch_reads_it_right_B_EVN_2(
    names: list[str], custom: list[str]
) -> None:
    """After CUSTOM FreeSWITCH reads every word as a subclass, so CUSTOM may only end names."""
    with pytest.raises(LocalProtocolError, match="CUSTOM"):
        EventSubscribe("plain", names, custom)
    with pytest.raises(LocalProtocolError, match="CUSTOM"):
        NixEvent(names, custom)


def test_filter_header_cannot_be_a_sub_command_B_SUBW_4() -> None:
    for header in ("add", "delete", "DELETE"):
        with pytest.raises(LocalProtocolError, match="sub-command"):
            FilterAdd(header, "x")
    with pytest.raises(LocalProtocolError, match="empty"):
        FilterAdd("h", "")


def test_filter_delete_rules_B_SUBW_4() -> None:
    with pytest.raises(LocalProtocolError, match="all"):
        FilterDelete("all", "x")
    with pytest.raises(LocalProtocolError, match="empty"):
        FilterDelete("h", "")
    assert FilterDelete("ALL").to_bytes() == b"filter delete ALL\n\n"


@pytest.mark.parametrize("level", [0, 7, "console", "DEBUG", "Warning"])
def test_log_levels_accepted_B_CMD_5(level: int | str) -> None:
    assert Log(level).to_bytes() == f"log {level}\n\n".encode()


@pytest.mark.parametrize("level", [-1, 8, "7", "error", "verbose"])
def test_log_levels_rejected_B_CMD_5(level: int | str) -> None:
    with pytest.raises(LocalProtocolError, match=r"Log\.level"):
        Log(level)


def test_linger_seconds_non_negative_B_CMD_4() -> None:
    assert Linger(0).to_bytes() == b"linger 0\n\n"
    with pytest.raises(LocalProtocolError, match=r"Linger\.seconds"):
        Linger(-1)
    with pytest.raises(LocalProtocolError):
        Linger(2**31)


def test_header_values_cannot_start_with_a_space_B_CMD_6() -> None:
    """FreeSWITCH strips spaces after the colon, so such a value cannot be sent intact."""
    with pytest.raises(LocalProtocolError, match="start with a space"):
        SendEvent("X", {"h": " v"})
    assert SendEvent("X", {"h": "v "}).to_bytes() == b"sendevent X\nh: v \n\n"


@pytest.mark.parametrize("name", ["content-length", "Content-Length"])
def test_content_length_header_comes_from_the_body_B_CMD_6(name: str) -> None:
    with pytest.raises(LocalProtocolError, match="content-length"):
        SendMsg("u", {name: "3"}, b"abc")


def test_headers_keep_order_and_duplicates_B_CMD_7() -> None:
    command = SendMsg("u", [("b", "1"), ("a", "2"), ("b", "3")])
    assert command.headers == (("b", "1"), ("a", "2"), ("b", "3"))
    assert SendMsg("u", {"b": "1", "a": "2"}).headers == (("b", "1"), ("a", "2"))


def test_body_limit_and_byte_count_B_LIM_1() -> None:
    assert SendEvent("X", body=bytearray(b"ab")).body == b"ab"
    assert b"content-length: 4\n\n" in SendMsg("u", body="€x".encode()[:4]).to_bytes()
    with pytest.raises(LocalProtocolError, match="body"):
        SendEvent("X", body=b"x" * (MAX_BODY_BYTES + 1))


def test_sendmsg_execute_validation_B_CMD_7() -> None:
    with pytest.raises(LocalProtocolError, match="loops"):
        SendMsg.execute("u", "answer", loops=0)
    with pytest.raises(LocalProtocolError, match="start with a space"):
        SendMsg.execute("u", "playback", " file.wav")
