"""The fake FreeSWITCH on the wire: greeting, auth, api, bgapi, lifetime, TCP.

Byte-exact comparisons use the recorded FreeSWITCH traffic in ``tests/fixtures``.
"""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel

from esl_trio.protocol import (
    CONNECTION_CLOSED,
    NEED_DATA,
    Api,
    ApiReply,
    Auth,
    AuthRequest,
    BackgroundJobEvent,
    BgApi,
    ClientProtocol,
    ClientState,
    CommandReply,
    DisconnectNotice,
    Event,
    EventSubscribe,
    Exit,
    FilterAdd,
    Log,
    SendEvent,
    UnknownCommand,
    UserAuth,
    classify,
)
from esl_trio.protocol.server import GOODBYE
from esl_trio.testing import FakeFreeSwitch, UserCredentials, open_fake_freeswitch
from tests._fixtures import one_frame, raw
from tests.testing._raw_client import Closed, RawClient, connect, goodbye

# -- greeting and auth (B-WIRE-2, B-AUTH-*) ----------------------------------------------------


async def test_greeting_is_exactly_auth_request_b_wire_2():
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        greeting = raw("01a-auth-request.raw")
        assert await client.raw_bytes(len(greeting)) == greeting


async def test_auth_accepted_reply_bytes_b_auth_1():
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        await client.raw_bytes(len(raw("01a-auth-request.raw")))
        await client.send(Auth("ClueCon"))
        expected = raw("01b-auth-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected
        conn = await fs.wait_authenticated(1)
        assert conn.authenticated
        assert conn.id == 1


async def test_wrong_password_invalid_then_notice_then_close_b_auth_2():
    async with open_fake_freeswitch("secret") as fs:
        client = RawClient(await fs.connect())
        await client.next()
        await client.send(Auth("ClueCon"))
        tail = await client.read_all()
        assert tail == raw("20-auth-failure-reply.raw")  # then EOF
        conn = fs.connection(1)
        await conn.wait_closed()
        assert conn.close_reason == "auth failed"
        assert not conn.authenticated
        assert fs.connections == []


async def test_before_auth_other_commands_get_command_not_found_b_auth_4():
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        await client.next()
        # api before auth: a command/reply, not an api/response, and the socket stays open
        assert await client.text(b"api status\n\n") == "-ERR command not found"
        assert await client.text(b"event plain ALL\n\n") == "-ERR command not found"
        assert await client.text(b"nosuchthing\n\n") == "-ERR command not found"
        assert await client.text(Auth("ClueCon")) == "+OK accepted"
        assert [type(c) for _, c in fs.commands] == [Api, EventSubscribe, UnknownCommand, Auth]


async def test_exit_before_auth_says_bye_b_cmd_1():
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        await client.next()
        await client.send(Exit())
        assert await client.read_all() == raw("12-exit-tail.raw")
        assert fs.connection(1).close_reason == "exit"


async def test_exit_after_auth_bye_notice_close_b_cmd_1():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send_raw(b"exit please\n\n")  # anything starting with exit
        messages = await client.expect_close()
        assert isinstance(messages[0], CommandReply)
        assert messages[0].text == "+OK bye"
        assert goodbye(messages).body == GOODBYE


async def test_auth_again_after_auth_is_command_not_found():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        assert await client.text(Auth("ClueCon")) == "-ERR command not found"


async def test_empty_auth_is_invalid_and_closes():
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        await client.next()
        await client.send_raw(b"auth \n\n")
        messages = await client.expect_close()
        assert messages[0].text == "-ERR invalid"
        goodbye(messages)


async def test_auth_timeout_disconnects_idle_connection_b_auth_3(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        await client.next()
        start = trio.current_time()
        messages = await client.expect_close(timeout=100)
        assert trio.current_time() - start == pytest.approx(25.0)
        assert goodbye(messages).body == GOODBYE
        assert fs.connection(1).close_reason == "auth timeout"


async def test_auth_timeout_stops_after_first_command_b_auth_3(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = RawClient(await fs.connect())
        await client.next()
        assert await client.text(b"hello\n\n") == "-ERR command not found"
        await trio.sleep(60)
        assert await client.text(Auth("ClueCon")) == "+OK accepted"


async def test_auth_timeout_can_be_disabled(autojump_clock):
    async with open_fake_freeswitch(auth_timeout=None) as fs:
        client = RawClient(await fs.connect())
        await client.next()
        await trio.sleep(3600)
        assert await client.text(Auth("ClueCon")) == "+OK accepted"


# -- userauth (B-AUTH-5/6) ---------------------------------------------------------------------

USERS = {
    "1000@default": UserCredentials(
        "pw1000",
        allowed_events="CHANNEL_ANSWER,BACKGROUND_JOB,CUSTOM,my::allowed",
        allowed_api="status,bgapi,echo",
        allowed_log=False,
    ),
    "admin@default": UserCredentials("adminpw"),
}


async def userauth(fs: FakeFreeSwitch, user: str, domain: str, password: str) -> RawClient:
    client = RawClient(await fs.connect())
    assert isinstance(await client.next(), AuthRequest)
    await client.send(UserAuth(user, domain, password))
    return client


async def test_userauth_accepted_with_allowed_headers_b_auth_5():
    async with open_fake_freeswitch(users=USERS) as fs:
        client = await userauth(fs, "1000", "default", "pw1000")
        reply = await client.reply()
        assert isinstance(reply, CommandReply)
        assert reply.text == "+OK accepted"
        assert reply.headers.get("Allowed-Events") == (
            "CHANNEL_ANSWER,BACKGROUND_JOB,CUSTOM,my::allowed"
        )
        assert reply.headers.get("Allowed-API") == "status,bgapi,echo"
        assert reply.headers.get("Allowed-LOG") == "false"
        conn = await fs.wait_authenticated(1)
        assert conn.user == "1000@default"


async def test_userauth_unrestricted_user_says_all_b_auth_5():
    async with open_fake_freeswitch(users=USERS) as fs:
        client = await userauth(fs, "admin", "default", "adminpw")
        reply = await client.reply()
        assert reply.headers.get("Allowed-Events") == "all"
        assert reply.headers.get("Allowed-API") == "all"
        assert reply.headers.get("Allowed-LOG") == "true"
        assert await client.api("version")


@pytest.mark.parametrize(
    ("user", "domain", "password"),
    [("1000", "default", "wrong"), ("9999", "default", "pw1000"), ("1000", "other", "pw1000")],
)
async def test_userauth_failure_invalid_and_close_b_auth_5(user, domain, password):
    async with open_fake_freeswitch(users=USERS) as fs:
        client = await userauth(fs, user, domain, password)
        messages = await client.expect_close()
        assert messages[0].text == "-ERR invalid"
        goodbye(messages)


async def test_userauth_without_domain_is_invalid_b_auth_5():
    async with open_fake_freeswitch(users=USERS) as fs:
        client = RawClient(await fs.connect())
        await client.next()
        await client.send_raw(b"userauth 1000:pw1000\n\n")
        messages = await client.expect_close()
        assert messages[0].text == "-ERR invalid"


async def test_userauth_permissions_b_auth_6():
    async with open_fake_freeswitch(users=USERS) as fs:
        client = await userauth(fs, "1000", "default", "pw1000")
        await client.reply()
        # a denied api is a command/reply, not an api/response
        assert await client.text(b"api version\n\n") == "-ERR permission denied"
        assert await client.api("status")
        assert await client.text(BgApi("version")) == "-ERR permission denied"
        # nested: bgapi is allowed, but not what it wraps
        assert await client.text(Api("bgapi", "version")) == "-ERR permission denied"
        reply = await client.command(Api("bgapi", "echo hi"))
        assert isinstance(reply, ApiReply)
        assert await client.text(EventSubscribe("plain", ["HEARTBEAT"])) == (
            "-ERR permission denied"
        )
        assert await client.text(EventSubscribe("plain", ["ALL"])) == "-ERR permission denied"
        assert await client.text(EventSubscribe("plain", ["CHANNEL_ANSWER"])) == (
            "+OK event listener enabled plain"
        )
        assert await client.text(EventSubscribe("plain", [], ["my::denied"])) == (
            "-ERR permission denied"
        )
        assert await client.text(EventSubscribe("json", [], ["my::allowed"])) == (
            "+OK event listener enabled json"
        )
        assert await client.text(Log(7)) == "-ERR permission denied"


# -- api (B-APIW-*) ----------------------------------------------------------------------------


async def test_api_status_frame_layout_like_fixture_b_apiw_1():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send(Api("status"))
        reply = await client.next()
        assert isinstance(reply, ApiReply)
        real = one_frame("02-api-status-reply.raw")
        assert list(reply.headers) == list(real.headers)  # Content-Type first
        assert reply.headers["Content-Length"] == str(len(reply.body))
        assert reply.body.startswith(b"UP 0 years, 0 days, 0 hours, 0 minutes, ")
        assert reply.body.splitlines()[1:] == real.body.splitlines()[1:]  # same shape


async def test_api_unknown_command_bytes_b_apiw_2():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send(Api("nosuchcommand"))
        expected = raw("02b-api-error-reply.raw")
        assert await client.raw_bytes(len(expected)) == expected


async def test_api_module_exists_bytes_like_fixture():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send(Api("module_exists", "mod_loopback"))
        expected = raw("28-api-module-exists.raw")
        assert await client.raw_bytes(len(expected)) == expected
        assert await client.api("module_exists mod_nothing") == b"false"


async def test_api_default_handlers():
    async with open_fake_freeswitch(hostname="pbx1") as fs:
        client = await connect(fs)
        assert await client.api("echo hello  world") == b"hello  world"
        assert await client.api("hostname") == b"pbx1"
        assert (await client.api("version")).startswith(b"FreeSWITCH Version 1.11.3-dev")
        assert (await client.api("uptime")).isdigit()
        assert await client.api("show channels") == b"\n0 total.\n"
        fs.channels.add("abc")
        shown = (await client.api("show channels")).decode()
        assert shown.startswith("uuid,direction,")
        assert "\nabc," in shown
        assert shown.endswith("\n1 total.\n")
        assert await client.api("uuid_exists abc") == b"true"


async def test_api_handler_output_rules_b_apiw_2():
    async with open_fake_freeswitch() as fs:
        fs.api_handlers["text"] = lambda args: f"got {args}"
        fs.api_handlers["raw"] = lambda args: b"\x00\xff"
        fs.api_handlers["empty"] = lambda args: ""
        fs.api_handlers["none"] = lambda args: None

        async def slow(args):
            await trio.lowlevel.checkpoint()
            return "+OK slow\n"

        fs.api_handlers["slow"] = slow
        client = await connect(fs)
        assert await client.api("text a b") == b"got a b"
        assert await client.api("raw") == b"\x00\xff"
        assert await client.api("empty") == b"-ERR no reply\n"
        assert await client.api("none") == b"Command returned no output!"
        assert await client.api("slow") == b"+OK slow\n"
        del fs.api_handlers["status"]
        assert await client.api("status") == b"-ERR status Command not found!\n"


async def test_api_handler_error_is_reraised_when_the_fake_closes():
    def broken(args):
        raise ZeroDivisionError("boom")

    async def scenario():
        async with open_fake_freeswitch() as fs:
            fs.api_handlers["broken"] = broken
            client = await connect(fs)
            body = await client.api("broken")
            assert body.startswith(b"-ERR broken handler raised ZeroDivisionError")
            assert len(fs.handler_errors) == 1
            assert await client.api("echo still serving") == b"still serving"

    with pytest.raises(ZeroDivisionError, match="boom"):
        await scenario()


async def test_slow_api_stalls_that_connection_only_b_apiw_4(autojump_clock):
    async with open_fake_freeswitch() as fs:

        async def slow(args):
            await trio.sleep(10)
            return "done"

        fs.api_handlers["slow"] = slow
        first = await connect(fs, events="plain HEARTBEAT")
        other = await connect(fs)
        await first.send(Api("slow"))
        await first.send(Api("echo", "after"))
        await fs.wait_command("api echo after")
        fs.emit_heartbeat()  # queued on the first connection, behind the slow reply
        start = trio.current_time()
        assert await other.api("echo quick") == b"quick"
        assert trio.current_time() == start
        assert (await first.next(timeout=30)).body == b"done"
        assert trio.current_time() - start == pytest.approx(10)
        assert isinstance(await first.next(), ApiReply)  # replies in order (B-WIRE-6)
        assert (await first.event()).name == "HEARTBEAT"


async def test_api_fires_api_event_after_the_reply():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="plain API")
        await client.send(Api("echo", "x y"))
        assert isinstance(await client.next(), ApiReply)
        event = await client.event()
        assert event.name == "API"
        assert event.get("API-Command") == "echo"
        assert event.get("API-Command-Argument") == "x y"
        assert event.get("Event-Calling-Function") == "switch_api_execute"


# -- bgapi (B-BGW-*) ---------------------------------------------------------------------------


async def test_bgapi_reply_then_background_job_b_bgw_2_3_4():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="plain BACKGROUND_JOB")
        job = "95a4435d-79aa-4269-b68a-f292cdfd6308"
        await client.send(BgApi("status", job_uuid=job))
        expected = raw("04-bgapi-reply.raw")  # the client's id comes back unchanged
        assert await client.raw_bytes(len(expected)) == expected
        event = await client.event()
        assert isinstance(event, BackgroundJobEvent)
        assert event.job_uuid == job
        assert event.job_command == "status"
        assert event.job_command_arg is None  # only when args were given
        assert event.body.startswith(b"UP 0 years")
        assert event.get("Event-Calling-File") == "mod_event_socket.c"
        assert event.get("Event-Calling-Function") == "api_exec"
        real = classify(one_frame("05-background-job-event-plain.raw"))
        assert isinstance(real, Event)
        assert [n for n, _ in event.headers.items()] == [n for n, _ in real.headers.items()]


async def test_bgapi_args_give_job_command_arg_b_bgw_4():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="json BACKGROUND_JOB")
        reply = await client.command(BgApi("echo", "hello there"))
        assert isinstance(reply, CommandReply)
        assert reply.job_uuid == reply.headers["Job-UUID"]
        event = await client.event()
        assert event.get("Job-Command-Arg") == "hello there"
        assert event.body == b"hello there"
        assert event.job_uuid == reply.job_uuid


