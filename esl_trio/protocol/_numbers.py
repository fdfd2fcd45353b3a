"""Bounded parsing of the decimal numbers the protocol carries.

Python's ``int()`` refuses strings of more than 4 300 digits with a bare ``ValueError`` (a
guard against quadratic conversion), so a peer sending a 5 000-digit ``Content-Length`` or
``Event-Sequence`` must not reach it. No ESL number needs more than 18 significant digits
(every counter FreeSWITCH prints fits in a signed 64-bit integer), so anything longer is "not
a number" here, before ``int()`` is called. Leading zeros do not count as significant.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DIGITS", "parse_decimal"]

#: Most significant digits accepted: 10**18 - 1 still fits an int64.
MAX_DIGITS: Final = 18


def parse_decimal(text: str) -> int | None:
    """``text`` as an int if it is ASCII digits, at most 18 significant ones; else None."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    if len(digits) > MAX_DIGITS:
        return None
    return int(digits) if digits else 0
