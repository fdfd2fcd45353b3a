"""Issue 11 item 8: ``esl-trio originate DEST [--app APP] [--follow]`` and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.test_cli import clean_env, read_line, run_cli, stop

PASSWORD = "Sw0rdfish-42"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """A simulated PBX whose originated calls are held 0.5 s."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "esl_trio", "fake-server", "--port", "0", "--password", PASSWORD,
         "--simulate", "hold_time=0.5,seed=3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip
    try:
        first = read_line(proc, 20)
        port = first.strip().rsplit(":", 1)[-1]
        yield f"esl://{PASSWORD}@127.0.0.1:{port}"
    finally:
        stop(proc)


def test_issue11_item8_follow_prints_the_calls_events_as_json_lines(url: str) -> None:
    done = run_cli("--url", url, "originate", "loopback/9664", "--follow", timeout=30)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    names = [r["event"] for r in records]
    assert "CHANNEL_ANSWER" in names
    assert names[-1] == "CHANNEL_DESTROY"
    assert len({r["unique_id"] for r in records}) == 1  # this call's events only
    assert "answered" in done.stderr and "NORMAL_CLEARING" in done.stderr


def test_issue11_item8_not_answered_exits_1_with_the_cause(url: str) -> None:
    done = run_cli("--url", url, "originate", "loopback/busy", timeout=30)
    assert done.returncode == 1
    assert "USER_BUSY" in done.stderr


def test_issue11_item8_a_bad_timeout_is_a_usage_error(url: str) -> None:
    done = run_cli("--url", url, "originate", "loopback/9664", "--timeout", "0", timeout=30)
    assert done.returncode == 2