async def test_bgapi_unknown_command_body_b_bgw_4():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="plain BACKGROUND_JOB")
        await client.command(BgApi("nosuch"))
        assert (await client.event()).body == b"-ERR nosuch Command not found!\n"


async def test_bgapi_empty_output_is_empty_body_b_bgw_4():
    async with open_fake_freeswitch() as fs:
        fs.api_handlers["quiet"] = lambda args: ""
        client = await connect(fs, events="plain BACKGROUND_JOB")
        await client.command(BgApi("quiet"))
        assert (await client.event()).body == b""


async def test_no_background_job_without_subscription_b_bgw_5(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="plain CHANNEL_ANSWER")
        await client.command(BgApi("status"))
        await trio.sleep(1)
        assert fs.pending_jobs == {}
        await client.expect_nothing(5)
        assert await client.api("echo barrier") == b"barrier"


async def test_background_job_goes_to_every_subscriber_b_bgw_5():
    async with open_fake_freeswitch() as fs:
        caller = await connect(fs, events="plain BACKGROUND_JOB")
        other = await connect(fs, events="json ALL")
        silent = await connect(fs, events="plain CHANNEL_CREATE")
        reply = await caller.command(BgApi("echo", "x"))
        assert (await caller.event()).job_uuid == reply.job_uuid
        names = [(await other.event()).name for _ in range(2)]
        assert names == ["API", "BACKGROUND_JOB"]
        assert await silent.api("echo quiet") == b"quiet"  # nothing queued before it


