"""The README's promise: its first fenced block is exactly the two fresh-machine commands,
and CI runs the same test command."""

from __future__ import annotations

import ast
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


# --- issue 8 item 13: the usage example follows the docs' own rules ----------------------------


def usage_example() -> ast.Module:
    text = (REPO / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None
    return ast.parse(match.group(1))


def _calls(node: ast.AST, attribute: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == attribute
    ]


def test_issue8_item13_usage_opens_the_receiver_before_the_bgapi() -> None:
    """Open the receiver first, then cause the events: every bgapi runs inside the receiver."""
    module = usage_example()
    receivers = [
        node
        for node in ast.walk(module)
        if isinstance(node, ast.AsyncWith)
        and any(_calls(item.context_expr, "receiver") for item in node.items)
    ]
    assert len(receivers) == 1
    inside = {id(call) for stmt in receivers[0].body for call in _calls(stmt, "bgapi")}
    everywhere = _calls(module, "bgapi")
    assert everywhere
    assert {id(call) for call in everywhere} == inside


def _speed_section() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index("Speed") : text.index("## Documentation")]


def test_issue8_item13_speeds_are_ratios_from_the_benchmarks_readme() -> None:
    section = _speed_section()
    assert not re.search(r"\d[\d ,.]*\s*(?:events|round trips|calls|jobs)/s", section)
    ratios = re.findall(r"(\d+(?:\.\d+)?)\N{MULTIPLICATION SIGN}", section)
    assert ratios
    measured = (REPO / "benchmarks" / "README.md").read_text()
    for ratio in ratios:  # each one is a ratio the benchmarks measured in one run
        assert re.search(rf"\s{re.escape(ratio)}x\s", measured), ratio


# --- issue 8 item 14: a README that renders on PyPI ----------------------------------------------

BASE = "https://github.com/esl-trio/esl-trio/blob/main/"
_LINKS = (
    re.compile(r"\]\(\s*<?([^)\s>]+)"),  # [text](url) and ![alt](url)
    re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", re.M),  # [ref]: url
    re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)"""),  # raw HTML
)


def readme_links(text: str) -> list[str]:
    return [m.group(1) for pattern in _LINKS for m in pattern.finditer(text)]


def test_issue8_item14_readme_has_no_relative_links() -> None:
    links = readme_links((REPO / "README.md").read_text())
    assert links
    relative = [link for link in links if not re.match(r"https?://", link)]
    assert not relative, f"PyPI cannot follow relative links; prefix them with {BASE}: {relative}"


def test_issue8_item14_repository_links_point_at_files_that_exist() -> None:
    for link in readme_links((REPO / "README.md").read_text()):
        if link.startswith(BASE):
            path = link[len(BASE) :].split("#", 1)[0]
            assert (REPO / path).exists(), link


def test_issue8_item14_link_finder_sees_every_form() -> None:
    text = '[a](docs/a.md) ![b](<img.png>)\n[c]: ../c.md\n<a href="d.md">d</a> [e](https://x.y/e)'
    assert sorted(readme_links(text)) == [
        "../c.md",
        "d.md",
        "docs/a.md",
        "https://x.y/e",
        "img.png",
    ]


# --- CI: fails on any error, types the docs examples --------------------------------------------


def ci_script() -> list[str]:
    return (REPO / ".ci" / "run").read_text().splitlines()


def test_ci_fails_on_any_error_before_running_anything() -> None:
    commands = [line for line in ci_script() if line.strip() and not line.startswith("#")]
    assert commands[0] == "set -euo pipefail"
    masked = [line for line in commands if re.search(r"\|\|\s*(true|:|exit 0|\[)", line)]
    assert not masked  # e.g. `pytest || [ $? -eq 5 ]` would let "no tests collected" pass


def test_ci_and_nox_type_check_every_docs_example() -> None:
    assert ".venv/bin/mypy --strict docs/examples" in "\n".join(ci_script())
    nox = (REPO / "noxfile.py").read_text()
    assert '"mypy", "--strict", "docs/examples"' in nox
