"""Generate the behaviours catalogue (docs/reference/behaviours.md) from the repository itself.

The code, docstrings and test names cite behaviour ids (``B-FRAME-7``, ``G-12``) so that a
reader can see which promise a line keeps. This script turns those citations into a page a
user can open:

* the one-line description of each id comes from ``tools/behaviours.toml`` (hand-written),
* the tests that prove it are read from the test suite: every ``test_*`` function whose name
  (``test_x_B_FRAME_7``, ``test_y_B_RECON_3_4`` for B-RECON-3 and B-RECON-4) or docstring
  cites the id.

Because the page is generated, it cannot go stale: ``tests/test_behaviours.py`` fails when
the committed page differs from what this script writes, and when an id is cited somewhere
but has no description.

    python tools/behaviours.py --write    # regenerate docs/reference/behaviours.md
    python tools/behaviours.py --check    # exit 1 if the page is stale or an id is unknown
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tools" / "behaviours.toml"
PAGE = REPO / "docs" / "reference" / "behaviours.md"
REGENERATE = "python tools/behaviours.py --write"
NO_TEST = "(no test yet)"

# Where ids are cited: the package, the docs (minus the generated page itself), the tests.
CITING_GLOBS = (
    "esl_trio/**/*.py",
    "docs/**/*.md",
    "docs/**/*.py",
    "tests/**/*.py",
    "README.md",
    "tools/behaviours.toml",  # a description may point at another id ("see G-2")
)
# Where the proving tests live (docs/examples/test_*.py run in the suite too).
TEST_GLOBS = ("tests/**/test_*.py", "docs/examples/test_*.py")

# In prose: B-FRAME-7, B-RECON-3/4 (both), B-DRAIN-1..3 (a range), G-12, and B-HB-* (an area).
_B_TEXT = re.compile(r"\bB-([A-Z]+)-(\d+(?:(?:/|\.\.|…)\d+)*|\*)")
_G_TEXT = re.compile(r"\bG-(\d+)\b")
# In test names: _B_FRAME_7, _B_RECON_3_4 (both), _G_12; the id ends the name or a word follows.
_B_NAME = re.compile(r"_B_([A-Z]+)_(\d+(?:_\d+)*)(?=_[a-z]|_B_|_G_|$)")
_G_NAME = re.compile(r"_G_(\d+)(?=_|$)")


@dataclass(frozen=True, order=True)
class BehaviourId:
    """``B-<AREA>-<n>`` or ``G-<n>`` (area ``G``), ordered by area, then number."""

    area: str
    number: int

    @classmethod
    def parse(cls, text: str) -> BehaviourId:
        if text.startswith("G-"):
            return cls("G", int(text[2:]))
        _, area, number = text.split("-")
        return cls(area, int(number))

    def __str__(self) -> str:
        return f"G-{self.number}" if self.area == "G" else f"B-{self.area}-{self.number}"

    @property
    def anchor(self) -> str:
        return str(self).lower()


def area_anchor(area: str) -> str:
    """The page anchor of an area's section (``B-HB-*`` links there)."""
    return "g" if area == "G" else f"b-{area.lower()}"


@dataclass(frozen=True)
class Citations:
    """Ids cited in prose (per file) and areas cited with a wildcard (``B-HB-*``)."""

    ids: dict[BehaviourId, set[str]] = field(default_factory=dict)
    areas: dict[str, set[str]] = field(default_factory=dict)


def _numbers(spec: str) -> list[int]:
    """``7`` → [7]; ``3/4`` → [3, 4]; ``1..3`` → [1, 2, 3]."""
    numbers: list[int] = []
    for part in spec.split("/"):
        low, _, high = re.sub("…", "..", part).partition("..")
        numbers.extend(range(int(low), int(high or low) + 1))
    return numbers


