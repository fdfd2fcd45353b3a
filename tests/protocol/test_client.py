"""The client state machine (B-CONN-4, B-AUTH-4, B-API-2/3, B-CONN-15)."""

from __future__ import annotations

import pytest

from esl_trio.protocol import (
    CONNECTION_CLOSED,
    NEED_DATA,
    Api,
    ApiReply,
    Auth,
    AuthRequest,
    BgApi,
    ClientProtocol,
    ClientState,
    CommandReply,
    DisconnectNotice,
    Event,
    EventSubscribe,
    Exit,
    LocalProtocolError,
    RemoteProtocolError,
    UserAuth,
)
from esl_trio.protocol.server import api_response, auth_request, command_reply
from tests._fixtures import raw


def messages(protocol: ClientProtocol, data: bytes) -> list[object]:
    protocol.receive_data(data)
    out = []
    while (item := protocol.next_event()) is not NEED_DATA:
        out.append(item)
        if item is CONNECTION_CLOSED:
            break
    return out


def authenticated() -> ClientProtocol:
    protocol = ClientProtocol()
    messages(protocol, raw("01a-auth-request.raw"))
    protocol.send(Auth("ClueCon"))
    messages(protocol, raw("01b-auth-reply.raw"))
    assert protocol.state is ClientState.AUTHENTICATED
    return protocol


def test_handshake_B_WIRE_2_B_CONN_4() -> None:
    protocol = ClientProtocol()
    assert protocol.state is ClientState.AWAIT_AUTH_REQUEST
    assert isinstance(messages(protocol, raw("01a-auth-request.raw"))[0], AuthRequest)
    assert protocol.state is ClientState.AUTH_REQUESTED
    assert protocol.send(Auth("ClueCon")) == b"auth ClueCon\n\n"
    assert protocol.state is ClientState.AUTHENTICATING
    (reply,) = messages(protocol, raw("01b-auth-reply.raw"))
    assert isinstance(reply, CommandReply) and reply.is_auth_accepted
    assert protocol.state is ClientState.AUTHENTICATED
    assert protocol.replies_pending == 0


def test_auth_not_sent_before_greeting_B_WIRE_2() -> None:
    with pytest.raises(LocalProtocolError, match="credentials"):
        ClientProtocol().send(Auth("ClueCon"))


def test_no_command_before_auth_B_CONN_4_B_AUTH_4() -> None:
    protocol = ClientProtocol()
    messages(protocol, auth_request())
    with pytest.raises(LocalProtocolError, match="before authentication"):
        protocol.send(Api("status"))
    assert protocol.send(Exit()) == b"exit\n\n"  # exit is allowed before auth


def test_auth_rejected_B_AUTH_2() -> None:
    protocol = ClientProtocol()
    messages(protocol, auth_request())
    protocol.send(Auth("wrong"))
    reply, notice = messages(protocol, raw("20-auth-failure-reply.raw"))
    assert isinstance(reply, CommandReply)
    assert reply.reason == "invalid"
    assert isinstance(notice, DisconnectNotice)
    assert protocol.state is ClientState.AUTH_REJECTED
    with pytest.raises(LocalProtocolError):
        protocol.send(Auth("again"))


def test_userauth_B_AUTH_5() -> None:
    protocol = ClientProtocol()
    messages(protocol, auth_request())
    protocol.send(UserAuth(user="1000", domain="default", password="pw"))
    (reply,) = messages(
        protocol, command_reply("+OK accepted", [("Allowed-Events", "all"), ("Allowed-API", "all")])
    )
    assert isinstance(reply, CommandReply)
    assert reply.headers["Allowed-API"] == "all"
    assert protocol.state is ClientState.AUTHENTICATED


def test_replies_are_matched_in_order_B_API_2_B_API_3() -> None:
    protocol = authenticated()
    protocol.send(Api("status"))
    protocol.send(BgApi("status", job_uuid="j1"))
    protocol.send(EventSubscribe(names=("ALL",)))
    assert protocol.replies_pending == 3
    data = (
        api_response("UP")
        + command_reply("+OK Job-UUID: j1")
        + command_reply("+OK event listener enabled json")
    )
    api, bg, ev = messages(protocol, data)
    assert (
        isinstance(api, ApiReply) and isinstance(bg, CommandReply) and isinstance(ev, CommandReply)
    )
    assert protocol.replies_pending == 0


