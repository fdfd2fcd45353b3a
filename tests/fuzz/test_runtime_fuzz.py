"""Fuzz the runtime's inbound stream: whatever a server sends, the runtime stays in its contract.

Hypothesis writes the server side of every connection: a handshake variant (normal, auth
rejected, restore ``-ERR``, rude rejection, silence, garbage first), then steps — frames written
in random splits (events in plain/json/xml built with :mod:`esl_trio.protocol.server`, mangled
event payloads, log lines, replies with or without a command waiting, notices, a second
greeting, unknown content types, garbage, over-limit headers and lengths), answers to the
client's commands, virtual sleeps, api/bgapi calls started on the client side — and an ending
(clean close, close mid-frame, abort, or stay open). When the scripts run out the connector
refuses, so the runtime ends FAILED after its retries (or READY on a healthy last connection).

Properties (G-5, B-FRAME-11, B-RECON-*):

* nothing but the documented errors (:class:`esl_trio.EslError` subclasses) comes out of
  ``open_esl_runtime``, ``rt.api``, ``rt.bgapi``, ``job.wait()``; a connection ends only for a
  documented reason (``health().last_disconnect``);
* nothing hangs: the whole scenario is bounded on virtual time (``trio.fail_after``);
* every api/bgapi call ends in exactly one outcome;
* events reach receivers as :class:`Event` objects in receive order (envelope sequence strictly
  increasing, generation never decreasing), and decoding one raises EventDecodeError at worst;
* the final state is consistent: READY, RECONNECTING or FAILED with the matching reconnect
  phase and stop reason; ``health()`` is JSON-exportable; leaving the block ends CLOSED/FAILED.

Known bugs, tolerated here only through :data:`KNOWN_DISCONNECT_BUGS` and pinned by strict
xfail tests below: a ``log/data`` frame whose ``Log-Level`` is a non-ASCII digit ends the
connection with ValueError, a deeply nested json event with RecursionError.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.control import event as hypothesis_event

from esl_trio import (
    BackgroundJob,
    EslError,
    NotReadyError,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import HeartbeatConfig, Limits, RetryPolicy, SubscriptionConfig, Timeouts
from esl_trio.errors import EventDecodeError
from esl_trio.health import ReconnectPhase
from esl_trio.protocol import (
    NEED_DATA,
    Api,
    AuthRequest,
    BgApi,
    ClientProtocol,
    CommandReader,
    Event,
    EventFormat,
    Headers,
    LogLine,
    Sentinel,
    make_event,
)
from esl_trio.protocol._frames import encode_frame
from esl_trio.protocol.server import (
    GOODBYE,
    api_response,
    auth_request,
    command_reply,
    disconnect_notice,
    event_frame,
    log_data,
    rude_rejection,
)

MAX_HEADER = 2048
MAX_BODY = 8192
#: Why a connection may end: the runtime's documented errors and trio's stream errors.
DOCUMENTED_DISCONNECTS = frozenset(
    {
        "AuthenticationError",
        "BrokenResourceError",
        "ClosedResourceError",
        "CommandError",
        "CommandTimeoutError",
        "ConnectError",
        "ConnectionLostError",
        "DrainError",
        "HandshakeError",
        "LocalProtocolError",
        "RemoteProtocolError",
        "TruncatedFrameError",
    }
)
#: Undocumented disconnect reasons caused by bugs pinned below (remove with the fixes).
# Bugs this suite found are fixed; none is tolerated any more.
KNOWN_DISCONNECT_BUGS: dict[str, str] = {}

# -- what the server writes --------------------------------------------------------------------

header_names = st.one_of(
    st.sampled_from(
        ["Reply-Text", "Log-Level", "Log-Line", "Content-Disposition", "Job-UUID", "Unique-ID"]
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True),
)
header_values = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=24
)
event_names = st.sampled_from(
    ["CHANNEL_ANSWER", "CHANNEL_HANGUP", "CUSTOM", "BACKGROUND_JOB", "HEARTBEAT", "API", ""]
)


@st.composite
def events(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(list(EventFormat)))
    name = draw(event_names)
    headers = [("Event-Name", name)] if name else []
    if name == "CUSTOM":
        headers.append(("Event-Subclass", draw(st.sampled_from(["a::b", "sofia::register"]))))
    headers += draw(st.lists(st.tuples(header_names, header_values), max_size=5))
    body = draw(st.binary(max_size=48))
    return event_frame(fmt, headers, body)


@st.composite
def mangled_events(draw: st.DrawFn) -> bytes:
    """A sound outer frame around a payload that is not a valid event."""
    fmt = draw(st.sampled_from(["plain", "json", "xml"]))
    payload = draw(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from([b"{", b"[1,2]", b'{"Event-Name":1}', b"<event><headers>", b"\n\n"]),
            events().map(lambda frame: frame.split(b"\n\n", 1)[1][:-3]),  # cut short
        )
    )
    headers = [("Content-Length", str(len(payload))), ("Content-Type", f"text/event-{fmt}")]
    return encode_frame(headers, payload)


@st.composite
def generic_frames(draw: st.DrawFn) -> bytes:
    """Any content type, any headers, a body whose length is usually (not always) right."""
    ctype = draw(
        st.sampled_from(
            [
                "command/reply",
                "api/response",
                "log/data",
                "text/disconnect-notice",
                "text/rude-rejection",
                "auth/request",
                "text/event-json",
                "x-unknown/type",
            ]
        )
    )
    headers = [("Content-Type", ctype)]
    headers += draw(st.lists(st.tuples(header_names, header_values), max_size=4))
    body = draw(st.binary(max_size=48))
    length = len(body) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    if body or length:
        headers.append(("Content-Length", str(max(length, 0))))
    return encode_frame(headers, body)


frames = st.one_of(
    events(),
    events(),
    mangled_events(),
    generic_frames(),
    st.builds(log_data, header_values, level=st.integers(0, 7)),
    st.builds(api_response, st.binary(max_size=32)),
    st.builds(command_reply, st.sampled_from(["+OK", "-ERR invalid", "+OK Job-UUID: x", "??"])),
    st.builds(disconnect_notice, st.sampled_from([GOODBYE, b""])),
    st.builds(disconnect_notice, st.just(b""), st.just([("Content-Disposition", "linger")])),
    st.just(auth_request()),
    st.just(rude_rejection()),
    st.binary(min_size=1, max_size=40),  # garbage
    st.just(f"Content-Length: {MAX_BODY + 1}\nContent-Type: api/response\n\n".encode()),
    st.just(b"Content-Length: 2147483648\nContent-Type: text/event-json\n\n"),
    st.just(b"X-Junk: " + b"a" * (MAX_HEADER + 10)),  # a header block over the limit
)


@attrs.frozen
class Write:
    data: bytes
    splits: tuple[int, ...]


@attrs.frozen
class Action:
    kind: str  # "api", "bgapi", "reply", "reply-all"


@attrs.frozen
class Sleep:
    seconds: float


steps = st.one_of(
    st.builds(
        Write,
        st.lists(frames, min_size=1, max_size=4).map(b"".join),
        st.lists(st.integers(1, 400), max_size=4).map(tuple),
    ),
    st.builds(Action, st.sampled_from(["api"] * 3 + ["bgapi"] * 2 + ["reply"] * 3 + ["reply-all"])),
    st.builds(Sleep, st.sampled_from([0.0, 0.01, 1.0, 6.0])),
)


@attrs.frozen
class ConnectionScript:
    greeting: str
    steps: tuple[Write | Action | Sleep, ...]
    end: str  # "close", "truncate", "abort", "keep"


connection_scripts = st.builds(
    ConnectionScript,
    st.sampled_from(
        ["normal"] * 12 + ["auth-reject", "restore-err", "rude", "silent", "garbage-first"]
    ),
    st.lists(steps, max_size=10).map(tuple),
    st.sampled_from(["close", "truncate", "abort", "keep"]),
)


@attrs.frozen
class Scenario:
    connections: tuple[ConnectionScript, ...]
    retry_first_connect: bool
    event_format: EventFormat


scenarios = st.builds(
    Scenario,
    st.lists(connection_scripts, min_size=1, max_size=3).map(tuple),
    st.booleans(),
    st.sampled_from(list(EventFormat)),
)


def event(text: str) -> None:
    """A statistic for ``--hypothesis-show-statistics`` (ignored outside @given)."""
    if currently_in_test_context():
        hypothesis_event(text)


# -- the scripted server -----------------------------------------------------------------------


class ScriptedServer:
    """The server end of one memory stream: reads the client's commands, plays a script."""

    def __init__(self, stream: trio.abc.Stream, harness: Harness) -> None:
        self.stream = stream
        self.harness = harness
        self.pending: deque[object] = deque()
        self.arrived = trio.Event()

    async def read_commands(self) -> None:
        reader = CommandReader()
        try:
            while data := await self.stream.receive_some():
                reader.receive_data(data)
                while not isinstance(command := reader.next_command(), Sentinel):
                    self.pending.append(command)
                    self.arrived.set()
                    self.arrived = trio.Event()
                if command is not NEED_DATA:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def next_command(self) -> object | None:
        with trio.move_on_after(2):
            while not self.pending:
                await self.arrived.wait()
            return self.pending.popleft()
        return None

    async def send(self, data: bytes) -> bool:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def play(self, script: ConnectionScript) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.read_commands)
            if await self.handshake(script.greeting):
                for step in script.steps:
                    if not await self.step(step):
                        break
                await self.finish(script.end)
            else:
                await trio.aclose_forcefully(self.stream)
            nursery.cancel_scope.cancel()

    async def handshake(self, greeting: str) -> bool:
        if greeting == "silent":
            await trio.sleep(30)  # the runtime's handshake deadline passes first
            return False
        if greeting == "rude":
            await self.send(rude_rejection() + disconnect_notice())
            return False
        if greeting == "garbage-first":
            await self.send(b"garbage before the greeting\n\n")
        if not await self.send(auth_request()) or await self.next_command() is None:
            return False
        if greeting == "auth-reject":
            await self.send(command_reply("-ERR invalid") + disconnect_notice())
            return False
        if not await self.send(command_reply("+OK accepted")):
            return False
        if await self.next_command() is None:  # the subscription restore
            return False
        text = "-ERR no keywords supplied" if greeting == "restore-err" else "+OK event listener"
        return await self.send(command_reply(text))

    async def step(self, step: Write | Action | Sleep) -> bool:
        if isinstance(step, Sleep):
            await trio.sleep(step.seconds)
            return True
        if isinstance(step, Write):
            cuts = sorted({min(c, len(step.data)) for c in step.splits} | {0, len(step.data)})
            for start, stop in itertools.pairwise(cuts):
                if not await self.send(step.data[start:stop]):
                    return False
                await trio.sleep(0.001)  # the client reads each piece on its own
            return True
        if step.kind in ("api", "bgapi"):
            with trio.move_on_after(1):  # the first handshake: until open_esl_runtime returned
                await self.harness.calls_open.wait()
            self.harness.start_call(step.kind)
            await trio.sleep(0.001)
            return True
        count = len(self.pending) if step.kind == "reply-all" else min(1, len(self.pending))
        for _ in range(count):
            if not await self.send(answer(self.pending.popleft())):
                return False
        return True

    async def finish(self, end: str) -> None:
        if end == "keep":
            while True:  # answer whatever comes, like a healthy server
                command = await self.next_command()
                if command is not None and not await self.send(answer(command)):
                    return
                if command is None:
                    await trio.sleep(1)
        if end == "truncate":
            await self.send(event_frame(EventFormat.JSON, [("Event-Name", "API")])[:30])
        if end == "abort":
            await trio.aclose_forcefully(self.stream)
        else:
            await self.stream.aclose()