async def test_filter_hides_background_job_unless_event_name_filter_b_subw_5(autojump_clock):
    async with open_fake_freeswitch() as fs:
        client = await connect(fs, events="plain BACKGROUND_JOB CHANNEL_ANSWER")
        assert await client.text(FilterAdd("Unique-ID", "chan-1")) == (
            "+OK filter added. [Unique-ID]=[chan-1]"
        )
        await client.command(BgApi("echo", "hidden"))
        await trio.sleep(1)
        await client.expect_nothing(2)
        await client.text(FilterAdd("Event-Name", "BACKGROUND_JOB"))
        reply = await client.command(BgApi("echo", "seen"))
        event = await client.event()
        assert event.job_uuid == reply.job_uuid
        assert event.body == b"seen"


async def test_bgapi_delay_completes_on_a_later_connection_b_bgw_6(autojump_clock):
    async with open_fake_freeswitch() as fs:
        fs.bgapi_delay = 5.0
        first = await connect(fs, events="plain BACKGROUND_JOB")
        reply = await first.command(BgApi("echo", "late", job_uuid="job-1"))
        assert reply.job_uuid == "job-1"
        assert set(fs.pending_jobs) == {"job-1"}
        await fs.drop_all()
        second = await connect(fs, events="json BACKGROUND_JOB")
        start = trio.current_time()
        event = await second.event(timeout=30)
        assert event.job_uuid == "job-1"
        assert event.body == b"late"
        assert trio.current_time() - start <= 5.0
        assert fs.pending_jobs == {}


