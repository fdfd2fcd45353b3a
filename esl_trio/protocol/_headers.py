"""A case-insensitive, order-keeping, multi-valued header collection.

FreeSWITCH header names are case-insensitive for lookup (B-FRAME-4) but a name may repeat
(CHANNEL_HANGUP_COMPLETE carries ``Hangup-Cause`` twice) and array headers carry several values.
Both cases are represented the same way here: the name appears once per value, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import overload

__all__ = ["Headers"]


class Headers:
    """Immutable header pairs with case-insensitive lookup.

    ``headers["event-name"]`` and :meth:`get` return the *first* value of a name;
    :meth:`get_all` returns every value in arrival order; :meth:`items` yields every pair
    exactly as received (original casing, duplicates kept).
    """

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs: tuple[tuple[str, str], ...] = tuple(pairs)
        # Built on first lookup: most frames are routed without any header lookup by name.
        self._index: dict[str, str | list[str]] | None = None

    def _lookup(self) -> dict[str, str | list[str]]:
        # A name's single value is kept as the str itself, a list only for a repeated name:
        # most names appear once, and a list per name would double the index's size.
        index = self._index
        if index is None:
            index = {}
            for name, value in self._pairs:
                key = name.lower()
                held = index.get(key)
                if held is None:
                    index[key] = value
                elif isinstance(held, str):
                    index[key] = [held, value]
                else:
                    held.append(value)
            self._index = index
        return index

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (any case), or ``default``."""
        held = self._lookup().get(name.lower())
        if held is None:
            return default
        return held if isinstance(held, str) else held[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` (any case) in arrival order; empty if absent."""
        held = self._lookup().get(name.lower())
        if held is None:
            return []
        return [held] if isinstance(held, str) else list(held)

    def __getitem__(self, name: str) -> str:
        held = self._lookup().get(name.lower())
        if held is None:
            raise KeyError(name)
        return held if isinstance(held, str) else held[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        """Each distinct name once, in first-seen order and original casing."""
        seen: set[str] = set()
        for name, _ in self._pairs:
            key = name.lower()
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        """The number of pairs (a repeated name counts once per value)."""
        return len(self._pairs)

    def items(self) -> tuple[tuple[str, str], ...]:
        """Every (name, value) pair as received."""
        return self._pairs

    def to_dict(self) -> dict[str, str | list[str]]:
        """A JSON-ready dict: a name with one value maps to a str, a repeated one to a list."""
        out: dict[str, str | list[str]] = {}
        for name in self:
            values = self.get_all(name)
            out[name] = values[0] if len(values) == 1 else values
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._pairs == other._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"