def answer(command: object) -> bytes:
    if isinstance(command, Api):
        return api_response(b"+OK fuzz\n")
    if isinstance(command, BgApi):
        return command_reply(f"+OK Job-UUID: {command.job_uuid}")
    return command_reply("+OK")


# -- the client side ---------------------------------------------------------------------------


class Harness:
    """Runs a scenario; records every outcome and checks the properties."""

    def __init__(self, scenario: Scenario) -> None:
        self.scripts = deque(scenario.connections)
        self.scenario = scenario
        self.rt: Any = None
        self.calls: trio.Nursery | None = None
        self.calls_open = trio.Event()
        self.started = 0
        self.outcomes: dict[int, str] = {}
        self.job_outcomes: dict[int, str] = {}
        self.jobs: list[tuple[int, BackgroundJob]] = []
        self.servers: trio.Nursery | None = None

    def config(self) -> RuntimeConfig:
        return RuntimeConfig(
            host="scripted",
            heartbeat=HeartbeatConfig.disabled(),
            retry=RetryPolicy(
                initial_delay=0.5,
                max_delay=2,
                max_attempts=3,
                retry_first_connect=self.scenario.retry_first_connect,
            ),
            timeouts=Timeouts(
                handshake=5, api=5, command=5, restore=5, bgapi_completion=5, write=5
            ),
            subscriptions=SubscriptionConfig(
                events=["CHANNEL_ANSWER"], format=self.scenario.event_format
            ),
            limits=Limits(max_header_bytes=MAX_HEADER, max_body_bytes=MAX_BODY),
        )

    async def connector(self) -> trio.abc.Stream:
        await trio.lowlevel.checkpoint()
        if not self.scripts:
            raise ConnectionRefusedError("no more scripted connections")
        client, server = trio.testing.memory_stream_pair()
        assert self.servers is not None
        self.servers.start_soon(ScriptedServer(server, self).play, self.scripts.popleft())
        return client

    def start_call(self, kind: str) -> None:
        if self.calls is None:  # the runtime is not open yet (first handshake)
            return
        self.started += 1
        self.calls.start_soon(self.call, kind, self.started)

    def settle(self, table: dict[int, str], index: int, outcome: str) -> None:
        assert index not in table, f"call {index} ended twice: {table[index]}, then {outcome}"
        table[index] = outcome

    async def call(self, kind: str, index: int) -> None:
        try:
            if kind == "api":
                reply = await self.rt.api("echo", f"call-{index}")
                self.settle(self.outcomes, index, f"ok {reply.text[:10]!r}")
                return
            job = await self.rt.bgapi("echo", f"call-{index}")
            self.settle(self.outcomes, index, "accepted")
        except EslError as exc:
            self.settle(self.outcomes, index, type(exc).__name__)
            return
        try:
            await job.wait()
            self.settle(self.job_outcomes, index, "done")
        except EslError as exc:
            self.settle(self.job_outcomes, index, type(exc).__name__)

    async def consume(self, receiver: Any) -> None:
        try:
            await self._consume(receiver)
        except NotReadyError:
            # The documented end of a receiver when the runtime stopped for good.
            assert self.rt.state is RuntimeState.FAILED

    async def _consume(self, receiver: Any) -> None:
        last_sequence, last_generation = 0, 0
        async for item in receiver:
            if isinstance(item, StreamGap):
                continue
            assert isinstance(item, Event)
            assert item.envelope is not None
            assert item.envelope.sequence > last_sequence
            assert item.envelope.generation >= last_generation
            last_sequence, last_generation = item.envelope.sequence, item.envelope.generation
            with contextlib.suppress(EventDecodeError):  # the only error decoding may raise
                _ = (item.headers, item.body)
            _ = (item.name, item.subclass, item.unique_id, item.job_uuid)

    async def run(self) -> None:
        async with trio.open_nursery() as servers:
            self.servers = servers
            try:
                async with open_esl_runtime(self.config(), connector=self.connector) as rt:
                    self.rt = rt
                    await self.exercise(rt)
                assert rt.state in (RuntimeState.CLOSED, RuntimeState.FAILED)
            except EslError as exc:  # the first connection failed: documented, raised as such
                event(f"open failed: {type(exc).__name__}")
            servers.cancel_scope.cancel()

    async def exercise(self, rt: Any) -> None:
        async with trio.open_nursery() as consumers:
            receiver = rt.events.receiver(max_buffer=100)
            consumers.start_soon(self.consume, receiver)
            async with trio.open_nursery() as calls:
                self.calls = calls
                self.calls_open.set()
                await trio.sleep(120)  # every script step, deadline and retry has passed
                assert len(self.outcomes) == self.started, "a call never ended"
                self.calls = None
            accepted = [i for i, outcome in self.outcomes.items() if outcome == "accepted"]
            assert sorted(self.job_outcomes) == accepted, "a bgapi job never ended"
            self.check_state(rt)
            consumers.cancel_scope.cancel()  # a consumer's own close() fails its reader

    def check_state(self, rt: Any) -> None:
        health = rt.health()
        json.dumps(health.to_dict())
        event(f"final state: {rt.state.value}")
        event(f"calls: {'none' if not self.started else 'some'}")
        for outcome in {o.split(" ")[0] for o in self.outcomes.values()}:
            event(f"call outcome: {outcome}")
        if health.last_disconnect is not None:
            event(f"last disconnect: {health.last_disconnect.type}")
        phase = health.reconnect.phase
        if rt.state is RuntimeState.READY:
            assert phase is ReconnectPhase.IDLE
            assert health.last_error is None
        elif rt.state is RuntimeState.RECONNECTING:
            assert phase in (ReconnectPhase.WAITING, ReconnectPhase.CONNECTING)
        else:
            assert rt.state is RuntimeState.FAILED, rt.state
            assert phase is ReconnectPhase.STOPPED
            assert health.reconnect.stop_reason is not None
            assert health.pending_jobs == 0
        assert health.inflight_commands == 0
        last = health.last_disconnect
        if last is not None and last.type not in DOCUMENTED_DISCONNECTS:
            known = KNOWN_DISCONNECT_BUGS.get(last.type)
            assert known is not None and known in last.message, last


