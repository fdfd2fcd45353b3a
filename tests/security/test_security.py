"""Security: command injection, a hostile peer, and the secrecy of the password.

1. CR/LF/NUL injection (B-SER-1, B-SER-2): every public argument that reaches the wire is
   checked before anything is written. For each argument and each way of smuggling a line break
   (LF, CR, CRLF CRLF + a second command, NUL; leading, embedded, trailing) the call must raise
   a ValueError (LocalProtocolError is one), nothing may be written (a fenced ``api`` round trip
   proves the fake read everything), and no command line the fake ever received may contain the
   injected text.
2. A hostile peer (B-FRAME-11, B-LIM-*): an endless header block, a 2 GiB Content-Length, a
   slowloris trickle; memory stays within a few hundred kB of the configured limits
   (tracemalloc peak), and the connection ends with a RemoteProtocolError named in
   ``health().last_disconnect``; the runtime then recovers.
3. The password (G-5) never appears in repr/str of the config or runtime, ``health()`` JSON,
   replay captures, authentication errors (message, repr, formatted traceback) or log records.
"""

from __future__ import annotations

import json
import logging
import traceback
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
import trio

from esl_trio import AuthenticationError, EslRuntime, RuntimeConfig, RuntimeState, open_esl_runtime
from esl_trio.config import HeartbeatConfig, Limits, ReplayConfig, RetryPolicy, SubscriptionConfig
from esl_trio.protocol import Command, SendEvent, SendMsg
from esl_trio.replay import JsonLinesSink
from esl_trio.testing import FakeFreeSwitch, UserCredentials, open_fake_freeswitch

MARKER = "INJECTED"
SEPARATORS = {"lf": "\n", "cr": "\r", "crlf2": "\r\n\r\napi ", "nul": "\0"}
PAYLOADS = {
    f"{where}-{name}": text
    for name, sep in SEPARATORS.items()
    for where, text in (
        ("leading", f"{sep}{MARKER}"),
        ("embedded", f"ok{sep}{MARKER}"),
        ("trailing", f"{MARKER}{sep}"),
    )
}


def base_config(**changes: Any) -> RuntimeConfig:
    config = RuntimeConfig(
        host="fake-freeswitch",
        heartbeat=HeartbeatConfig.disabled(),
        retry=RetryPolicy(initial_delay=0.5, max_delay=4.0),
    )
    return attrs.evolve(config, **changes)


@pytest.fixture
async def fs() -> AsyncIterator[FakeFreeSwitch]:
    async with open_fake_freeswitch() as fake:
        yield fake


def lines(fs: FakeFreeSwitch) -> list[str]:
    """Every command line the fake received (what FreeSWITCH would have executed)."""
    out = []
    for _, command in fs.commands:
        raw = command.to_bytes() if isinstance(command, Command) else command.line.encode()
        out.append(raw.decode("utf-8", "replace"))
    return out


# -- 1. injection ------------------------------------------------------------------------------

Call = Callable[[EslRuntime, str], Awaitable[object]]


async def _logs_receiver(rt: EslRuntime, value: str) -> None:
    async with rt.logs.receiver(level=value):  # type: ignore[arg-type]
        pass


async def _subscribe_custom_under_all(rt: EslRuntime, value: str) -> None:
    await rt.subscriptions.subscribe_all()
    await rt.subscriptions.subscribe_custom(value)


async def _unsubscribe_under_all(rt: EslRuntime, value: str) -> None:
    await rt.subscriptions.subscribe_all()
    await rt.subscriptions.unsubscribe(value)


