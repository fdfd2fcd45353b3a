"""ClientProtocol in outbound mode (issue 12 item 1): ``connect`` first, no auth, channel data."""

from __future__ import annotations

import pytest

from esl_trio.protocol import (
    Api,
    Auth,
    ChannelData,
    ChannelEvent,
    ClientProtocol,
    ClientState,
    Connect,
    Exit,
    LocalProtocolError,
    MyEvents,
    RemoteProtocolError,
)
from tests._fixtures import raw

CONNECT_REPLY = raw("30-outbound-connect-reply.raw")
UUID = "74bfaba6-c80f-4938-ac25-144cf48ff82f"


def connected() -> ClientProtocol[int]:
    protocol = ClientProtocol[int](outbound=True)
    protocol.send(Connect(), 1)
    protocol.receive_data(CONNECT_REPLY)
    assert isinstance(protocol.next_event(), ChannelData)
    return protocol


def test_issue12_item1_connect_comes_first_and_alone() -> None:
    protocol = ClientProtocol[int](outbound=True)
    assert protocol.state is ClientState.AWAIT_CONNECT
    with pytest.raises(LocalProtocolError, match="connect comes first"):
        protocol.send(MyEvents())
    assert protocol.send(Connect(), 1) == b"connect\n\n"
    assert protocol.state is ClientState.CONNECTING
    with pytest.raises(LocalProtocolError, match="connect comes first"):
        protocol.send(Api("status"))


def test_issue12_item1_exit_may_be_sent_before_connect() -> None:
    assert ClientProtocol[int](outbound=True).send(Exit()) == b"exit\n\n"


def test_issue12_item1_the_connect_reply_is_channel_data_and_opens_the_socket() -> None:
    protocol = ClientProtocol[int](outbound=True)
    protocol.send(Connect(), 7)
    for i in range(0, len(CONNECT_REPLY), 97):  # chunk boundaries do not matter
        protocol.receive_data(CONNECT_REPLY[i : i + 97])
    data = protocol.next_event()
    assert isinstance(data, ChannelData)
    assert protocol.answered is not None and protocol.answered.token == 7
    assert protocol.state is ClientState.CONNECTED
    assert data.text == "+OK" and data.ok
    assert data.unique_id == UUID
    assert (data.socket_mode, data.control) == ("async", "full")
    event = data.to_event()
    assert isinstance(event, ChannelEvent) and event.name == "CHANNEL_DATA"
    assert event.unique_id == UUID
    assert event.get("Caller-Caller-ID-Name") == data.get("Caller-Caller-ID-Name")
    assert dict(event.headers.items()) == {
        n: v for n, v in data.headers.items() if n != "Content-Type"
    } | {"Content-Type": "command/reply"}
    assert protocol.send(MyEvents(), 8) == b"myevents\n\n"  # now anything goes


def test_issue12_item1_no_credentials_on_an_outbound_socket() -> None:
    protocol = connected()
    with pytest.raises(LocalProtocolError, match="no credentials"):
        protocol.send(Auth("ClueCon"))


def test_issue12_item4_an_auth_request_on_an_outbound_socket_is_a_protocol_error() -> None:
    protocol = ClientProtocol[int](outbound=True)
    protocol.receive_data(b"Content-Type: auth/request\n\n")
    with pytest.raises(RemoteProtocolError, match="auth/request"):
        protocol.next_event()
    assert protocol.state is ClientState.ERROR


def test_issue12_item4_connect_answered_without_channel_data_is_a_protocol_error() -> None:
    protocol = ClientProtocol[int](outbound=True)
    protocol.send(Connect(), 1)
    protocol.receive_data(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    with pytest.raises(RemoteProtocolError, match="without channel data"):
        protocol.next_event()


def test_inbound_mode_is_unchanged_by_the_outbound_states() -> None:
    protocol = ClientProtocol[int]()
    assert protocol.state is ClientState.AWAIT_AUTH_REQUEST and not protocol.outbound
    with pytest.raises(LocalProtocolError, match="before authentication"):
        protocol.send(Connect())


def test_headers_keep_str_subclass_values_whole() -> None:
    from esl_trio.protocol import EventFormat, Headers

    headers = Headers([("X", EventFormat.JSON), ("y", "1"), ("Y", "2")])
    assert headers.get("x") == "json" and headers.get_all("X") == ["json"]
    assert headers["Y"] == "1" and headers.get_all("y") == ["1", "2"]


def test_event_peek_reads_one_header_without_decoding_the_event() -> None:
    from esl_trio.protocol import EventFormat, FrameParser, make_event

    parser = FrameParser()
    parser.feed(raw("07-channel_execute-event-plain.raw"))
    frame = parser.next_frame()
    assert frame is not None
    event = make_event(EventFormat.PLAIN, frame.body)
    assert event.peek("Application") == "playback"
    assert event.peek("Unique-ID") == event.unique_id
    assert event.peek("Event-Date-Local") == "2026-11-26 10:59:52"  # decoded
    assert event._headers is None  # nothing else was decoded
    assert event.peek("Application") == event.get("Application")  # and it agrees with get
