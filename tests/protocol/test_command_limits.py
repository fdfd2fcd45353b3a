"""Issue 9 item 3: no command may be long enough for FreeSWITCH to cut it in two.

FreeSWITCH's ``read_packet`` (mod_event_socket.c) reads a command's header block byte by byte
and stops after ``max_len = 10485760`` bytes even without the blank line; whatever follows is
parsed as the next command. The body announced by ``content-length`` is read separately (by
length) and does not count. ``freeswitch_split`` below models exactly that, so these tests show
both the attack (raw bytes are split) and the defence (no such command can be built).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_trio.protocol import (
    FREESWITCH_COMMAND_SPLIT_BYTES,
    MAX_COMMAND_HEADER_BYTES,
    Api,
    Auth,
    BgApi,
    Command,
    CommandReader,
    EventSubscribe,
    FilterAdd,
    FilterDelete,
    LocalProtocolError,
    MyEvents,
    NixEvent,
    SendEvent,
    SendMsg,
    UserAuth,
)

_END = re.compile(rb"\n\r*\n")  # FreeSWITCH's crcount: LFs count, CRs between them do not reset
_LENGTH = re.compile(rb"(?im)^content-length:[ ]*(\d+)")


def freeswitch_split(data: bytes, max_len: int = FREESWITCH_COMMAND_SPLIT_BYTES) -> list[bytes]:
    """The header blocks FreeSWITCH's read_packet would see in ``data``, in order."""
    blocks = []
    pos = 0
    while pos < len(data):
        while pos < len(data) and data[pos] in b"\r\n":  # leading CR/LF are dropped
            pos += 1
        if pos == len(data):
            break
        found = _END.search(data, pos, pos + max_len)
        stop = found.end() if found else min(pos + max_len, len(data))
        block = data[pos:stop]
        blocks.append(block)
        length = _LENGTH.search(block)
        pos = stop + (int(length[1]) if length else 0)
    return blocks


def test_issue9_item3_the_model_shows_the_attack_on_raw_bytes() -> None:
    """Without the check, this is what would reach FreeSWITCH: two commands, not one."""
    smuggled = b"bgapi originate loopback/1 &park"
    raw = b"api echo " + b"A" * (FREESWITCH_COMMAND_SPLIT_BYTES - 9) + smuggled + b"\n\n"
    blocks = freeswitch_split(raw)
    assert len(blocks) == 2
    assert blocks[1] == smuggled + b"\n\n"


def test_issue9_item3_long_api_argument_is_refused_not_split() -> None:
    with pytest.raises(LocalProtocolError, match="FreeSWITCH cuts a command") as caught:
        Api("echo", "A" * (FREESWITCH_COMMAND_SPLIT_BYTES - 9) + "bgapi originate loopback/1")
    assert "AAAA" not in str(caught.value)  # the message says what happened, not the payload


