"""Every runnable example in docs/examples runs (so the docs cannot silently rot)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import esl_trio

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


# --- the docs build: the API reference shows the public surface (issue 8 item 11) -------------
# These need the docs tools (pip install -e '.[docs]'), which .ci/run installs before the tests.

REPO = EXAMPLES.parent.parent


def _mkdocs_options() -> dict[str, Any]:
    """The mkdocstrings python options of mkdocs.yml (its ``!!python/name`` tags ignored)."""
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=Loader)
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
