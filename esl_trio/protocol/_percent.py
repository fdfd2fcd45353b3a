"""FreeSWITCH's percent encoding of plain and xml header values.

Decoding follows libesl (B-EVT-5): only ``%XX`` hex escapes are decoded, ``+`` stays ``+`` and a
``%`` not followed by two hex digits is kept literally. ``_undef_`` is FreeSWITCH's spelling of
an empty value (B-EVT-3) and ``ARRAY::a|:b`` an array (B-EVT-4).

Why a memo: most header values repeat from one event to the next (hostnames, Core-UUID,
addresses, dialplan names, dates to the second) and ``unquote`` dominates the cost of decoding a
plain event. Only values containing ``%`` are memoised, in a dict that is simply cleared when
full, so a hostile stream of unique values costs one clear per :data:`MEMO_MAX_ENTRIES` values.

The memo is process-wide and outlives every connection, so it is bounded by size, not only by
count: values longer than :data:`MEMO_MAX_CHARS` are decoded every time and never kept (the
values that repeat are short, and decoding a long value costs in proportion to its length
anyway), nor non-ASCII ones (FreeSWITCH encodes every non-ASCII byte). At most 4096 entries of
at most 256 ASCII characters: about 3 MB in the worst case, whatever a peer sends.
"""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["decode_value", "encode_value", "split_array"]

from typing import Final

_MEMO: dict[str, str] = {}
#: Most values the percent-decoding memo keeps (it is cleared when full).
MEMO_MAX_ENTRIES: Final = 4096
#: Longest value the memo keeps; longer ones are decoded on every use.
MEMO_MAX_CHARS: Final = 256

UNDEF = "_undef_"
ARRAY_PREFIX = "ARRAY::"


def decode_value(raw: str) -> str:
    """Decode one percent-encoded value; ``_undef_`` becomes ``""``."""
    if "%" not in raw:
        return "" if raw == UNDEF else raw
    decoded = _MEMO.get(raw)
    if decoded is None:
        decoded = unquote(raw, errors="replace")
        if len(raw) <= MEMO_MAX_CHARS and raw.isascii():  # FreeSWITCH encodes non-ASCII
            if len(_MEMO) >= MEMO_MAX_ENTRIES:
                _MEMO.clear()
            _MEMO[raw] = decoded
    return decoded


def split_array(value: str) -> list[str] | None:
    """The elements of an ``ARRAY::a|:b`` value, or None for an ordinary value."""
    if not value.startswith(ARRAY_PREFIX):
        return None
    return value[len(ARRAY_PREFIX) :].split("|:")


# Bytes FreeSWITCH's switch_url_encode escapes besides controls and non-ASCII (B-EVT-2).
_SPECIAL = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_HEX_UPPER = frozenset(b"0123456789ABCDEF")


def encode_value(value: str) -> str:
    """Encode a value the way FreeSWITCH does, quirk included (server role, tests).

    The encoder runs in FreeSWITCH's "no double encode" mode: a ``%`` already followed by two
    uppercase hex digits passes through unchanged, which is why plain and xml are lossy for
    such values while json is not.
    """
    if value == "":
        return UNDEF
    encoded = _ENCODE_MEMO.get(value)
    if encoded is None:
        encoded = _encode(value)
        if len(value) <= MEMO_MAX_CHARS:  # a fake's events repeat the same values
            if len(_ENCODE_MEMO) >= MEMO_MAX_ENTRIES:
                _ENCODE_MEMO.clear()
            _ENCODE_MEMO[value] = encoded
    return encoded


_ENCODE_MEMO: dict[str, str] = {}


def _encode(value: str) -> str:
    data = value.encode()
    out = []
    for i, byte in enumerate(data):
        if byte == 0x25 and data[i + 1 : i + 2] and _is_upper_hex_pair(data, i + 1):
            out.append("%")
        elif byte < 0x20 or byte > 0x7E or byte in _SPECIAL:
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _is_upper_hex_pair(data: bytes, start: int) -> bool:
    pair = data[start : start + 2]
    return len(pair) == 2 and pair[0] in _HEX_UPPER and pair[1] in _HEX_UPPER