async def run_scenario(scenario: Scenario) -> None:
    with trio.fail_after(1000):  # virtual seconds: a hang fails instead of blocking
        await Harness(scenario).run()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios)
def test_any_inbound_stream_keeps_the_runtime_in_its_contract(scenario: Scenario) -> None:
    trio.run(run_scenario, scenario, clock=trio.testing.MockClock(autojump_threshold=0))


# -- examples worth keeping as plain tests -----------------------------------------------------

HEALTHY = ConnectionScript("normal", (Action("api"), Action("reply")), "keep")


@pytest.mark.parametrize(
    "script",
    [
        HEALTHY,
        ConnectionScript("normal", (Action("api"), Write(b"\x00\xff garbage\n\n", ())), "keep"),
        ConnectionScript("normal", (Action("api"), Sleep(6.0)), "keep"),
        ConnectionScript("normal", (Write(api_response(b"stray"), ()),), "close"),
        ConnectionScript("normal", (Write(b"X-Junk: " + b"a" * 5000, (1, 100)),), "keep"),
        ConnectionScript("restore-err", (), "close"),
    ],
    ids=["healthy", "garbage", "api-timeout", "stray-reply", "endless-header", "restore-err"],
)
def test_examples(script: ConnectionScript) -> None:
    scenario = Scenario((HEALTHY, script, HEALTHY), True, EventFormat.JSON)
    trio.run(run_scenario, scenario, clock=trio.testing.MockClock(autojump_threshold=0))


