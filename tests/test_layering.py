"""Architecture rules that must keep holding as the code grows."""

from __future__ import annotations

import ast
from pathlib import Path

import esl_trio.protocol

PROTOCOL_DIR = Path(esl_trio.protocol.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_protocol_core_never_imports_trio_or_sockets() -> None:
    """The sans-I/O core: no trio, no sockets, no runtime modules."""
    files = sorted(PROTOCOL_DIR.rglob("*.py"))
    assert len(files) > 5
    forbidden = {"trio", "socket", "asyncio", "selectors", "esl_trio"}
    for path in files:
        bad = {m for m in imported_modules(path) if m.split(".")[0] in forbidden}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_layering_test_detects_a_trio_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom trio import lowlevel\n")
    assert "trio" in imported_modules(sample)
