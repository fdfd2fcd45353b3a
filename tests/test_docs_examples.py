"""Every runnable example in docs/examples runs (so the docs cannot silently rot)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

import esl_trio

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
# Long-running programs (they run until a signal): exercised against each other below.
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


# --- the long-running examples: service.py against fake_server.py, in real processes ------------


class Program:
    """A docs example running in its own process; its stdout and stderr read as one text."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.output = ""

    @classmethod
    async def start(cls, name: str, **env: str) -> Program:
        process = await trio.lowlevel.open_process(
            [sys.executable, str(EXAMPLES / name)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        return cls(process)

    async def wait_for(self, pattern: str) -> re.Match[str]:
        """Read output until ``pattern`` appears (bounded: a hung example fails the test)."""
        assert self.process.stdout is not None
        with trio.fail_after(30):
            while (match := re.search(pattern, self.output)) is None:
                chunk = await self.process.stdout.receive_some()
                assert chunk, f"exited without printing {pattern!r}:\n{self.output}"
                self.output += chunk.decode()
        return match

    async def exit_status(self) -> int:
        with trio.fail_after(30):
            status = await self.process.wait()
            assert self.process.stdout is not None
            while chunk := await self.process.stdout.receive_some():
                self.output += chunk.decode()
        return status


@pytest.fixture
async def fake_url() -> AsyncIterator[str]:
    """fake_server.py on a free loopback port; yields the ESL_TRIO_URL it prints."""
    server = await Program.start("fake_server.py")
    try:
        yield (await server.wait_for(r"ESL_TRIO_URL=(\S+)")).group(1)
    finally:
        server.process.kill()
        await server.process.wait()


async def test_service_example_works_and_drains_on_sigterm(fake_url: str) -> None:
    service = await Program.start("service.py", ESL_TRIO_URL=fake_url)
    try:
        await service.wait_for(r"connected to 127\.0\.0\.1:\d+")
        await service.wait_for(r"hangup call-1 NORMAL_CLEARING")  # the fake calls every 2 s
        service.process.send_signal(signal.SIGTERM)
        assert await service.exit_status() == 0, service.output
    finally:
        if service.process.returncode is None:
            service.process.kill()
    assert "SIGTERM: draining and closing" in service.output
    assert service.output.rstrip().endswith("closed")


async def test_service_example_exits_78_on_rejected_credentials(fake_url: str) -> None:
    wrong = fake_url.replace("ClueCon@", "not-the-password@")
    service = await Program.start("service.py", ESL_TRIO_URL=wrong)
    assert await service.exit_status() == 78, service.output  # EX_CONFIG: systemd gives up
    assert "fix the configuration" in service.output
    assert "not-the-password" not in service.output


async def test_service_example_exits_1_when_nothing_listens() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = await Program.start("service.py", ESL_TRIO_URL=f"esl://ClueCon@127.0.0.1:{port}")
    assert await service.exit_status() == 1, service.output  # systemd restarts it later
    assert "cannot connect" in service.output


# --- the docs build: the API reference shows the public surface (issue 8 item 11) -------------
# These need the docs tools (pip install -e '.[docs]'), which .ci/run installs before the tests.

REPO = EXAMPLES.parent.parent


def _mkdocs_options() -> dict[str, Any]:
    """The mkdocstrings python options of mkdocs.yml (its ``!!python/name`` tags ignored)."""
    yaml = pytest.importorskip("yaml")

    loader: Any = type("Loader", (yaml.SafeLoader,), {})  # a private copy: tags stay local
    loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=loader)
    plugin = next(p["mkdocstrings"] for p in config["plugins"] if isinstance(p, dict))
    options: dict[str, Any] = plugin["handlers"]["python"]["options"]
    return options


@pytest.fixture(scope="module")
def reference() -> Any:
    """``esl_trio`` as the docs build loads it: with mkdocs.yml's griffe extensions."""
    griffe = pytest.importorskip("griffe")
    extensions = griffe.load_extensions(*_mkdocs_options()["extensions"])
    return griffe.load("esl_trio", extensions=extensions, search_paths=[str(REPO)])


def test_issue8_item11_open_esl_runtime_is_documented_as_an_async_context_manager(
    reference: Any,
) -> None:
    func = reference["open_esl_runtime"]
    assert str(func.returns) == "AbstractAsyncContextManager[EslRuntime]"
    assert "async with open_esl_runtime(config) as rt:" in func.docstring.value
    assert func.docstring.value.startswith("Connect, ")  # the summary line stays first


def _internal_members() -> set[str]:
    """``Class.member`` names mkdocs.yml lists as runtime-internal (PublicSurface's option)."""
    for entry in _mkdocs_options()["extensions"]:
        if isinstance(entry, dict):
            ((path, settings),) = entry.items()
            if path.endswith(":PublicSurface"):
                return set(settings["internal"])
    raise AssertionError("PublicSurface is not configured in mkdocs.yml")


def test_issue8_item11_reference_shows_no_private_or_internal_members(reference: Any) -> None:
    do_filter_objects = pytest.importorskip("mkdocstrings_handlers.python").do_filter_objects
    assert _mkdocs_options()["filters"] == "public"
    internal = _internal_members()
    assert "Receiver.offer" in internal
    leaked = []
    for name in esl_trio.__all__:
        obj = reference[name]
        if not obj.is_class:
            continue
        for member in do_filter_objects(obj.members, filters="public"):
            private = member.name.startswith("_") and member.name not in {"__init__", "__call__"}
            if private or f"{name}.{member.name}" in internal:
                leaked.append(f"{name}.{member.name}")
    assert not leaked
    receiver = [m.name for m in do_filter_objects(reference["Receiver"].members, filters="public")]
    assert "receive" in receiver  # the public API stays


def test_issue8_item2_reference_links_every_cited_id_to_its_catalogue_entry(
    reference: Any,
) -> None:
    """Docstrings' ids become links; each link's anchor exists on the catalogue page."""
    page = (REPO / "docs" / "reference" / "behaviours.md").read_text()
    anchors = set(re.findall(r'<span id="([^"]+)">', page)) | set(re.findall(r"\{#([^}]+)\}", page))
    links: set[str] = set()
    stack = [reference]
    while stack:
        obj = stack.pop()
        stack.extend(m for m in obj.members.values() if not m.is_alias)
        if obj.docstring is not None:
            assert not re.search(r"(?<!\[)\b(?:B-[A-Z]+-[\d*]|G-\d)", obj.docstring.value), obj.path
            links |= set(re.findall(r"\]\(behaviours\.md#([^)]+)\)", obj.docstring.value))
    assert {"b-api-2", "b-frame-11", "g-17"} <= links
    assert not links - anchors