async def test_bgapi_completions_out_of_order_b_bgw_6(autojump_clock):
    async with open_fake_freeswitch() as fs:
        fs.bgapi_delay = lambda command: float(command.args)
        client = await connect(fs, events="plain BACKGROUND_JOB")
        for seconds in ("3", "1", "2"):
            await client.command(BgApi("echo", seconds))
        bodies = [(await client.event(timeout=30)).body for _ in range(3)]
        assert bodies == [b"1", b"2", b"3"]


async def test_bgapi_async_handler_awaits_b_bgw_6(autojump_clock):
    async with open_fake_freeswitch() as fs:

        async def originate(args):
            await trio.sleep(7)
            return "+OK 1234\n"

        fs.api_handlers["originate"] = originate
        client = await connect(fs, events="plain BACKGROUND_JOB")
        start = trio.current_time()
        await client.command(BgApi("originate", "null/1 &park"))
        assert trio.current_time() == start  # accepted at once
        event = await client.event(timeout=30)
        assert trio.current_time() - start == pytest.approx(7)
        assert event.body == b"+OK 1234\n"


async def test_manual_job_completion(autojump_clock):
    async with open_fake_freeswitch() as fs:
        fs.auto_complete_jobs = False
        client = await connect(fs, events="plain BACKGROUND_JOB")
        reply = await client.command(BgApi("status", job_uuid="job-9"))
        await trio.sleep(100)
        assert set(fs.pending_jobs) == {"job-9"}
        fs.complete_job("job-9", "-ERR NO_ROUTE_DESTINATION\n")
        event = await client.event()
        assert event.job_uuid == reply.job_uuid
        assert event.body == b"-ERR NO_ROUTE_DESTINATION\n"
        with pytest.raises(KeyError):
            fs.complete_job("job-9")


