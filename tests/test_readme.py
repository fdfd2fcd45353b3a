"""The README's promise: its first fenced block is exactly the two fresh-machine commands,
and CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def first_fenced_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    match = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    assert match is not None
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_first_block_is_demo_then_tests() -> None:
    demo, tests = first_fenced_block()
    assert demo.endswith("esl-trio demo")
    assert "pytest" in tests
    for command in (demo, tests):
        assert command.startswith("python3 -m venv .venv && ")  # complete on its own


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = first_fenced_block()
    assert tests in (REPO / ".ci" / "run").read_text().splitlines()
