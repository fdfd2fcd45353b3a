"""Small shared vocabulary of the protocol core."""

from __future__ import annotations

import enum

__all__ = ["EventFormat"]


class EventFormat(enum.StrEnum):
    """How FreeSWITCH encodes events on this connection (`event <format> ...`)."""

    PLAIN = "plain"
    JSON = "json"
    XML = "xml"