# -- the whole conversation through ClientProtocol ---------------------------------------------


async def test_client_protocol_conversation():
    """A strict ClientProtocol accepts every reply kind and order the fake produces."""
    async with open_fake_freeswitch() as fs:
        stream = await fs.connect()
        protocol = ClientProtocol()
        received = []

        async def next_message():
            while (message := protocol.next_event()) is NEED_DATA:
                protocol.receive_data(await stream.receive_some(65536))
            received.append(message)
            return message

        assert isinstance(await next_message(), AuthRequest)
        await stream.send_all(protocol.send(Auth("ClueCon")))
        assert (await next_message()).is_auth_accepted
        assert protocol.state is ClientState.AUTHENTICATED
        commands = [
            EventSubscribe("json", ["BACKGROUND_JOB"], ["my::evt"]),
            FilterAdd("Event-Name", "BACKGROUND_JOB"),
            Api("status"),
            BgApi("echo", "hi"),
            Log(6),
            SendEvent("CUSTOM", {"Event-Subclass": "my::evt"}, b"body"),
        ]
        for command in commands:
            await stream.send_all(protocol.send(command))
        while protocol.replies_pending:
            await next_message()
        await stream.send_all(protocol.send(Exit()))
        while await next_message() is not CONNECTION_CLOSED:
            pass
        kinds = [type(m).__name__ for m in received]
        assert kinds.count("CommandReply") == 7  # auth, event, filter, bgapi, log, sendevent, bye
        assert kinds.count("ApiReply") == 1
        assert "DisconnectNotice" in kinds
        notices = [m for m in received if isinstance(m, DisconnectNotice)]
        assert notices[-1].body == GOODBYE