def test_issue9_item3_refusal_never_shows_a_password() -> None:
    secret = "s3cr3t" * (MAX_COMMAND_HEADER_BYTES // 6 + 1)
    for build in (lambda: Auth(secret), lambda: UserAuth("alice", "example.com", secret)):
        with pytest.raises(LocalProtocolError) as caught:
            build()
        assert "s3cr3t" not in str(caught.value)


# Each factory builds a command whose header block is exactly ``size`` bytes (for size large
# enough), by filling one free-text or token field: every kind of field that can be long.
Factory = Callable[[int], Command]


def _fill(size: int, fixed: int) -> str:
    return "x" * (size - fixed)


FACTORIES: dict[str, Factory] = {
    "api args": lambda n: Api("echo", _fill(n, len("api echo \n\n"))),
    "api command": lambda n: Api(_fill(n, len("api \n\n"))),
    "bgapi args": lambda n: BgApi(
        "echo", _fill(n, len("bgapi echo \nJob-UUID: j\n\n")), job_uuid="j"
    ),
    "sendevent header value": lambda n: SendEvent(
        "CUSTOM", [("X", _fill(n, len("sendevent CUSTOM\nX: \n\n")))]
    ),
    "sendmsg header value": lambda n: SendMsg("u", [("X", _fill(n, len("sendmsg u\nX: \n\n")))]),
    "sendmsg header name": lambda n: SendMsg(None, [(_fill(n, len("sendmsg\n: v\n\n")), "v")]),
    "execute arg": lambda n: SendMsg.execute(
        "u",
        "playback",
        _fill(
            n,
            len(
                "sendmsg u\ncall-command: execute\nexecute-app-name: playback\n"
                "execute-app-arg: \n\n"
            ),
        ),
    ),
    "filter value": lambda n: FilterAdd("Unique-ID", _fill(n, len("filter Unique-ID \n\n"))),
    "filter delete value": lambda n: FilterDelete(
        "Unique-ID", _fill(n, len("filter delete Unique-ID \n\n"))
    ),
    "event subclass": lambda n: EventSubscribe(
        "plain", custom=[_fill(n, len("event plain CUSTOM \n\n"))]
    ),
    "nixevent name": lambda n: NixEvent([_fill(n, len("nixevent \n\n"))]),
    "myevents uuid": lambda n: MyEvents(_fill(n, len("myevents \n\n"))),
    "auth password": lambda n: Auth(_fill(n, len("auth \n\n"))),
}

_NEAR = st.integers(-3, 3).map(lambda d: MAX_COMMAND_HEADER_BYTES + d)
# Above the limit, up to and past FreeSWITCH's own cut (the sizes that would smuggle).
_FAR = st.sampled_from([-1, 0, 1, 64]).map(lambda d: FREESWITCH_COMMAND_SPLIT_BYTES + d) | (
    st.integers(MAX_COMMAND_HEADER_BYTES + 4, FREESWITCH_COMMAND_SPLIT_BYTES)
)


@settings(max_examples=20, deadline=None)  # each example builds ~10 MB
@given(kind=st.sampled_from(sorted(FACTORIES)), size=_NEAR | _FAR)
def test_issue9_item3_every_command_type_refused_above_the_limit(kind: str, size: int) -> None:
    """Built iff the header block fits; what is built reaches FreeSWITCH as one command."""
    if size > MAX_COMMAND_HEADER_BYTES:
        with pytest.raises(LocalProtocolError):
            FACTORIES[kind](size)
        return
    command = FACTORIES[kind](size)
    data = command.to_bytes()
    assert data.index(b"\n\n") + 2 == size
    assert freeswitch_split(data) == [data]


def test_issue9_item3_body_does_not_count_and_is_read_by_length() -> None:
    """FreeSWITCH reads a content-length body separately: a body may exceed the block limit."""
    body = b"\n\n" * (MAX_COMMAND_HEADER_BYTES // 2 + 8)  # blank lines that are not a command end
    command = SendMsg("u", [("call-command", "execute")], body)
    data = command.to_bytes() + b"api status\n\n"
    blocks = freeswitch_split(data)
    assert blocks == [b"sendmsg u\ncall-command: execute\ncontent-length: %d\n\n" % len(body),
                      b"api status\n\n"]  # fmt: skip
    reader = CommandReader()
    reader.receive_data(data)
    assert reader.next_command() == command
    assert reader.next_command() == Api("status")


# -- Unicode line separators: FreeSWITCH ends lines at LF only (and trims at CR) ----------------

UNICODE_BREAKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@pytest.mark.parametrize("char", UNICODE_BREAKS, ids=repr)
def test_issue9_item3_unicode_line_separators_pass_in_free_text(char: str) -> None:
    """Only LF ends a line for FreeSWITCH: these are ordinary bytes in a value, kept as is."""
    command = Api("echo", f"a{char}bgapi originate x")
    data = command.to_bytes()
    assert data == f"api echo a{char}bgapi originate x\n\n".encode()
    assert freeswitch_split(data) == [data]  # one command
    reader = CommandReader()
    reader.receive_data(data)
    assert reader.next_command() == command  # our own reader does not split on them either
    message = SendMsg("u", [("execute-app-arg", f"x{char}y")])
    assert freeswitch_split(message.to_bytes()) == [message.to_bytes()]


@pytest.mark.parametrize("char", UNICODE_BREAKS, ids=repr)
def test_issue9_item3_unicode_line_separators_refused_in_tokens(char: str) -> None:
    """Tokens (command names, header names, uuids) refuse them as whitespace."""
    for build in (
        lambda: Api(f"echo{char}x"),
        lambda: SendMsg(f"u{char}v"),
        lambda: SendEvent("CUSTOM", [(f"X{char}Y", "v")]),
    ):
        with pytest.raises(LocalProtocolError):
            build()
