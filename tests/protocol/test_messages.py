"""Frame classification into typed messages (B-CT-*, B-REPLY-*, B-DISC-*)."""

from __future__ import annotations

import pytest

from esl_trio.protocol import (
    ApiReply,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    LogLine,
    RudeRejection,
    UnknownFrame,
    classify,
)
from esl_trio.protocol.server import disconnect_notice, rude_rejection
from tests._fixtures import frames_of, one_frame, raw


def test_auth_request_B_WIRE_2() -> None:
    assert isinstance(classify(one_frame("01a-auth-request.raw")), AuthRequest)


@pytest.mark.parametrize(
    ("name", "ok", "message", "reason"),
    [
        ("01b-auth-reply.raw", True, "accepted", ""),
        ("03-event-plain-reply.raw", True, "event listener enabled plain", ""),
        ("08-noevents-reply.raw", True, "no longer listening for events", ""),
        ("21-filter-reply.raw", True, "filter added. [Event-Name]=[CUSTOM]", ""),
        ("29-unknown-command-reply.raw", False, "", "command not found"),
    ],
)
def test_command_reply_texts_B_REPLY_2_B_REPLY_5(
    name: str, ok: bool, message: str, reason: str
) -> None:
    reply = classify(one_frame(name))
    assert isinstance(reply, CommandReply)
    assert (reply.ok, reply.message, reply.reason) == (ok, message, reason)


def test_auth_accepted_is_exact_text_B_REPLY_3() -> None:
    reply = classify(one_frame("01b-auth-reply.raw"))
    assert isinstance(reply, CommandReply) and reply.is_auth_accepted
    other = CommandReply("+OK accepted later")
    assert not other.is_auth_accepted


def test_bgapi_acceptance_carries_job_uuid_B_BGW_2_B_BGW_7() -> None:
    reply = classify(one_frame("04-bgapi-reply.raw"))
    assert isinstance(reply, CommandReply)
    assert reply.job_uuid == "95a4435d-79aa-4269-b68a-f292cdfd6308"
    assert reply.headers["Job-UUID"] == reply.job_uuid
    assert CommandReply("+OK accepted").job_uuid is None


def test_bare_ok_and_err_B_REPLY_5() -> None:
    assert CommandReply("+OK").message == ""
    assert CommandReply("-ERR").reason == ""
    assert not CommandReply("-ERR").ok


def test_issue9_item7_reply_without_ok_or_err_is_still_a_reply_B_REPLY_3_B_CONN_14() -> None:
    for data, text in (
        (b"Content-Type: command/reply\n\n", ""),
        (b"Content-Type: command/reply\nReply-Text: hm\n\n", "hm"),
    ):
        (frame,) = frames_of(data)
        reply = classify(frame)
        assert type(reply) is CommandReply
        assert reply.text == text
        assert not reply.ok and not reply.is_error
        assert reply.message == "" and reply.reason == ""


def test_api_error_body_is_still_an_api_reply_B_APIW_2() -> None:
    reply = classify(one_frame("02b-api-error-reply.raw"))
    assert isinstance(reply, ApiReply)
    assert reply.body == b"-ERR nosuchcommand Command not found!\n"
    assert reply.is_error and not reply.ok


def test_api_reply_kept_verbatim_B_REPLY_6() -> None:
    status = classify(one_frame("02-api-status-reply.raw"))
    assert isinstance(status, ApiReply)
    assert not status.ok and not status.is_error  # informational text
    exists = classify(one_frame("28-api-module-exists.raw"))
    assert isinstance(exists, ApiReply) and exists.text == "true"
    originate = classify(one_frame("13-api-originate-null-reply.raw"))
    assert isinstance(originate, ApiReply) and originate.ok


def test_disconnect_notice_body_kept_B_DISC_1() -> None:
    _, notice = (classify(f) for f in frames_of(raw("12-exit-tail.raw")))
    assert isinstance(notice, DisconnectNotice)
    assert notice.text.startswith("Disconnected, goodbye.")
    assert notice.disposition is None and not notice.is_linger


def test_linger_notice_told_apart_B_DISC_3() -> None:
    frames = frames_of(raw("34-outbound-after-hangup-stream.raw"))
    notice = classify(frames[-1])
    assert isinstance(notice, DisconnectNotice)
    assert notice.is_linger
    built = classify(frames_of(disconnect_notice(b"", [("Content-Disposition", "disconnect")]))[0])
    assert isinstance(built, DisconnectNotice) and not built.is_linger


def test_rude_rejection_B_WIRE_3() -> None:
    (frame,) = frames_of(rude_rejection())
    message = classify(frame)
    assert isinstance(message, RudeRejection)
    assert message.text == "Access Denied, go away.\n"


def test_log_data_B_CT_3() -> None:
    line = classify(one_frame("26-log-data.raw"))
    assert isinstance(line, LogLine)
    assert (line.level, line.file, line.function, line.line) == (
        6,
        "mod_commands.c",
        "log_function",
        7247,
    )
    assert line.user_data == ""
    assert line.text.endswith("hello-from-esl-test\n")


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: text/rtt-test\n\n",
        b"Content-Type: something/new\nContent-Length: 2\n\nhi",
        b"X: no content type\n\n",
        b"\n\n",
    ],
)
def test_unknown_content_types_are_explicit_B_CT_1_B_CT_2(data: bytes) -> None:
    (frame,) = frames_of(data)
    message = classify(frame)
    assert isinstance(message, UnknownFrame)
    assert message.frame is frame


def test_content_type_matching_trims_and_lowercases_B_CT_1_G_6() -> None:
    (frame,) = frames_of(
        b"Content-Type:  Text/Event-PLAIN \nContent-Length: 15\n\nEvent-Name: X\n\n"
    )
    assert type(classify(frame)).__name__ == "Event"