ARGUMENTS: dict[str, Call] = {
    "api.command": lambda rt, v: rt.api(v),
    "api.args": lambda rt, v: rt.api("status", v),
    "bgapi.command": lambda rt, v: rt.bgapi(v),
    "bgapi.args": lambda rt, v: rt.bgapi("status", v),
    "sendevent.name": lambda rt, v: rt.sendevent(v),
    "sendevent.header-name": lambda rt, v: rt.sendevent("CUSTOM", {v: "x"}),
    "sendevent.header-value": lambda rt, v: rt.sendevent("CUSTOM", {"X-Test": v}),
    "sendevent.header-pair": lambda rt, v: rt.sendevent("CUSTOM", [("X-Ok", "ok"), (v, v)]),
    "execute.uuid": lambda rt, v: rt.execute(v, "playback", "tone"),
    "execute.app": lambda rt, v: rt.execute("call-1", v, "tone"),
    "execute.arg": lambda rt, v: rt.execute("call-1", "playback", v),
    "hangup.uuid": lambda rt, v: rt.hangup(v),
    "hangup.cause": lambda rt, v: rt.hangup("call-1", v),
    "sendmsg.uuid": lambda rt, v: rt.sendmsg(SendMsg(v)),
    "sendmsg.header-name": lambda rt, v: rt.sendmsg(SendMsg("call-1", {v: "x"})),
    "sendmsg.header-value": lambda rt, v: rt.sendmsg(SendMsg("call-1", {"x": v})),
    "subscribe": lambda rt, v: rt.subscriptions.subscribe(v),
    "subscribe.second-name": lambda rt, v: rt.subscriptions.subscribe("CHANNEL_ANSWER", v),
    "subscribe_custom": lambda rt, v: rt.subscriptions.subscribe_custom(v),
    "subscribe_custom.under-all": _subscribe_custom_under_all,
    "unsubscribe.under-all": _unsubscribe_under_all,
    "add_filter.header": lambda rt, v: rt.subscriptions.add_filter(v, "x"),
    "add_filter.value": lambda rt, v: rt.subscriptions.add_filter("Unique-ID", v),
    "set_format": lambda rt, v: rt.subscriptions.set_format(v),
    "logs.receiver.level": _logs_receiver,
}
#: Arguments where some payloads are accepted instead of refused (reasons in the marks).
# Bugs this suite found are fixed; a new gap would be pinned here with a strict xfail.
KNOWN_GAPS: dict[str, str] = {}


def _argument_params() -> list[Any]:
    params = []
    for name in ARGUMENTS:
        marks = []
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.mark.parametrize("argument", _argument_params())
async def test_line_breaks_in_any_argument_are_refused_before_writing_B_SER_2(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, argument: str
) -> None:
    call = ARGUMENTS[argument]
    accepted: list[str] = []  # payloads the call did not refuse with a ValueError
    written: list[str] = []  # command lines a refused call still wrote
    async with open_esl_runtime(base_config(), connector=fs.connector) as rt:
        for label, payload in PAYLOADS.items():
            before = len(fs.commands)
            try:
                await call(rt, payload)
            except ValueError:
                refused = True
            except Exception as exc:  # e.g. CommandError: it was sent, then refused by the server
                refused = False
                label = f"{label} ({type(exc).__name__})"
            else:
                refused = False
            if not refused:
                accepted.append(label)
            fence = f"fence-{len(fs.commands)}"
            assert (await rt.api("echo", fence)).text == fence  # the fake read all before it
            new = [line for line in lines(fs)[before:] if fence not in line]
            if refused:  # only the test's own setup (subscribe_all, once) may have gone out
                written += [line for line in new if not line.startswith("event json ALL")]
    injected = [line for line in lines(fs) if MARKER in line]
    assert not injected, f"the server received: {injected}"
    assert not written, f"refused, yet written: {written}"
    assert not accepted, f"accepted without an error: {accepted}"


