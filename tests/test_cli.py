"""The ``esl-trio`` command line, run for real: subprocesses against a fake-server subprocess.

Every subprocess has a timeout, and every run is checked for leaked passwords and tracebacks.
A few in-process tests cover what a subprocess cannot reach (following a server restart).
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import esl_trio
from esl_trio import GapReason, StreamGap
from esl_trio._cli._commands import cmd_events, split_command
from esl_trio._cli._errors import CliError, ExitCode
from esl_trio._cli._output import gap_record
from esl_trio._cli._parser import build_parser
from esl_trio._cli._server import listen_url, parse_simulate
from esl_trio.testing._pbx import open_simulated_pbx

PASSWORD = "Sw0rdfish-42"
WRONG_PASSWORD = "Not-The-Pw-7"
SCRIPT = Path(sys.executable).parent / ("esl-trio.exe" if os.name == "nt" else "esl-trio")
EVENT_KEYS = {
    "event", "subclass", "unique_id", "sequence", "generation", "received_at", "headers", "body",
}  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESL_TRIO_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    *args: str, timeout: float = 20.0, script: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "esl_trio"]
    proc = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert PASSWORD not in output
    assert WRONG_PASSWORD not in output
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """One stdout line of a running process, or fail after ``timeout`` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output within {timeout} s")
    return proc.stdout.readline()


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@attrs.frozen
class Server:
    port: int
    first_line: str

    @property
    def url(self) -> str:
        return f"esl://{PASSWORD}@127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """``esl-trio fake-server --port 0`` with a call generator, for the whole module."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "esl_trio", "fake-server", "--port", "0", "--password", PASSWORD,
         "--simulate", "calls_per_second=20,hold_time=0.5,seed=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )  # fmt: skip
    try:
        line = read_line(proc, timeout=15)
        match = re.fullmatch(r"listening on esl://\*\*\*@127\.0\.0\.1:(\d+)", line.strip())
        assert match, line
        yield Server(int(match.group(1)), line)
    finally:
        _, err = stop(proc)
        assert PASSWORD not in err
        assert "Traceback" not in err


# -- api and bgapi ------------------------------------------------------------------------


