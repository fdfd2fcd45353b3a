"""The repository stands on its own: nothing reads from a folder beside the checkout.

A fresh clone has no ``shared/`` folder next to it, so any path that climbs out of the
repository to find one would pass on a developer's machine and fail for every user.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHECKED = ("tests", "benchmarks", "docs", "esl_trio", "fuzz")
# A path component named ``shared`` reached from outside the repository.
OUTSIDE = re.compile(r"\.\./shared|/work/shared|[\"']shared[\"']\s*/|parent\s*/\s*[\"']shared")
SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".yml", ".yaml", ".sh"}


def _files() -> list[Path]:
    out: list[Path] = []
    for top in CHECKED:
        for path in (REPO / top).rglob("*"):
            if path.is_file() and path.suffix in SUFFIXES and "fixtures" not in path.parts:
                out.append(path)
    return out


def test_item_1_no_file_refers_to_a_shared_folder_outside_the_repo() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _files()
        if path.name != "test_self_contained.py"
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_item_1_the_recorded_traffic_lives_inside_the_repo() -> None:
    from tests._fixtures import FIXTURES, raw_files

    assert FIXTURES.is_relative_to(REPO)
    assert (FIXTURES / "README.md").is_file()
    assert len(raw_files()) >= 40


def test_item_1_the_checker_catches_an_outside_path() -> None:
    assert OUTSIDE.search('ROOT.parent / "shared" / "fixtures"')
    assert OUTSIDE.search("see ../shared/fixtures")
    assert not OUTSIDE.search("a shared receiver with a dispatcher")