async def test_failed_validation_never_half_writes_a_command(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    """Calls stay usable after refused ones (nothing half written, the FIFO stays aligned)."""
    async with open_esl_runtime(base_config(), connector=fs.connector) as rt:
        for payload in PAYLOADS.values():
            with pytest.raises(ValueError):
                await rt.api("echo", payload)
        assert (await rt.api("echo", "still aligned")).text == "still aligned"
        assert rt.health().generation == 1


async def test_a_body_may_hold_anything_it_is_length_framed_B_CMD_6(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    """The body is not a place for injection: it is sent after content-length, verbatim."""
    body = f"line\n\n{MARKER} exit\n\napi {MARKER}\r\n\0"
    async with open_esl_runtime(base_config(), connector=fs.connector) as rt:
        await rt.sendevent("CUSTOM", {"Event-Subclass": "x::y"}, body=body)
        fs.channels.add("call-1")
        await rt.sendmsg(SendMsg("call-1", {"call-command": "execute"}, body.encode()))
        assert (await rt.api("echo", "after")).text == "after"
    command_lines = [line.split("\n", 1)[0] for line in lines(fs)]
    assert not [line for line in command_lines if MARKER in line]
    bodies = [c.body for _, c in fs.commands if isinstance(c, SendEvent | SendMsg)]
    assert bodies == [body.encode()] * 2


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_password_with_a_line_break_is_refused_by_the_config(payload: str) -> None:
    with pytest.raises(ValueError) as caught:
        RuntimeConfig(host="h", password=f"pw{payload}")
    assert MARKER not in str(caught.value)  # the message does not echo the secret


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_password_with_a_line_break_is_refused_from_a_url(payload: str) -> None:
    with pytest.raises(ValueError):
        RuntimeConfig.from_url(f"esl://{quote('pw' + payload, safe='')}@host:8021")
    with pytest.raises(ValueError):
        RuntimeConfig.from_env({"ESL_TRIO_HOST": "h", "ESL_TRIO_PASSWORD": f"pw{payload}"})


@pytest.mark.parametrize("payload", ["\n" + MARKER, "\r\n\r\napi " + MARKER, "\0" + MARKER])
def test_user_with_a_line_break_is_refused_by_the_config(payload: str) -> None:
    with pytest.raises(ValueError):
        RuntimeConfig(host="h", user=f"1000@default{payload}", password="pw")


@pytest.mark.parametrize("payload", ["\n" + MARKER, "\r\n\r\napi " + MARKER, "\0" + MARKER])
async def test_user_with_a_line_break_is_never_written(
    autojump_clock: trio.abc.Clock, payload: str
) -> None:
    """Refused when the config is built, so no connection is even attempted."""
    users = {"1000@default": UserCredentials("pw")}
    async with open_fake_freeswitch(users=users) as fs:
        with pytest.raises(ValueError, match="user"):
            base_config(user=f"1000@default{payload}", password="pw")
        assert fs.commands == []
        assert fs.all_connections == []


# -- 2. hostile peer ---------------------------------------------------------------------------

LIMITS = Limits(max_header_bytes=64 * 1024, max_body_bytes=1024 * 1024, receive_size=64 * 1024)
SLACK = 300 * 1024  # "within a few hundred kB of the configured limits"


class Traced:
    """tracemalloc around one attack: ``peak`` is the growth above the starting point."""

    def __enter__(self) -> Traced:
        tracemalloc.start()
        self.start = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1] - self.start
        tracemalloc.stop()


async def flood(fs: FakeFreeSwitch, rt: EslRuntime, chunk: bytes, limit: int) -> int:
    """Write ``chunk`` again and again until the runtime drops the connection (or ``limit``)."""
    generation, sent = rt.health().generation, 0
    while rt.health().generation == generation and rt.state is RuntimeState.READY:
        if sent >= limit:
            break
        fs.send_raw(chunk)
        sent += len(chunk)
        await trio.sleep(0.001)  # autojump: written and read before the next chunk
    return sent


async def recovered(rt: EslRuntime, generation: int) -> None:
    with trio.fail_after(60):
        while rt.health().generation < generation or rt.state is not RuntimeState.READY:
            await rt.wait_state(RuntimeState.RECONNECTING)
            await rt.wait_state(RuntimeState.READY)
    assert (await rt.api("echo", "back")).text == "back"


def assert_protocol_error(rt: EslRuntime, *words: str) -> None:
    last = rt.health().last_disconnect
    assert last is not None
    assert last.type == "RemoteProtocolError", last
    for word in words:
        assert word in last.message, last


async def test_endless_header_block_is_cut_at_the_limit_B_FRAME_11(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    async with open_esl_runtime(base_config(limits=LIMITS), connector=fs.connector) as rt:
        with Traced() as traced:
            fs.send_raw(b"X-Junk: ")
            sent = await flood(fs, rt, b"a" * 16384, limit=64 * 1024 * 1024)
        assert sent <= LIMITS.max_header_bytes + 2 * 16384  # cut as soon as it was over
        assert traced.peak < LIMITS.max_header_bytes + LIMITS.receive_size + SLACK, traced.peak
        assert_protocol_error(rt, "header block", str(LIMITS.max_header_bytes))
        await recovered(rt, 2)


@pytest.mark.parametrize("ctype", ["api/response", "text/event-json", "x-unknown"])
async def test_2_gib_content_length_is_refused_before_any_body_B_FRAME_11(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, ctype: str
) -> None:
    async with open_esl_runtime(base_config(limits=LIMITS), connector=fs.connector) as rt:
        with Traced() as traced:
            fs.send_raw(f"Content-Length: 2147483648\nContent-Type: {ctype}\n\n".encode())
            sent = await flood(fs, rt, b"x" * 16384, limit=64 * 1024 * 1024)
        assert sent <= 16384  # refused at the header, the body was never waited for
        assert traced.peak < LIMITS.receive_size + SLACK, traced.peak
        assert_protocol_error(rt, "2147483648", "exceeds the limit")
        await recovered(rt, 2)


async def test_body_over_the_configured_limit_is_refused_B_LIM_1(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    async with open_esl_runtime(base_config(limits=LIMITS), connector=fs.connector) as rt:
        fs.send_oversize_frame(length=LIMITS.max_body_bytes + 1)
        await recovered(rt, 2)
        assert_protocol_error(rt, "exceeds the limit")


async def test_slowloris_trickle_of_a_huge_header_ends_at_the_limit_not_never(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    """One byte every 10 ms cannot hold the connection forever.

    Heartbeat is off here, so only the header limit can end it. (With heartbeat on, liveness
    ends it sooner: bytes that never complete a frame are not activity, B-EVS-11 — see
    tests/runtime/test_faults.py::test_a_trickled_frame_does_not_count_as_liveness_B_EVS_11.)
    """
    limits = attrs.evolve(LIMITS, max_header_bytes=4096)
    config = base_config(limits=limits, heartbeat=HeartbeatConfig.disabled())
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        fs.trickle, fs.trickle_delay = True, 0.01
        with Traced() as traced:
            start = trio.current_time()
            fs.send_raw(b"Content-Length: 2147483648\nX-Junk: " + b"a" * 8192)
            with trio.fail_after(600):
                await rt.wait_state(RuntimeState.RECONNECTING)
            elapsed = trio.current_time() - start
        fs.trickle = False
        await recovered(rt, 2)
        assert 4096 * 0.01 <= elapsed < 4200 * 0.01  # ended at the limit, by the limit
        assert traced.peak < limits.max_header_bytes + SLACK, traced.peak
        assert_protocol_error(rt, "header block")


async def test_slow_body_within_limits_stays_bounded_by_max_body_bytes(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    """A frame announcing the largest allowed body, sent 4 kB per second.

    Memory stays a small multiple of max_body_bytes, whatever the number of reads; the event
    then arrives intact. Heartbeat is off here; with it on, a frame that takes longer than two
    liveness intervals ends the connection (partial frames are not activity, B-EVS-11).
    """
    limits = attrs.evolve(LIMITS, max_body_bytes=512 * 1024)
    config = base_config(limits=limits, subscriptions=SubscriptionConfig(events=["CUSTOM"]))
    payload = json.dumps({"Event-Name": "CUSTOM", "Event-Subclass": "slow::body", "Pad": ""})
    body = payload[:-2].encode() + b"x" * (limits.max_body_bytes - len(payload)) + b'"}'
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        async with rt.events.receiver(subclasses=["slow::body"]) as events:
            with Traced() as traced:
                head = f"Content-Length: {len(body)}\nContent-Type: text/event-json\n\n"
                fs.send_raw(head.encode())
                for at in range(0, len(body), 4096):
                    fs.send_raw(body[at : at + 4096])
                    await trio.sleep(1)
                with trio.fail_after(10):
                    event = await events.receive()
            assert event.subclass == "slow::body"  # type: ignore[union-attr]
        # At completion: the read buffer, the body sliced out of it (bytearray slice, then
        # bytes: one copy too many), its text and the decoded value: ~4x, bounded.
        assert traced.peak < 4 * limits.max_body_bytes + SLACK, traced.peak
        assert rt.health().generation == 1


# -- 3. the password ---------------------------------------------------------------------------

PASSWORD = "Zq9-S3cr3t-Pa55w0rd-XYZZY"


def assert_secret_absent(where: str, text: str) -> None:
    assert PASSWORD not in text, f"the password leaked into {where}: {text[:500]!r}"
    assert quote(PASSWORD) not in text or quote(PASSWORD) == PASSWORD


def test_password_not_in_config_repr_or_str() -> None:
    for config in (
        RuntimeConfig(host="h", password=PASSWORD),
        RuntimeConfig(host="h", password=PASSWORD, user="1000@default"),
        RuntimeConfig.from_url(f"esl://{PASSWORD}@h:8021"),
        RuntimeConfig.from_url(f"esl://1000@default:{PASSWORD}@h:8021"),
        RuntimeConfig.from_env({"ESL_TRIO_HOST": "h", "ESL_TRIO_PASSWORD": PASSWORD}),
    ):
        assert config.password == PASSWORD
        assert_secret_absent("repr(config)", repr(config))
        assert_secret_absent("str(config)", str(config))
        assert_secret_absent("config.address", config.address)


async def test_password_not_in_runtime_health_capture_or_logs(
    autojump_clock: trio.abc.Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole session with a capture sink: api, bgapi, subscriptions, events, a reconnect, a
    rejected re-authentication; every artifact and every log record is searched."""
    caplog.set_level(logging.DEBUG)
    capture = tmp_path / "capture.jsonl"
    users = {"1000@default": UserCredentials(PASSWORD)}
    async with open_fake_freeswitch(PASSWORD, users=users) as fs:
        for user in (None, "1000@default"):
            sink = JsonLinesSink(capture)
            config = base_config(
                password=PASSWORD,
                user=user,
                replay=ReplayConfig(sinks=(sink,)),
                subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER"]),
                retry=RetryPolicy(initial_delay=0.5, max_attempts=2),
            )
            async with open_esl_runtime(config, connector=fs.connector) as rt:
                texts = [repr(rt), str(rt), repr(rt.config), str(rt.health())]
                await rt.api("echo", "hello")
                job = await rt.bgapi("status")
                await job.wait()
                await rt.subscriptions.subscribe("CHANNEL_HANGUP")
                await rt.subscriptions.add_filter("Unique-ID", "call-1")
                fs.emit("CHANNEL_ANSWER", {"Unique-ID": "call-1"})
                await fs.drop_all()
                await recovered(rt, 2)
                fs.reject_auth_next()
                await fs.drop_all()
                await rt.wait_state(RuntimeState.FAILED)
                health = rt.health()
                texts += [json.dumps(health.to_dict()), repr(health), str(rt.health())]
            sink.close()
            assert health.last_error is not None
            assert health.last_error.type == "AuthenticationError"
            for index, text in enumerate(texts):
                assert_secret_absent(f"runtime/health text {index} (user={user})", text)
    captured = capture.read_text(encoding="utf-8")
    assert captured.count("\n") > 10  # the capture did record the session
    assert_secret_absent("the replay capture", captured)
    records = [f"{r.name}:{r.levelname}:{r.getMessage()}" for r in caplog.records]
    for record in records:
        assert_secret_absent("a log record", record)
    assert_secret_absent("captured log text", caplog.text)


@pytest.mark.parametrize("user", [None, "1000@default"])
async def test_password_not_in_authentication_errors(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture, user: str | None
) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_fake_freeswitch("another-password") as fs:
        config = base_config(password=PASSWORD, user=user)
        with pytest.raises(AuthenticationError) as caught:
            async with open_esl_runtime(config, connector=fs.connector):
                pytest.fail("must not authenticate")
    error = caught.value
    formatted = "".join(traceback.format_exception(error))
    for where, text in {
        "str(error)": str(error),
        "repr(error)": repr(error),
        "error.reason": error.reason,
        "formatted traceback": formatted,
        "error notes": repr(getattr(error, "__notes__", [])),
        "cause chain": repr(error.__cause__) + repr(error.__context__),
        "log": caplog.text,
    }.items():
        assert_secret_absent(where, text)


async def test_health_names_the_disconnect_as_soon_as_the_state_says_reconnecting(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch
) -> None:
    async with open_esl_runtime(base_config(limits=LIMITS), connector=fs.connector) as rt:
        fs.send_raw(b"garbage\n\n")
        await rt.wait_state(RuntimeState.RECONNECTING)
        health = rt.health()
        assert health.last_disconnect is not None
        assert health.last_disconnect.type == "RemoteProtocolError"
