"""``esl-trio serve-outbound module:function``: the outbound server from the command line.

In process (as tests/test_cli.py does where it can): the command serves calls that the fake
dialer places over TCP, and a real SIGTERM/SIGINT sent to this process (once the command's own
signal receiver is open, which the "listening" line proves) drains it. As subprocesses: the
exit code and the two stdout lines after a signal, and the installed script loading a handler
from its working directory. The handlers are in tests/_outbound_handlers.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from esl_trio._cli._app import main
from esl_trio._cli._errors import CliError, ExitCode
from esl_trio._cli._outbound import cmd_serve_outbound, load_handler
from esl_trio._cli._parser import build_parser
from esl_trio.testing import FakeOutboundCall, open_fake_dialer

from . import _outbound_handlers as handlers
from .test_cli import SCRIPT, clean_env

HANDLERS = "tests._outbound_handlers"
REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)\n")
STATS = re.compile(r"stats: accepted=(\d+) active=0 completed=(\d+) failed=(\d+) hung_up=(\d+) "
                   r"shut_down=(\d+) refused=(\d+) broken=(\d+)\n")  # fmt: skip


def counts(out: str) -> dict[str, int]:
    found = STATS.search(out)
    assert found, out
    names = ("accepted", "completed", "failed", "hung_up", "shut_down", "refused", "broken")
    return dict(zip(names, map(int, found.groups()), strict=True))


# -- loading the handler ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [f"{HANDLERS}:answer_and_play", f"{HANDLERS}:play_low", f"{HANDLERS}:handlers.handle",
     f"{HANDLERS}:handlers"],
)  # fmt: skip
def test_async_callables_load(spec: str) -> None:
    path = spec.partition(":")[2]
    expected: object = handlers
    for part in path.split("."):
        expected = getattr(expected, part)
    assert load_handler(spec) == expected


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("no_colon_here", ExitCode.USAGE, "is not module:function"),
        (":handle", ExitCode.USAGE, "is not module:function"),
        (f"{HANDLERS}:", ExitCode.USAGE, "is not module:function"),
        ("no_such_module_xyz:handle", ExitCode.USAGE, "no module named 'no_such_module_xyz'"),
        (f"{HANDLERS}:nope", ExitCode.USAGE, "has no attribute 'nope'"),
        (f"{HANDLERS}:not_async", ExitCode.USAGE, "is not an async function (function)"),
        (f"{HANDLERS}:NOT_CALLABLE", ExitCode.USAGE, "is not an async function (int)"),
        (f"{HANDLERS}:Handlers", ExitCode.USAGE, "is not an async function (type)"),
    ],
)
def test_unusable_handlers_are_refused_with_a_reason(
    spec: str, code: ExitCode, message: str
) -> None:
    with pytest.raises(CliError) as info:
        load_handler(spec)
    assert info.value.code is code
    assert message in info.value.message


def test_a_module_failing_to_import_exits_1_and_a_missing_dependency_is_not_a_missing_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_handlers_x.py").write_text("raise ValueError('bad settings')\n")
    (tmp_path / "needs_more_x.py").write_text("import not_installed_dependency_x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CliError) as info:
        load_handler("broken_handlers_x:handle")
    assert info.value.code is ExitCode.FAILED
    assert "importing 'broken_handlers_x' failed: ValueError: bad settings" in info.value.message
    with pytest.raises(CliError) as info:
        load_handler("needs_more_x:handle")
    assert info.value.code is ExitCode.FAILED
    assert "No module named 'not_installed_dependency_x'" in info.value.message


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["serve-outbound"], 2, "the following arguments are required: MODULE:FUNCTION"),
        (["serve-outbound", "no_such_module_xyz:handle"], 2, "cannot import"),
        (["serve-outbound", f"{HANDLERS}:not_async"], 2, "async def handle(call)"),
        (["serve-outbound", f"{HANDLERS}:hold", "--max-calls", "0"], 2, "must be positive"),
        (["serve-outbound", f"{HANDLERS}:hold", "--hangup-grace", "-1"], 2, "not be negative"),
        (["serve-outbound", f"{HANDLERS}:hold", "--drain-timeout", "x"], 2, "not a number"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_a_busy_port_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve-outbound", f"{HANDLERS}:hold", "--port", str(port)])
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in err


# -- serving, in process ---------------------------------------------------------------------


class Running:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.out = ""
        self.err = ""
        self.code: int | None = None
        self.done = trio.Event()
        self.port = 0

    async def read_until(self, pattern: re.Pattern[str] | str) -> re.Match[str]:
        wanted = re.compile(pattern) if isinstance(pattern, str) else pattern
        with trio.fail_after(10):
            while not (found := wanted.search(self.out + self.err)):
                await trio.sleep(0.02)  # capsys has no way to wait; poll it
                captured = self.capsys.readouterr()
                self.out += captured.out
                self.err += captured.err
        return found

    async def stop(self, signum: int = signal.SIGTERM) -> None:
        os.kill(os.getpid(), signum)  # the command's receiver is open: it takes the signal
        await self.read_until(STATS)


@asynccontextmanager
async def serving(capsys: pytest.CaptureFixture[str], *argv: str) -> AsyncIterator[Running]:
    args = build_parser().parse_args(["serve-outbound", *argv, "--port", "0"])
    running = Running(capsys)

    async def run() -> None:
        running.code = await cmd_serve_outbound(args)
        running.done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        running.port = int((await running.read_until(LISTENING)).group(1))
        yield running
        with trio.fail_after(10):
            await running.done.wait()


async def closed(call: FakeOutboundCall) -> FakeOutboundCall:
    with trio.fail_after(10):
        await call.wait_closed()
    return call


async def test_calls_run_the_handler_and_a_signal_drains_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with (
        open_fake_dialer() as dialer,
        serving(capsys, f"{HANDLERS}:answer_and_play") as running,
    ):
        address = ("127.0.0.1", running.port)
        played = [await closed(await dialer.dial(address)) for _ in range(2)]
        await running.stop(signal.SIGINT)
    assert running.code == 0
    for call in played:
        assert call.applications == [("answer", ""), ("playback", handlers.TONE)]
        assert call.hangup_cause == "NORMAL_CLEARING"
    assert counts(running.out) == {
        "accepted": 2, "completed": 2, "failed": 0, "hung_up": 0, "shut_down": 0,
        "refused": 0, "broken": 0,
    }  # fmt: skip
    assert "SIGINT: no new calls; draining 0 running call(s)" in running.err
    assert running.out.count("\n") == 2  # the listening line and the stats, nothing else


async def test_a_raising_handler_is_logged_in_one_line_and_its_call_hung_up(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ESL_TRIO_DEBUG", raising=False)
    async with open_fake_dialer() as dialer, serving(capsys, f"{HANDLERS}:fail") as running:
        call = await closed(await dialer.dial(("127.0.0.1", running.port)))
        await running.read_until("the handler raised")
        await running.stop()
    assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert counts(running.out)["failed"] == 1
    assert (
        f"esl-trio: ERROR outbound: the handler raised on call {call.uuid}; hanging it up with "
        "NORMAL_TEMPORARY_FAILURE (RuntimeError: the example handler failed on purpose)\n"
    ) in running.err
    assert "Traceback" not in running.err


async def test_the_drain_waits_for_running_calls(capsys: pytest.CaptureFixture[str]) -> None:
    async with open_fake_dialer() as dialer, serving(capsys, f"{HANDLERS}:hold") as running:
        call = await dialer.dial(("127.0.0.1", running.port))
        await call.wait_command("sendmsg")  # the handler runs (answer)
        os.kill(os.getpid(), signal.SIGTERM)
        await running.read_until("draining 1 running call")
        assert not call.closed  # the drain does not cut the call
        call.hangup("NORMAL_CLEARING")  # the far end ends it: the handler returns
        await closed(call)
        await running.read_until(STATS)
    assert running.code == 0
    assert counts(running.out)["completed"] == 1


async def test_a_second_signal_cuts_the_drain_short(capsys: pytest.CaptureFixture[str]) -> None:
    async with (
        open_fake_dialer() as dialer,
        serving(capsys, f"{HANDLERS}:hold", "--drain-timeout", "600") as running,
    ):
        call = await dialer.dial(("127.0.0.1", running.port))
        await call.wait_command("sendmsg")  # the handler runs (answer)
        os.kill(os.getpid(), signal.SIGTERM)
        await running.read_until("draining 1 running call")
        os.kill(os.getpid(), signal.SIGINT)
        with trio.fail_after(10):  # not the 600 s of the drain
            await closed(call)
            await running.read_until(STATS)
    assert "SIGINT: cutting the drain short; hanging up 1 call(s)" in running.err
    assert call.hangup_cause == "SYSTEM_SHUTDOWN"
    assert running.code == 0
    assert counts(running.out)["shut_down"] == 1


async def test_after_the_drain_timeout_calls_are_hung_up_with_system_shutdown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with (
        open_fake_dialer() as dialer,
        serving(capsys, f"{HANDLERS}:hold", "--drain-timeout", "0.3") as running,
    ):
        call = await dialer.dial(("127.0.0.1", running.port))
        await call.wait_command("sendmsg")
        await running.stop()
        await closed(call)
    assert running.code == 0
    assert call.hangup_cause == "SYSTEM_SHUTDOWN"
    assert counts(running.out)["shut_down"] == 1


async def test_max_calls_and_hangup_grace_reach_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = (f"{HANDLERS}:ignore_hangup", "--max-calls", "1", "--hangup-grace", "0.2")
    async with open_fake_dialer() as dialer, serving(capsys, *argv) as running:
        address = ("127.0.0.1", running.port)
        first = await dialer.dial(address)
        await first.wait_command("sendmsg")
        refused = await closed(await dialer.dial(address))
        first.hangup("NORMAL_CLEARING")  # the handler ignores it: cancelled after the grace
        await closed(first)
        await running.stop()
    assert refused.hangup_cause == "SWITCH_CONGESTION"
    assert refused.applications == []
    found = counts(running.out)
    assert (found["accepted"], found["refused"], found["hung_up"]) == (2, 1, 1)


# -- as a subprocess: the real exit code --------------------------------------------------------


async def read_line(stream: trio.abc.ReceiveStream, buffer: bytearray) -> str:
    with trio.fail_after(20):
        while b"\n" not in buffer:
            data = await stream.receive_some()
            if not data:
                raise AssertionError(f"the command ended without a line: {bytes(buffer)!r}")
            buffer += data
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode() + "\n"


@asynccontextmanager
async def subprocess_serving(
    argv: list[str], cwd: Path
) -> AsyncIterator[tuple[trio.Process, int, bytearray]]:
    process = await trio.lowlevel.open_process(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=clean_env()
    )
    try:
        assert process.stdout is not None
        buffer = bytearray()
        line = await read_line(process.stdout, buffer)
        found = LISTENING.fullmatch(line)
        assert found, line
        yield process, int(found.group(1)), buffer
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def finish(process: trio.Process, buffer: bytearray) -> tuple[int, str, str]:
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(buffer), bytearray()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:

            async def drain(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
                while data := await stream.receive_some():
                    into += data

            nursery.start_soon(drain, process.stdout, out)
            nursery.start_soon(drain, process.stderr, err)
        code = await process.wait()
    return code, out.decode(), err.decode()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_subprocess_drains_on_a_signal_and_exits_0(signum: int) -> None:
    argv = [sys.executable, "-m", "esl_trio", "serve-outbound", f"{HANDLERS}:hold",
            "--port", "0", "--drain-timeout", "0.5"]  # fmt: skip
    async with (
        open_fake_dialer() as dialer,
        subprocess_serving(argv, REPO) as (process, port, buffer),
    ):
        call = await dialer.dial(("127.0.0.1", port))
        await call.wait_command("sendmsg")
        process.send_signal(signum)
        code, out, err = await finish(process, buffer)
        await closed(call)
    assert code == 0, err
    assert call.hangup_cause == "SYSTEM_SHUTDOWN"  # still running when the drain ran out
    assert counts(out)["shut_down"] == 1
    assert f"{signal.Signals(signum).name}: no new calls; draining 1 running call(s)" in err
    assert "Traceback" not in err


async def test_the_installed_script_loads_a_handler_from_the_working_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "my_calls_x.py").write_text(
        "async def handle(call):\n    await call.answer()\n    await call.execute('set', 'x=1')\n"
    )
    argv = [str(SCRIPT), "serve-outbound", "my_calls_x:handle", "--port", "0"]
    async with (
        open_fake_dialer() as dialer,
        subprocess_serving(argv, tmp_path) as (process, port, buffer),
    ):
        call = await closed(await dialer.dial(("127.0.0.1", port)))
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process, buffer)
    assert code == 0, err
    assert call.applications == [("answer", ""), ("set", "x=1")]
    assert counts(out)["completed"] == 1