def ids_in_text(text: str) -> tuple[set[BehaviourId], set[str]]:
    """The ids a piece of prose cites, and the areas it cites as ``B-AREA-*``."""
    ids = {BehaviourId("G", int(m.group(1))) for m in _G_TEXT.finditer(text)}
    areas: set[str] = set()
    for match in _B_TEXT.finditer(text):
        area, spec = match.groups()
        if spec == "*":
            areas.add(area)
        else:
            ids.update(BehaviourId(area, n) for n in _numbers(spec))
    return ids, areas


def ids_in_test_name(name: str) -> set[BehaviourId]:
    ids = {BehaviourId("G", int(m.group(1))) for m in _G_NAME.finditer(name)}
    for match in _B_NAME.finditer(name):
        area, numbers = match.groups()
        ids.update(BehaviourId(area, int(n)) for n in numbers.split("_"))
    return ids


def _files(globs: Iterable[str]) -> Iterator[Path]:
    seen: set[Path] = set()
    for pattern in globs:
        for path in sorted(REPO.glob(pattern)):
            if path in seen or path == PAGE or "fixtures" in path.parts:
                continue
            seen.add(path)
            yield path


def citations() -> Citations:
    """Every id cited anywhere a user or contributor reads: code, docs, tests."""
    found = Citations()
    for path in _files(CITING_GLOBS):
        ids, areas = ids_in_text(path.read_text(encoding="utf-8"))
        ids |= ids_in_test_name_tokens(path) if path.suffix == ".py" else set()
        where = path.relative_to(REPO).as_posix()
        for ident in ids:
            found.ids.setdefault(ident, set()).add(where)
        for area in areas:
            found.areas.setdefault(area, set()).add(where)
    return found


def ids_in_test_name_tokens(path: Path) -> set[BehaviourId]:
    """Ids spelled with underscores inside identifiers (``def test_x_B_FRAME_7``)."""
    ids: set[BehaviourId] = set()
    for name in re.findall(r"\bdef (test_\w+)", path.read_text(encoding="utf-8")):
        ids |= ids_in_test_name(name)
    return ids


_Test = ast.FunctionDef | ast.AsyncFunctionDef


def _is_test(node: ast.stmt) -> TypeGuard[_Test]:
    return isinstance(node, _Test) and node.name.startswith("test_")


def _tests_in(tree: ast.Module) -> Iterator[tuple[str, _Test]]:
    """``(qualified name, node)`` of module-level tests and tests in ``Test*`` classes."""
    for node in tree.body:
        if _is_test(node):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from ((f"{node.name}::{item.name}", item) for item in node.body if _is_test(item))


def proving_tests() -> dict[BehaviourId, list[str]]:
    """Id → the tests (``path::name``) whose name or docstring cites it."""
    proofs: dict[BehaviourId, list[str]] = {}
    for path in _files(TEST_GLOBS):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(REPO).as_posix()
        for qualname, node in _tests_in(tree):
            ids = ids_in_test_name(node.name) | ids_in_text(ast.get_docstring(node) or "")[0]
            for ident in ids:
                proofs.setdefault(ident, []).append(f"{where}::{qualname}")
    return proofs


@dataclass(frozen=True)
class Catalogue:
    """The hand-written part: area titles and one line per id."""

    areas: dict[str, str]
    lines: dict[BehaviourId, str]

    @classmethod
    def load(cls, path: Path = DATA) -> Catalogue:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        lines = {BehaviourId.parse(k): v for k, v in data["behaviours"].items()}
        return cls(areas=dict(data["areas"]), lines=lines)


def _linked(text: str, catalogue: Catalogue) -> str:
    """Ids a description mentions ("see G-2") become links to their rows on the page."""

    def link(match: re.Match[str]) -> str:
        ident = BehaviourId.parse(match.group(0))
        return f"[{ident}](#{ident.anchor})" if ident in catalogue.lines else match.group(0)

    return re.sub(r"\bB-[A-Z]+-\d+\b|\bG-\d+\b", link, text)


