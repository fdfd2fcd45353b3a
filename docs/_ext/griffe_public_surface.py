"""A griffe extension for the docs build only: the API reference shows the public surface.

mkdocs.yml renders members with ``filters: public``: griffe then hides ``_private`` names and,
in modules with ``__all__``, everything not exported. This extension narrows what griffe would
still call public:

* dunder members (``__aenter__``, ``__eq__``, ``__slots__``, ``__attrs_post_init__``): protocol
  plumbing that the class's description already covers (``async with``, ``==``); ``__init__``
  (the class signature) and ``__call__`` (a callable protocol's contract) stay;
* members that only the runtime calls, listed in mkdocs.yml as ``internal`` (``Class.member``),
  for public classes whose internal helpers have public names;
* the values of instance attributes (``events = EventStream(self._hub)``): implementation, and
  they name private state.

Hidden members are removed from the loaded model (docs build only) rather than marked
non-public: the reference reaches classes through ``esl_trio``'s re-exports (aliases), and an
alias's members answer ``is_public`` for themselves, ignoring the class member's flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import griffe

# ``__init__`` becomes the class signature; ``__call__`` is the contract of a callable protocol
# (a replay sink is any callable taking an artifact).
_KEPT = frozenset({"__init__", "__call__"})


class PublicSurface(griffe.Extension):
    """Drop dunders and listed runtime-internal members; hide instance attribute values."""

    def __init__(self, internal: Iterable[str] = ()) -> None:
        super().__init__()
        self._internal = frozenset(internal)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        for name, member in list(obj.members.items()):
            if member.is_alias:
                continue
            assert isinstance(member, griffe.Object)
            if obj.is_class and self._hidden(obj.name, name):
                del obj.members[name]
                continue
            if isinstance(member, griffe.Attribute) and "instance-attribute" in member.labels:
                member.value = None
            self._walk(member)

    def _hidden(self, owner: str, name: str) -> bool:
        dunder = name.startswith("__") and name.endswith("__") and name not in _KEPT
        return dunder or f"{owner}.{name}" in self._internal