def test_api_status_prints_the_output_verbatim(server: Server) -> None:
    proc = run_cli("--url", server.url, "api", "status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("UP ")
    assert "is ready" in proc.stdout


def test_the_installed_script_is_the_same_entry_point(server: Server) -> None:
    assert SCRIPT.exists()
    version = run_cli("--version", script=True)
    assert version.returncode == 0
    assert version.stdout.strip() == f"esl-trio {esl_trio.__version__}"
    proc = run_cli("api", "--url", server.url, "status", script=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("UP ")


def test_api_joins_words_into_command_and_arguments(server: Server) -> None:
    split = run_cli("--url", server.url, "api", "show", "channels")
    quoted = run_cli("--url", server.url, "api", "show channels")
    for proc in (split, quoted):
        assert proc.returncode == 0, proc.stderr
        assert re.search(r"^\d+ total\.$", proc.stdout, re.MULTILINE), proc.stdout


def test_api_err_output_exits_1(server: Server) -> None:
    proc = run_cli("--url", server.url, "api", "nosuchcommand", "x")
    assert proc.returncode == 1
    assert proc.stdout == "-ERR nosuchcommand Command not found!\n"


def test_url_from_the_environment(server: Server) -> None:
    proc = run_cli("api", "status", env=clean_env(ESL_TRIO_URL=server.url))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("UP ")


def test_bgapi_waits_for_the_job_and_prints_its_result(server: Server) -> None:
    status = run_cli("--url", server.url, "bgapi", "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("UP ")
    call = run_cli("--url", server.url, "bgapi", "originate", "user/1000", "&park()")
    assert call.returncode == 0, call.stderr
    assert call.stdout.startswith("+OK ")
    failed = run_cli("--url", server.url, "bgapi", "nosuchcommand")
    assert failed.returncode == 1
    assert failed.stdout.startswith("-ERR")


# -- events --------------------------------------------------------------------------------


def events_of(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_events_are_json_lines_with_the_documented_schema(server: Server) -> None:
    records = events_of(run_cli("--url", server.url, "events", "--count", "6"))
    assert len(records) == 6
    sequences = []
    for record in records:
        assert set(record) == EVENT_KEYS
        headers = record["headers"]
        assert isinstance(headers, dict)
        assert headers["Event-Name"] == record["event"]
        assert record["generation"] == 1
        assert isinstance(record["received_at"], float)
        assert isinstance(record["body"], str)
        sequences.append(record["sequence"])
    assert sequences == sorted(sequences)
    assert any(str(r["event"]).startswith("CHANNEL_") for r in records)


def test_events_by_name_format_and_filter(server: Server) -> None:
    by_name = events_of(
        run_cli("--url", server.url, "events", "CHANNEL_ANSWER", "--format", "xml", "--count", "3")
    )
    assert [r["event"] for r in by_name] == ["CHANNEL_ANSWER"] * 3
    assert all(r["unique_id"] for r in by_name)
    filtered = events_of(
        run_cli("--url", server.url, "events", "--format", "plain", "--count", "3",
                "--filter", "Event-Name", "CHANNEL_CREATE")
    )  # fmt: skip
    assert [r["event"] for r in filtered] == ["CHANNEL_CREATE"] * 3


def test_events_text_output_is_one_readable_line_per_event(server: Server) -> None:
    proc = run_cli("--url", server.url, "events", "--output", "text", "--count", "2",
                   "channel_create")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert all(re.match(r"\d\d:\d\d:\d\d\.\d{3}  #\d+ g1 +CHANNEL_CREATE ", ln) for ln in lines)


def test_ctrl_c_stops_a_stream_cleanly_with_130(server: Server) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "esl_trio", "--url", server.url, "events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert json.loads(read_line(proc, timeout=15))["event"]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        stop(proc)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert PASSWORD not in err


# -- health and watch ------------------------------------------------------------------------


def test_health_prints_the_snapshot_as_json(server: Server) -> None:
    proc = run_cli("--url", server.url, "health")
    assert proc.returncode == 0, proc.stderr
    health = json.loads(proc.stdout)
    assert health["state"] == "ready"
    assert health["address"] == f"127.0.0.1:{server.port}"
    assert health["generation"] == 1
    assert health["reconnect"]["reconnects"] == 0
    assert {"events_received", "events_dropped", "jobs_completed", "live"} <= set(health)


def test_watch_refreshes_a_given_number_of_times(server: Server) -> None:
    proc = run_cli("--url", server.url, "watch", "--iterations", "2", "--interval", "0.3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert all("state=ready" in line and "rate=" in line for line in lines)
    assert int(re.findall(r"events=(\d+)", lines[1])[0]) > 0


# -- failures: clear messages and exit codes -------------------------------------------------


def test_refused_connection_exits_3_with_a_hint() -> None:
    port = free_port()
    proc = run_cli("--url", f"esl://{PASSWORD}@127.0.0.1:{port}", "api", "status")
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr == (
        f"esl-trio: cannot connect to esl://***@127.0.0.1:{port}: connection refused — is "
        "FreeSWITCH running and mod_event_socket listening? (check --url / ESL_TRIO_URL)\n"
    )


def test_unknown_host_exits_3() -> None:
    proc = run_cli("--url", f"esl://{PASSWORD}@no-such-host.invalid:8021", "health")
    assert proc.returncode == 3
    assert "unknown host" in proc.stderr
    assert "esl://***@no-such-host.invalid:8021" in proc.stderr


def test_rejected_password_exits_4(server: Server) -> None:
    url = f"esl://{WRONG_PASSWORD}@127.0.0.1:{server.port}"
    proc = run_cli("--url", url, "api", "status")
    assert proc.returncode == 4
    assert proc.stderr.startswith("esl-trio: authentication rejected by esl://***@127.0.0.1:")
    assert proc.stderr.count("\n") == 1


def test_handshake_with_something_that_is_not_freeswitch_exits_5() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        proc = run_cli(
            "--connect-timeout", "0.5", "--url", f"esl://x@127.0.0.1:{port}", "api", "status"
        )
    assert proc.returncode == 5
    assert "no FreeSWITCH greeting within 0.5 s" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "usage: esl-trio"),
        (("api",), "no command given"),
        (("--url", "http://x", "api", "status"), "invalid --url"),
        (("--url", f"esl://{PASSWORD}@h:99999", "api", "status"), "invalid --url"),
        (("nosuch",), "invalid choice"),
        (("events", "--count", "0"), "--count must be at least 1"),
        (("fake-server", "--simulate", "bogus=1"), "--simulate: bad item"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_fake_server_on_a_busy_port_exits_1(server: Server) -> None:
    proc = run_cli("fake-server", "--port", str(server.port))
    assert proc.returncode == 1
    assert "address already in use" in proc.stderr


def test_fake_server_shows_the_default_password() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "esl_trio", "fake-server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        line = read_line(proc, timeout=15)
    finally:
        stop(proc)
    assert re.fullmatch(r"listening on esl://ClueCon@127\.0\.0\.1:\d+\n", line)


# -- the demo ----------------------------------------------------------------------------------


def test_demo_runs_to_completion_by_itself() -> None:
    proc = run_cli("demo", timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for text in ("1. ", "api status", "bgapi", "BACKGROUND_JOB", "CHANNEL_CREATE",
                 "state -> reconnecting", "state -> ready", "generation 2",
                 "were restored", "Health summary", "reconnects 1"):  # fmt: skip
        assert text in out, text
    assert proc.stderr == ""


# -- in process: following a restart, and the small pieces -----------------------------------


async def test_events_follow_a_server_restart_and_print_the_gap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_simulated_pbx(seed=3, calls_per_second=20, hold_time=0.2) as pbx:
        port = await pbx.serve_tcp()
        argv = ["--url", f"esl://ClueCon@127.0.0.1:{port}", "events", "--quiet", "CHANNEL_CREATE"]
        out = ""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cmd_events, build_parser().parse_args(argv))
            with trio.fail_after(10):
                while '"generation": 1' not in out:
                    await trio.sleep(0.05)
                    out += capsys.readouterr().out
                await pbx.restart()
                # The gap line comes on READY, before any event of generation 2: wait for both.
                while out.count('"generation": 2') < 2:
                    await trio.sleep(0.05)
                    out += capsys.readouterr().out
            nursery.cancel_scope.cancel()
    records = [json.loads(line) for line in out.splitlines()]
    gaps = [r for r in records if "gap" in r]
    assert gaps == [{"gap": "reconnect", "dropped": 0, "generation": 2}]
    after = records[records.index(gaps[0]) + 1 :]
    assert after
    assert all(r["generation"] == 2 and r["event"] == "CHANNEL_CREATE" for r in after)


async def test_issue8_item17_events_tell_each_retry_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_simulated_pbx(seed=3, calls_per_second=20, hold_time=0.2) as pbx:
        port = await pbx.serve_tcp()
        argv = ["--url", f"esl://ClueCon@127.0.0.1:{port}", "events", "CHANNEL_CREATE"]
        err = ""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cmd_events, build_parser().parse_args(argv))
            with trio.fail_after(10):
                out = ""
                while '"generation": 1' not in out:
                    await trio.sleep(0.05)
                    out += capsys.readouterr().out
                await pbx.restart()
                while "reconnected" not in err:
                    await trio.sleep(0.05)
                    err += capsys.readouterr().err
            nursery.cancel_scope.cancel()
    assert "lost" in err and "reconnecting" in err
    assert "attempt 1 in " in err  # the attempt number and the delay before it
    assert "ClueCon" not in err


def test_split_command() -> None:
    assert split_command(["show", "channels", "as", "json"]) == ("show", "channels as json")
    assert split_command(["  uptime  "]) == ("uptime", "")
    with pytest.raises(CliError) as info:
        split_command([])
    assert info.value.code is ExitCode.USAGE


def test_simulate_options_and_listen_url() -> None:
    parsed = parse_simulate(["calls_per_second=2,hold_time=5", "seed=1"])
    assert parsed == {"calls_per_second": 2.0, "hold_time": 5.0, "seed": 1}
    assert parse_simulate(["cps=3"]) == {"calls_per_second": 3.0}
    for bad in ("seed", "seed=x", "hold_time=-1", "nope=1"):
        with pytest.raises(CliError):
            parse_simulate([bad])
    assert listen_url("127.0.0.1", 8021, "ClueCon") == "esl://ClueCon@127.0.0.1:8021"
    assert listen_url("::1", 8021, "secret") == "esl://***@[::1]:8021"


def test_gap_record_schema() -> None:
    gap = StreamGap(GapReason.OVERFLOW, dropped=7, generation=3)
    assert gap_record(gap) == {"gap": "overflow", "dropped": 7, "generation": 3}


def test_issue8_item9_misspelt_event_name_exits_2_naming_the_closest() -> None:
    proc = run_cli("--url", "esl://x@127.0.0.1:1", "events", "CHANNEL_ANSWR")
    assert proc.returncode == 2
    assert "unknown FreeSWITCH event name 'CHANNEL_ANSWR'" in proc.stderr
    assert "CHANNEL_ANSWER" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_issue9_item10_unencoded_hash_in_url_exits_2_without_the_password() -> None:
    proc = run_cli("--url", "esl://Sup3r#S3cret@pbx.example", "api", "status")
    assert proc.returncode == 2
    assert "percent-encode" in proc.stderr
    assert "Sup3r" not in proc.stderr and "S3cret" not in proc.stderr
