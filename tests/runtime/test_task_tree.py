"""The task tree of the design card (issue 10): writer, channels, lifecycle table, shape.

Everything on the autojump clock against the fake FreeSWITCH; a wrapping stream counts and
holds writes where a test needs to see the writer's batches.
"""

from __future__ import annotations

import ast
import itertools
import logging
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

from esl_trio import (
    BackgroundJob,
    CommandTimeoutError,
    ConnectionLostError,
    DrainError,
    EslRuntime,
    NotReadyError,
    RuntimeState,
    open_esl_runtime,
)
from esl_trio import _connection as connection_module
from esl_trio._state import (
    _TABLE,
    Lifecycle,
    LifecycleError,
    ReconnectPhase,
    StateChange,
    Transition,
    next_pair,
)
from esl_trio.config import BackpressureConfig, HeartbeatConfig, RetryPolicy, Timeouts
from esl_trio.testing import FakeFreeSwitch

from .conftest import OpenRuntime, base_config

PACKAGE = Path(__file__).resolve().parents[2] / "esl_trio"


class CountingStream(trio.abc.Stream):
    """Delegates to a real stream; counts writes and can hold them (a peer not reading)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes: list[bytes] = []
        self.gate: trio.Event | None = None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.writes.append(bytes(data))
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


def counting_connector(fs: FakeFreeSwitch, streams: list[CountingStream]) -> Callable[..., object]:
    async def connect() -> trio.abc.Stream:
        stream = CountingStream(await fs.connect())
        streams.append(stream)
        return stream

    return connect


# -- 1. the writer --------------------------------------------------------------------------


async def test_issue10_item1_concurrent_commands_are_coalesced_into_few_writes(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    streams: list[CountingStream] = []
    async with open_esl_runtime(base_config(), connector=counting_connector(fs, streams)) as rt:
        before = len(streams[0].writes)
        replies: list[str] = []

        async def one(i: int) -> None:
            replies.append((await rt.api("echo", f"n{i}")).text)

        async with trio.open_nursery() as nursery:
            for i in range(100):
                nursery.start_soon(one, i)
        writes = streams[0].writes[before:]
    assert sorted(replies) == sorted(f"n{i}" for i in range(100))
    assert sum(w.count(b"api echo") for w in writes) == 100
    assert len(writes) <= 3  # many concurrent commands, (almost) one syscall


async def test_issue10_item1_cancelled_before_the_write_is_never_sent(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    streams: list[CountingStream] = []
    async with open_esl_runtime(base_config(), connector=counting_connector(fs, streams)) as rt:
        stream = streams[0]
        stream.gate = trio.Event()  # the writer blocks inside its next write
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.api, "echo", "first")  # taken by the writer, held
            await trio.sleep(0.1)
            with trio.CancelScope() as scope:
                nursery.start_soon(_cancel_later, scope, 0.1)
                await rt.api("echo", "never")  # queued behind the held write
            assert scope.cancelled_caught
            stream.gate.set()
        await rt.api("echo", "after")
        sent = b"".join(stream.writes)
    assert b"api echo first" in sent and b"api echo after" in sent
    assert b"never" not in sent
    assert not any(b"never" in c.to_bytes() for _, c in fs.commands)


async def _cancel_later(scope: trio.CancelScope, delay: float) -> None:
    await trio.sleep(delay)
    scope.cancel()


async def test_issue10_item1_cancelled_after_the_write_leaves_a_tombstone(
    fs: FakeFreeSwitch, rt: EslRuntime, autojump_clock: trio.abc.Clock
) -> None:
    fs.hold_replies()
    with trio.move_on_after(0.5):
        await rt.api("echo", "gone")
    assert rt.health().abandoned_commands == 1
    fs.release_replies()
    assert (await rt.api("echo", "next")).text == "next"  # the FIFO stayed aligned
    assert rt.health().abandoned_commands == 0


async def test_issue10_item1_write_deadline_recycles_the_connection(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock
) -> None:
    streams: list[CountingStream] = []
    config = base_config(timeouts=Timeouts(write=2.0))
    async with open_esl_runtime(config, connector=counting_connector(fs, streams)) as rt:
        streams[0].gate = trio.Event()  # the peer stops reading: the write never completes
        start = trio.current_time()
        with pytest.raises(ConnectionLostError):
            await rt.api("status")
        assert trio.current_time() - start == pytest.approx(2.0)
        last = rt.health().last_disconnect
        assert last is not None and last.type == "CommandTimeoutError" and "write" in last.message
        streams[0].gate.set()
        await rt.wait_state(RuntimeState.READY)
        assert rt.health().generation == 2


async def test_issue9_item6_tombstones_count_against_max_inflight(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(backpressure=BackpressureConfig(max_inflight=50)) as rt:
        fs.reply_delay = 0.02  # FreeSWITCH takes 20 ms per command
        refused = 0

        async def impatient() -> None:
            nonlocal refused
            for _ in range(20):
                try:
                    with trio.move_on_after(0.002):
                        await rt.api("echo", "slow")
                except Exception:  # BackpressureError: the cap holds
                    refused += 1
                    await trio.sleep(0.002)

        async with trio.open_nursery() as nursery:
            for _ in range(200):
                nursery.start_soon(impatient)
            await trio.sleep(0.001)
            peak = 0
            for _ in range(100):
                health = rt.health()
                peak = max(peak, health.inflight_commands + health.abandoned_commands)
                await trio.sleep(0.003)
        assert refused > 0
        # What waits at the server is bounded by the cap, tombstones included.
        written = sum(1 for _, c in fs.commands if b"api echo slow" in c.to_bytes())
        assert peak <= 50
        assert written <= 50 + 20 * 200 // 10  # nowhere near 200 callers x 20 tries
        fs.reply_delay = 0.0


# -- 2. channels: every kind of connection end reaches the supervisor ----------------------


async def _reconnect_after(rt: EslRuntime, cause: Callable[[], object]) -> str:
    result = cause()
    if hasattr(result, "__await__"):
        await result  # type: ignore[misc]
    await rt.wait_state(RuntimeState.RECONNECTING)
    await rt.wait_state(RuntimeState.READY)
    last = rt.health().last_disconnect
    assert last is not None
    return f"{last.type}: {last.message}"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("eof", "server closed the connection"),
        ("garbage", "RemoteProtocolError"),
        ("notice", "server disconnect notice"),
        ("reply-timeout", "CommandTimeoutError"),
    ],
)
async def test_issue10_item2_every_connection_end_is_reported_once(
    fs: FakeFreeSwitch, rt: EslRuntime, autojump_clock: trio.abc.Clock, kind: str, expected: str
) -> None:
    changes = rt.state_changes()
    causes: dict[str, Callable[[], object]] = {
        "eof": lambda: fs.drop_all(),
        "garbage": lambda: fs.send_raw(b"Content-Length: x\n\n"),
        "notice": lambda: fs.send_disconnect_notice(close=True),
        "reply-timeout": lambda: _timeout_one(fs, rt),
    }
    described = await _reconnect_after(rt, causes[kind])
    assert expected in described
    lost = [c for c in _drain(changes) if c.transition is Transition.LOST]
    assert len(lost) == 1  # handled once, whatever else the tasks reported


async def _timeout_one(fs: FakeFreeSwitch, rt: EslRuntime) -> None:
    fs.hold_replies()
    with pytest.raises(CommandTimeoutError):
        await rt.api("status")
    fs.release_replies()


async def test_issue10_item2_liveness_death_is_reported(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(heartbeat=HeartbeatConfig(interval=5)) as rt:
        fs.silence()
        await rt.wait_state(RuntimeState.RECONNECTING)
        last = rt.health().last_disconnect
        # Death after two silent intervals; the probe sent after the first times out at the
        # same instant, and whichever the supervisor reads first is the recorded reason.
        assert last is not None
        assert "liveness" in last.message or "api status" in last.message
        fs.unsilence()
        await rt.wait_state(RuntimeState.READY)


def _drain(receiver: object) -> list[StateChange]:
    out: list[StateChange] = []
    while True:
        try:
            item = receiver.receive_nowait()  # type: ignore[attr-defined]
        except (trio.WouldBlock, trio.EndOfChannel):
            return out
        if isinstance(item, StateChange):
            out.append(item)


# -- 3. the lifecycle table -----------------------------------------------------------------


def test_issue10_item3_every_pair_and_transition_is_legal_or_refused() -> None:
    legal = 0
    for state, phase, transition in itertools.product(RuntimeState, ReconnectPhase, Transition):
        if (state, phase, transition) in _TABLE:
            legal += 1
            assert next_pair(state, phase, transition) == _TABLE[(state, phase, transition)]
        else:
            with pytest.raises(LifecycleError, match=transition.value):
                next_pair(state, phase, transition)
    assert legal == len(_TABLE)


def test_issue10_item3_every_listed_pair_is_reachable_from_the_start() -> None:
    start = (RuntimeState.CONNECTING, ReconnectPhase.IDLE)
    seen, todo = {start}, [start]
    while todo:
        state, phase = todo.pop()
        for (s, p, _), target in _TABLE.items():
            if (s, p) == (state, phase) and target not in seen:
                seen.add(target)
                todo.append(target)
    sources = {(s, p) for s, p, _ in _TABLE}
    assert sources <= seen
    assert (RuntimeState.CLOSED, ReconnectPhase.STOPPED) in seen
    assert (RuntimeState.FAILED, ReconnectPhase.STOPPED) in seen


def test_issue10_item3_terminal_pairs_have_no_way_out() -> None:
    for state in (RuntimeState.CLOSED, RuntimeState.FAILED):
        assert not [key for key in _TABLE if key[0] is state]


async def test_issue10_item3_lifecycle_tells_listeners_and_raises_on_illegal() -> None:
    lifecycle = Lifecycle()
    seen: list[StateChange] = []
    unlisten = lifecycle.listen(seen.append)
    lifecycle.apply(Transition.ATTEMPT)
    with pytest.raises(LifecycleError):
        lifecycle.apply(Transition.READY)  # not restored yet
    lifecycle.apply(Transition.AUTHENTICATED)
    lifecycle.apply(Transition.READY)
    unlisten()
    lifecycle.apply(Transition.LOST)
    assert [c.transition for c in seen] == [
        Transition.ATTEMPT,
        Transition.AUTHENTICATED,
        Transition.READY,
    ]
    assert lifecycle.state is RuntimeState.RECONNECTING


async def test_issue10_item3_state_changes_tell_an_outage_and_end_with_the_runtime(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock, open_runtime: OpenRuntime
) -> None:
    async with open_runtime() as rt:
        changes = rt.state_changes()
        await fs.drop_all()
        await rt.wait_state(RuntimeState.RECONNECTING)
        await rt.wait_state(RuntimeState.READY)
    seen = [(c.transition, c.state) async for c in changes if isinstance(c, StateChange)]
    assert seen == [
        (Transition.LOST, RuntimeState.RECONNECTING),
        (Transition.BACK_OFF, RuntimeState.RECONNECTING),
        (Transition.ATTEMPT, RuntimeState.RECONNECTING),
        (Transition.AUTHENTICATED, RuntimeState.RECONNECTING),
        (Transition.READY, RuntimeState.READY),
        (Transition.DRAIN, RuntimeState.DRAINING),
        (Transition.STOP, RuntimeState.DRAINING),
        (Transition.CLOSE, RuntimeState.CLOSED),
    ]


async def test_issue10_item3_state_changes_end_when_the_runtime_fails(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(retry=RetryPolicy.disabled()) as rt:
        changes = rt.state_changes()
        await fs.drop_all()
        last = None
        async for change in changes:  # ends by itself: never blocks once the runtime failed
            last = change
        assert isinstance(last, StateChange) and last.state is RuntimeState.FAILED
        with pytest.raises(NotReadyError, match="stopped for good"):
            await rt.api("status")


# -- 5. no import circles ------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if module.endswith(".__init__"):
        module = module.removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target)
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("esl_trio")
        ):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("esl_trio"))
    return found


def test_issue10_item5_no_import_circles_anywhere_in_the_package() -> None:
    modules = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }
    graph = {
        name: {
            t for t in _imports(path) if t in modules and t != name and not name.startswith(t + ".")
        }
        for name, path in modules.items()
    }
    # Importing a package's own __init__ from inside it is a circle too, except for the
    # package's __init__ re-exporting its children (the edge goes parent → child only).
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        if node in stack:
            cycles.append([*stack[stack.index(node) :], node])
            return
        if node in done:
            return
        for target in graph[node]:
            visit(target, [*stack, node], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_issue10_item5_the_supervisor_does_not_know_the_runtime() -> None:
    imports = _imports(PACKAGE / "_supervisor.py")
    assert "esl_trio._runtime" not in imports


# -- 11. the task tree is visible ------------------------------------------------------------


def task_names() -> list[str]:
    """The names of every task in the run, walked from the root."""
    names: list[str] = []

    def walk(task: trio.lowlevel.Task) -> None:
        names.append(task.name)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    walk(root)
    return names


async def test_issue10_item11_tasks_carry_their_names(rt: EslRuntime) -> None:
    names = task_names()
    for expected in (
        "esl-trio supervisor",
        "esl-trio reader",
        "esl-trio writer",
        "esl-trio watchdog",
        "esl-trio job timer",
        "esl-trio calls",
    ):
        assert expected in names


async def test_issue10_item11_liveness_task_is_named(
    fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async with open_runtime(heartbeat=HeartbeatConfig(interval=30)):
        assert "esl-trio liveness" in task_names()


# -- issue 8: runtime items ----------------------------------------------------------------


async def test_issue8_item6_user_exception_groups_pass_through_intact(
    fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    async def fail(exc: Exception) -> None:
        raise exc

    async def body() -> None:
        async with open_runtime(), trio.open_nursery() as nursery:
            nursery.start_soon(fail, KeyError("k"))
            nursery.start_soon(fail, ValueError("v"))

    with pytest.raises(ExceptionGroup) as caught:
        await body()
    group = caught.value
    assert sorted(type(e).__name__ for e in group.exceptions) == ["KeyError", "ValueError"]
    assert not getattr(group, "__notes__", None)
    keys, rest = group.split(KeyError)
    assert keys is not None and rest is not None  # ``except* KeyError`` would match


async def test_issue8_item6_a_plain_user_exception_has_no_false_notes(
    fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    with pytest.raises(KeyError) as caught:
        async with open_runtime():
            raise KeyError("mine")
    assert not getattr(caught.value, "__notes__", None)


async def test_issue8_item7_drain_cut_work_says_it_was_written(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock, open_runtime: OpenRuntime
) -> None:
    results: list[BaseException] = []

    async def held(rt: EslRuntime) -> None:
        try:
            await rt.api("echo", "held")
        except DrainError as exc:
            results.append(exc)

    async with (
        trio.open_nursery() as nursery,
        open_runtime(backpressure=BackpressureConfig(drain_timeout=2)) as rt,
    ):
        fs.hold_replies()
        nursery.start_soon(held, rt)
        await fs.wait_command("api echo held")
    (error,) = results
    assert error.written is True  # type: ignore[attr-defined]


async def test_issue8_item8_api_and_bgapi_split_the_command_at_the_first_space(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    await rt.api("show channels")
    job = await rt.bgapi("status ")
    await job.wait()
    sent = [c.to_bytes() for _, c in fs.commands]
    assert b"api show channels\n\n" in sent
    assert any(b.startswith(b"bgapi status\n") for b in sent)
    with pytest.raises(ValueError):
        await rt.api("show\nchannels")  # still CR/LF/NUL-checked


async def test_issue9_item5_cancelling_the_scope_around_the_runtime_still_drains(
    fs: FakeFreeSwitch, autojump_clock: trio.abc.Clock, open_runtime: OpenRuntime
) -> None:
    fs.auto_complete_jobs = False
    outcome: list[object] = []

    async def complete_soon(job_uuid: str) -> None:
        await trio.sleep(1)
        fs.complete_job(job_uuid, "+OK done\n")

    async def wait_job(job: BackgroundJob) -> None:
        outcome.append((await job.wait()).result)

    async with trio.open_nursery() as outside:  # not under the cancelled scope
        with trio.CancelScope() as outer:
            async with open_runtime(backpressure=BackpressureConfig(drain_timeout=5)) as rt:
                job = await rt.bgapi("originate", "x")
                outside.start_soon(wait_job, job)
                outside.start_soon(complete_soon, job.job_uuid)
                start = trio.current_time()
                outer.cancel()
                await trio.sleep_forever()
    assert outer.cancelled_caught
    # The drain ran on the live socket: the job completed there, then exit went out.
    assert outcome == ["+OK done\n"]
    assert trio.current_time() - start == pytest.approx(1.0)
    assert rt.state is RuntimeState.CLOSED
    assert fs.commands[-1][1].to_bytes() == b"exit\n\n"  # type: ignore[union-attr]


async def test_issue8_item15_the_stream_fallback_path_works_over_tcp(
    fs: FakeFreeSwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_module, "DIRECT_IO", False)
    port = await fs.serve_tcp()
    config = attrs.evolve(base_config(), host="127.0.0.1", port=port)
    async with open_esl_runtime(config) as rt:
        assert (await rt.api("echo", "fallback")).text == "fallback"


async def test_issue8_item15_direct_io_only_for_posix_sockets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    left, _ = trio.testing.memory_stream_pair()
    assert not connection_module.direct_io_supported(left)
    monkeypatch.setattr(connection_module, "DIRECT_IO", False)
    a, b = trio.socket.socketpair()
    with a, b:
        assert not connection_module.direct_io_supported(trio.SocketStream(a))
        monkeypatch.setattr(connection_module, "DIRECT_IO", True)
        assert connection_module.direct_io_supported(trio.SocketStream(a))


async def test_issue8_item17_operations_log_one_line_each_never_per_event(
    fs: FakeFreeSwitch,
    autojump_clock: trio.abc.Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="esl_trio")
    config = base_config(password="Sup3r-S3cret-Pw")
    fs.password = "Sup3r-S3cret-Pw"
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        await rt.subscriptions.subscribe("CHANNEL_ANSWER")
        for _ in range(50):
            fs.emit("CHANNEL_ANSWER")
        await trio.sleep(1)
        await fs.drop_all()
        await rt.wait_state(RuntimeState.RECONNECTING)
        await rt.wait_state(RuntimeState.READY)
    text = caplog.text
    assert "connecting to fake-freeswitch:8021" in text
    assert "authenticated" in text
    assert "disconnected from fake-freeswitch:8021" in text
    assert "retry 1 in" in text
    assert "ready (connection 2)" in text
    assert "drained and closed" in text
    assert "Sup3r-S3cret-Pw" not in text
    assert len(caplog.records) < 20  # 50 events, no line for any of them


async def test_issue8_item9_a_misspelt_receiver_name_is_refused(rt: EslRuntime) -> None:
    from esl_trio.errors import UnknownEventNameError

    with pytest.raises(UnknownEventNameError, match="CHANNEL_ANSWER") as caught:
        rt.events.receiver("CHANNEL_ANSWR")
    assert "CHANNEL_ANSWER" in caught.value.suggestions
    async with rt.events.receiver("channel_answer", "SWITCH_EVENT_HEARTBEAT") as ok:
        assert ok.statistics().buffered == 0


async def test_issue10_item6_result_nowait_raises_would_block_while_pending(
    fs: FakeFreeSwitch, rt: EslRuntime
) -> None:
    fs.auto_complete_jobs = False
    job = await rt.bgapi("status")
    with pytest.raises(trio.WouldBlock):
        job.result_nowait()
    fs.complete_job(job.job_uuid, "+OK done\n")
    await job.wait()
    assert job.result_nowait().result == "+OK done\n"