# -- bugs the fuzzing surfaced, pinned ---------------------------------------------------------


async def _one_frame_then_api(frame: bytes) -> tuple[str | None, str]:
    """Connect to a scripted server that sends ``frame`` after the handshake; then api."""
    script = ConnectionScript("normal", (Write(frame, ()), Action("api"), Action("reply")), "keep")
    harness = Harness(Scenario((script,), False, EventFormat.JSON))
    result: list[Any] = []

    async def body() -> None:
        async with trio.open_nursery() as servers:
            harness.servers = servers
            async with open_esl_runtime(harness.config(), connector=harness.connector) as rt:
                harness.rt = rt
                async with trio.open_nursery() as calls:
                    harness.calls = calls
                    harness.calls_open.set()
                    await trio.sleep(30)
                    harness.calls = None
                last = rt.health().last_disconnect
                result.append(None if last is None else f"{last.type}: {last.message}")
                result.append(harness.outcomes.get(1, "no call"))
            servers.cancel_scope.cancel()

    with trio.fail_after(100):
        await body()
    return result[0], result[1]


async def test_log_line_with_a_unicode_digit_level_does_not_kill_the_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    frame = encode_frame(
        [("Content-Type", "log/data"), ("Content-Length", "2"), ("Log-Level", "²")], b"hi"
    )
    disconnect, outcome = await _one_frame_then_api(frame)
    assert disconnect is None, disconnect
    assert outcome.startswith("ok"), outcome


