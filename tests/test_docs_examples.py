"""Every runnable example in docs/examples runs (so the docs cannot silently rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
# Long-running services (they wait for Ctrl-C or a real switch) are exercised elsewhere.
NOT_SELF_CONTAINED = {"fake_server.py", "service.py"}
SCRIPTS = sorted(
    p.name
    for p in EXAMPLES.glob("*.py")
    if not p.name.startswith("test_") and p.name not in NOT_SELF_CONTAINED
)


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_script_runs(name: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # examples may write files (a replay capture) to the working directory
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip()


def test_example_test_files_pass() -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("test_*.py"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "esl_trio.testing.pytest_plugin",
         "-p", "no:cacheprovider", *files],
        capture_output=True, text=True, timeout=120, cwd=EXAMPLES.parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
