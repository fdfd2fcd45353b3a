"""Sentinels returned by the incremental readers (h11's NEED_DATA, as an Enum for typing)."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["CONNECTION_CLOSED", "NEED_DATA", "Sentinel"]


class Sentinel(enum.Enum):
    """Not a message: ask again after feeding more bytes (or the stream ended cleanly)."""

    NEED_DATA = "NEED_DATA"
    CONNECTION_CLOSED = "CONNECTION_CLOSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = Sentinel.NEED_DATA
CONNECTION_CLOSED: Final = Sentinel.CONNECTION_CLOSED