async def test_deeply_nested_json_event_is_undecodable_not_fatal(
    autojump_clock: trio.abc.Clock,
) -> None:
    depth = MAX_BODY // 2 - 10
    payload = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    frame = encode_frame(
        [("Content-Length", str(len(payload))), ("Content-Type", "text/event-json")], payload
    )
    disconnect, outcome = await _one_frame_then_api(frame)
    assert disconnect is None, disconnect
    assert outcome.startswith("ok"), outcome


# -- the parser fuzz target (fuzz/fuzz_parser.py) and what it found ------------------------------

FUZZ_TARGET = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_parser.py"


def load_fuzz_target() -> Any:
    spec = importlib.util.spec_from_file_location("fuzz_parser", FUZZ_TARGET)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parser_fuzz_target_runs_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A short run of the mutation driver keeps the target (and its seeds) from rotting."""
    target = load_fuzz_target()
    assert target.fallback(400, seed=3, crash_dir=tmp_path) == 0
    assert "ran 400 inputs" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def _sequence(value: str) -> object:
    return make_event(EventFormat.PLAIN, f"Event-Name: X\nEvent-Sequence: {value}\n\n".encode())


@pytest.mark.parametrize(
    "read",
    [
        lambda v: _sequence(v).sequence,  # type: ignore[attr-defined]
        lambda v: (
            make_event(
                EventFormat.JSON,
                json.dumps({"Event-Name": "HEARTBEAT", "Session-Count": v}).encode(),
            ).session_count
        ),  # type: ignore[attr-defined]
        lambda v: LogLine(b"", Headers([("Log-Level", v)])).level,
        lambda v: LogLine(b"", Headers([("Log-Line", v)])).line,
    ],
    ids=["Event.sequence", "HeartbeatEvent.session_count", "LogLine.level", "LogLine.line"],
)
def test_numeric_headers_with_non_ascii_digits_read_as_none(read: Callable[[str], object]) -> None:
    assert read("²") is None


def test_deeply_nested_json_event_is_an_event_decode_error() -> None:
    payload = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    protocol = ClientProtocol()
    protocol.receive_data(auth_request())
    protocol.receive_data(
        encode_frame(
            [("Content-Length", str(len(payload))), ("Content-Type", "text/event-json")], payload
        )
    )
    assert isinstance(protocol.next_event(), AuthRequest)
    event = protocol.next_event()
    assert isinstance(event, Event)
    with pytest.raises(EventDecodeError):
        _ = event.headers