def render(catalogue: Catalogue, proofs: dict[BehaviourId, list[str]]) -> str:
    """The whole page, deterministic (sorted), so regenerating it is a no-op when nothing moved."""
    untested = sorted(i for i in catalogue.lines if i not in proofs)
    out = [
        f"<!-- Generated by `{REGENERATE}` from tools/behaviours.toml and the",
        "     test names/docstrings. Do not edit: tests/test_behaviours.py fails if stale. -->",
        "",
        "# Behaviours catalogue",
        "",
        "The code, its docstrings and the test names cite behaviour ids: `B-<AREA>-<n>` for a",
        "behaviour esl-trio promises, `G-<n>` for a pitfall it avoids (a mistake other ESL",
        "clients make). This page says what each id means and which tests prove it. Test names",
        "end in the ids they prove (`test_..._B_FRAME_7`), so `python -m pytest -k B_FRAME_7`",
        "runs the tests of one behaviour.",
        "",
        f"{len(catalogue.lines)} ids: {len(catalogue.lines) - len(untested)} proved by at least one"
        f" test, {len(untested)} marked {NO_TEST}.",
        "",
    ]
    for area, title in catalogue.areas.items():
        members = sorted(i for i in catalogue.lines if i.area == area)
        if not members:
            continue
        heading = f"G — {title}" if area == "G" else f"B-{area} — {title}"
        out += [f"## {heading} {{#{area_anchor(area)}}}", "", "| Id | Behaviour | Proved by |"]
        out.append("| --- | --- | --- |")
        for ident in members:
            tests = proofs.get(ident)
            proved = "<br>".join(f"`{t}`" for t in sorted(tests)) if tests else NO_TEST
            cell = f'<span id="{ident.anchor}"></span>{ident}'
            line = _linked(catalogue.lines[ident], catalogue)
            out.append(f"| {cell} | {line} | {proved} |")
        out.append("")
    return "\n".join(out)


@dataclass(frozen=True)
class Report:
    """What ``--check`` (and the tests) look at."""

    page: str
    stale: bool
    unknown_ids: dict[BehaviourId, set[str]]
    unknown_areas: dict[str, set[str]]
    untested: list[BehaviourId]


def report(page_path: Path = PAGE) -> Report:
    """Render the page and compare it, and every citation, with what is committed."""
    catalogue = Catalogue.load()
    proofs = proving_tests()
    page = render(catalogue, proofs)
    cited = citations()
    committed = page_path.read_text(encoding="utf-8") if page_path.exists() else ""
    return Report(
        page=page,
        stale=committed != page,
        unknown_ids={i: w for i, w in cited.ids.items() if i not in catalogue.lines},
        unknown_areas={a: w for a, w in cited.areas.items() if a not in catalogue.areas},
        untested=sorted(i for i in catalogue.lines if i not in proofs),
    )


def problems(result: Report, *, page: bool = True) -> list[str]:
    """Every reason ``--check`` fails (``page``: also a stale page), each saying what to do."""
    found = [
        f"{ident} is cited in {', '.join(sorted(where))} but has no entry in tools/behaviours.toml"
        for ident, where in sorted(result.unknown_ids.items())
    ] + [
        f"B-{area}-* is cited in {', '.join(sorted(where))} but area {area} is not in "
        "tools/behaviours.toml [areas]"
        for area, where in sorted(result.unknown_areas.items())
    ]
    if page and result.stale:
        found.append(f"{PAGE.relative_to(REPO)} is stale: run `{REGENERATE}` and commit it")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write docs/reference/behaviours.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    result = report()
    if args.write:
        PAGE.write_text(result.page, encoding="utf-8")
        result = report()
    elif not args.check:
        sys.stdout.write(result.page)
    if result.untested:
        print(f"{NO_TEST}: {', '.join(map(str, result.untested))}", file=sys.stderr)
    found = problems(result, page=args.check)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