# -- lifetime ----------------------------------------------------------------------------------


async def test_body_exception_is_not_wrapped_in_exception_group():
    async def scenario():
        async with open_fake_freeswitch() as fs:
            await connect(fs)
            raise ValueError("from the test")

    with pytest.raises(ValueError, match="from the test") as caught:
        await scenario()
    assert type(caught.value) is ValueError


async def test_exit_closes_everything_and_refuses_new_connections():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
    with pytest.raises(Closed):
        await client.next()
    with pytest.raises(RuntimeError, match="not running"):
        await fs.connect()


async def test_client_vanishing_does_not_crash_the_fake():
    async with open_fake_freeswitch() as fs:
        gone = await connect(fs, events="plain ALL")
        await gone.send_raw(b"api sta")  # half a command
        await gone.stream.aclose()
        fs.emit("CHANNEL_ANSWER")
        await fs.connection(1).wait_closed()
        mid_reply = await connect(fs)
        await mid_reply.send(Api("status"))
        await mid_reply.stream.aclose()
        await fs.connection(2).wait_closed()
        survivor = await connect(fs)
        assert await survivor.api("echo ok") == b"ok"


async def test_eof_from_client_gets_goodbye_then_close():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send(Api("echo", "last"))
        await client.stream.send_eof()
        messages = await client.expect_close()
        assert messages[0].body == b"last"
        assert goodbye(messages).body == GOODBYE
        assert fs.connection(1).close_reason == "eof"


async def test_wait_helpers():
    async with open_fake_freeswitch() as fs:
        async with trio.open_nursery() as nursery:
            results = {}

            async def waiter(name, coro):
                results[name] = await coro

            nursery.start_soon(waiter, "conn2", fs.wait_connections(2))
            nursery.start_soon(waiter, "auth1", fs.wait_authenticated(1))
            nursery.start_soon(waiter, "api2", fs.wait_command(Api, count=2))
            nursery.start_soon(waiter, "echo", fs.wait_command("api echo b"))
            nursery.start_soon(waiter, "pred", fs.wait_command(lambda c: c.verb == "api"))
            first = await connect(fs)
            second = RawClient(await fs.connect())
            await first.api("echo a")
            await first.api("echo b")
        assert results["conn2"].id == 2
        assert results["auth1"].id == 1
        assert results["api2"] == Api("echo", "b")
        assert results["echo"] == Api("echo", "b")
        assert results["pred"] == Api("echo", "a")
        assert await fs.wait_command(Api, connection=1) == Api("echo", "a")
        assert fs.connection(1).commands == [Auth("ClueCon"), Api("echo", "a"), Api("echo", "b")]
        assert [c.id for c in fs.connections] == [1, 2]
        assert len(fs.all_connections) == 2
        del second


# -- TCP ---------------------------------------------------------------------------------------


async def test_tcp_smoke():
    async with open_fake_freeswitch() as fs:
        port = await fs.serve_tcp()
        assert fs.tcp_ports == [port]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = RawClient(stream)
        assert isinstance(await client.next(), AuthRequest)
        assert await client.text(Auth("ClueCon")) == "+OK accepted"
        assert await client.text(EventSubscribe("json", ["HEARTBEAT"])) == (
            "+OK event listener enabled json"
        )
        assert (await client.api("status")).startswith(b"UP ")
        fs.emit_heartbeat()
        assert (await client.event()).name == "HEARTBEAT"
        conn = fs.connections[0]
        assert conn.peer.startswith("127.0.0.1:")
        await client.send(Exit())
        messages = await client.expect_close()
        assert messages[0].text == "+OK bye"
        await stream.aclose()
