"""Building originate arguments and checking call command arguments without injection.

FreeSWITCH parses ``{name=value,...}`` itself (``switch_event_create_brackets``): a comma ends
a value, braces nest, ``${...}`` expands, and the whole dial string is one space-separated
argument of ``originate``. So names are restricted to identifiers, values that need it are
single-quoted (the documented way to keep commas and spaces), and what quoting cannot make
safe (quotes, braces, backslashes, control characters) is refused with a
:class:`LocalProtocolError` before anything is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from .protocol import LocalProtocolError

__all__ = ["check_digits", "check_word", "dial_string", "format_variables"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_APP = re.compile(r"[A-Za-z_][A-Za-z0-9_:.-]*\Z")
_UNQUOTABLE = frozenset("'{}\\\r\n\0\t")
_NEEDS_QUOTES = frozenset(", ")
_DTMF = re.compile(r"[0-9A-Da-d*#wW@]+\Z")  # switch_dtmf: digits, A-D, pauses (w/W)


def format_variables(variables: Mapping[str, str]) -> str:
    """``{a=1,b='x,y'}`` for ``variables`` ("" when empty)."""
    if not variables:
        return ""
    parts = []
    for name, value in variables.items():
        if not _NAME.match(name):
            raise LocalProtocolError(
                f"channel variable name {name!r}: use letters, digits, '_', '.', '-'"
            )
        bad = sorted(set(value) & _UNQUOTABLE)
        if bad or value.startswith("^^"):
            raise LocalProtocolError(
                f"channel variable {name}={value!r}: {bad or '^^'} cannot be passed in an "
                "originate string; set it on the call afterwards (call.set)"
            )
        parts.append(f"{name}='{value}'" if _NEEDS_QUOTES & set(value) else f"{name}={value}")
    return "{" + ",".join(parts) + "}"


def dial_string(
    destination: str,
    *,
    uuid: str,
    app: str,
    app_arg: str,
    variables: Mapping[str, str] | None,
    timeout: float,
) -> str:
    """``originate``'s arguments: ``{origination_uuid=...,...}<dest> &<app>(<arg>)``."""
    check_word("originate destination", destination)
    if destination.startswith(("{", "[", "<")):
        raise LocalProtocolError("originate destination: pass channel variables as variables=")
    if not _APP.match(app):
        raise LocalProtocolError(f"originate app {app!r} is not an application name")
    if app_arg:
        check_word("originate app_arg", app_arg)
        if set(app_arg) & set("()'{}"):
            raise LocalProtocolError(f"originate app_arg {app_arg!r} must not hold ( ) ' {{ }}")
    given = dict(variables or {})
    for reserved in ("origination_uuid", "originate_timeout"):
        if reserved in given:
            raise LocalProtocolError(f"{reserved} is set by rt.originate itself")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"originate timeout must be a positive number of seconds: {timeout!r}")
    chosen = {"origination_uuid": uuid, "originate_timeout": str(math.ceil(timeout)), **given}
    application = f"&{app}({app_arg})" if app_arg else f"&{app}"
    return f"{format_variables(chosen)}{destination} {application}"


def check_word(label: str, value: str) -> str:
    """One space-free word without control characters (an api argument)."""
    if not value:
        raise LocalProtocolError(f"{label} must be a non-empty str: {value!r}")
    if any(char.isspace() or ord(char) < 32 or char == "\x7f" for char in value):
        raise LocalProtocolError(f"{label} must be one word without spaces or controls: {value!r}")
    return value


def check_digits(digits: str) -> str:
    """DTMF digits FreeSWITCH accepts: ``0-9 A-D * #`` and the pauses ``w`` / ``W``."""
    if not _DTMF.match(digits):
        raise LocalProtocolError(f"not DTMF digits: {digits!r} (0-9, A-D, *, #, w, W)")
    return digits