def test_events_between_replies_do_not_consume_slots_B_WIRE_7() -> None:
    protocol = authenticated()
    protocol.send(Api("status"))
    got = messages(protocol, raw("06-heartbeat-event-plain.raw") + api_response("UP"))
    assert isinstance(got[0], Event) and isinstance(got[1], ApiReply)


def test_api_may_be_answered_by_permission_denied_B_AUTH_6() -> None:
    protocol = authenticated()
    protocol.send(Api("originate", "x"))
    (reply,) = messages(protocol, command_reply("-ERR permission denied"))
    assert isinstance(reply, CommandReply) and reply.reason == "permission denied"


def test_reply_with_nothing_waiting_is_desync_B_API_3() -> None:
    protocol = authenticated()
    with pytest.raises(RemoteProtocolError, match="no command waiting"):
        messages(protocol, api_response("stray"))
    assert protocol.state is ClientState.ERROR
    with pytest.raises(RemoteProtocolError):  # sticky
        protocol.next_event()


def test_api_response_to_non_api_command_is_desync() -> None:
    protocol = authenticated()
    protocol.send(EventSubscribe(names=("ALL",)), "slot")
    with pytest.raises(RemoteProtocolError, match="expects a command/reply"):
        messages(protocol, api_response("huh"))
    # The entry it could not answer stays pending, so the I/O layer can still fail it.
    assert protocol.pending_tokens() == ["slot"]


def test_issue10_item4_each_reply_comes_back_with_its_token() -> None:
    protocol = authenticated()
    protocol.send(Api("status"), "first")
    protocol.send(EventSubscribe(names=("ALL",)), "second")
    assert protocol.pending_tokens() == ["first", "second"]
    seen = []
    for data in (api_response("UP"), command_reply("+OK event listener enabled plain")):
        (reply,) = messages(protocol, data)
        assert protocol.answered is not None
        seen.append((type(reply).__name__, protocol.answered.token, protocol.answered.command.verb))
    assert seen == [("ApiReply", "first", "api"), ("CommandReply", "second", "event")]
    assert protocol.pending_tokens() == []


def test_issue8_item18_bgapi_accepted_by_an_api_response_job_uuid() -> None:
    # What FreeSWITCH 1.11 sends for ``bgapi reload mod_event_socket`` before it closes.
    protocol = authenticated()
    job = BgApi("reload", "mod_event_socket")
    protocol.send(job, "job")
    body = f"+OK Job-UUID: {job.job_uuid}\n"
    (reply,) = messages(protocol, api_response(body))
    assert isinstance(reply, ApiReply) and reply.text == body
    assert protocol.answered is not None and protocol.answered.token == "job"


def test_issue8_item18_other_api_response_to_bgapi_is_desync() -> None:
    protocol = authenticated()
    protocol.send(BgApi("status"))
    with pytest.raises(RemoteProtocolError, match="bgapi"):
        messages(protocol, api_response("UP 0 years"))


def test_second_auth_request_is_protocol_error_B_CONN_15() -> None:
    protocol = authenticated()
    with pytest.raises(RemoteProtocolError, match="auth/request"):
        messages(protocol, auth_request())


def test_clean_close_and_truncation_B_DISC_4() -> None:
    protocol = authenticated()
    assert messages(protocol, b"") == [CONNECTION_CLOSED]
    assert protocol.state is ClientState.CLOSED
    with pytest.raises(LocalProtocolError):
        protocol.send(Api("status"))
    cut = authenticated()
    cut.receive_data(b"Content-Type: api/resp")
    assert cut.next_event() is NEED_DATA
    cut.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        cut.next_event()


def test_no_second_auth_after_success() -> None:
    with pytest.raises(LocalProtocolError, match="already"):
        authenticated().send(Auth("x"))
