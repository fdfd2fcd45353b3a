"""A griffe extension for the docs build only (mkdocstrings): render esl-trio's source as written.

esl-trio documents fields and enum members with Sphinx-style ``#:`` comments and refers to
objects with Sphinx roles (``:class:`StreamGap```). Griffe reads neither, so this extension
(loaded by ``mkdocs.yml``) turns

* ``#:`` comments on the lines above an attribute, or at the end of its line, into that
  attribute's docstring,
* Sphinx roles into inline code,
* ``attrs.field(default=X, ...)`` / ``attrs.field(factory=F, ...)`` values into ``X`` / ``F()``,
* and drops the internal behaviour ids (``B-HB-*``, ``G-17``, ``DESIGN §9``) that the source
  uses to point at its design contract: they mean nothing to a reader of the API reference.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`~?([^`]+)`")
_ID = r"(?:B-[A-Z]+(?:-[A-Z]+)*-[\w*…/]+(?: \[REC\])?|G-\d+(?: avoided)?|DESIGN §\d+)"
_IDS = re.compile(rf"\s*,?\s*\b{_ID}\s*,?")
_GROUP = re.compile(rf"\s*\(([^()]*\b{_ID}[^()]*)\)")
_DEFAULT = re.compile(
    r"^attrs\.field\((?:.*?[(,]\s*)?(default|factory)=(\(\)|[^,()]+(?:\([^()]*\))?)"
)


def _without_ids(match: re.Match[str]) -> str:
    """A parenthesis that cites behaviour ids: keep what else it says, or drop it."""
    rest = _IDS.sub(", ", match.group(1)).strip(" ,;")
    return f" ({rest})" if rest else ""


def _clean(text: str) -> str:
    text = _ROLE.sub(r"`\1`", text)
    return _GROUP.sub(_without_ids, text)


class SourceComments(griffe.Extension):
    """Attach ``#:`` comments to attributes; rewrite Sphinx roles as inline code."""

    def __init__(self) -> None:
        super().__init__()
        self._files: dict[Path, list[str]] = {}

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        for member in obj.members.values():
            if member.is_alias:
                continue
            assert isinstance(member, griffe.Object)
            if isinstance(member, griffe.Attribute):
                self._attribute(member)
            self._walk(member)
        if obj.docstring is not None:
            obj.docstring.value = _clean(obj.docstring.value)

    def _attribute(self, attr: griffe.Attribute) -> None:
        if attr.docstring is None:
            text = self._comment(attr)
            if text:
                attr.docstring = griffe.Docstring(text, parent=attr)
        if attr.value is not None and str(attr.value).startswith("attrs.field("):
            match = _DEFAULT.match(str(attr.value))
            if match is None:  # no default: a required field
                attr.value = None
            else:
                kind, value = match.groups()
                attr.value = f"{value.strip()}()" if kind == "factory" else value.strip()

    def _comment(self, attr: griffe.Attribute) -> str:
        path = attr.filepath
        if not isinstance(path, Path) or attr.lineno is None:
            return ""
        lines = self._files.get(path)
        if lines is None:
            lines = self._files[path] = path.read_text(encoding="utf-8").splitlines()
        index = attr.lineno - 1
        _, sep, trailing = lines[index].partition("  #: ")
        if sep:
            return trailing.strip()
        above: list[str] = []
        index -= 1
        while index >= 0 and lines[index].strip().startswith("#:"):
            above.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        return " ".join(above)
