"""The event names FreeSWITCH knows, and the check that refuses a misspelt one.

FreeSWITCH silently ignores an unknown name in ``event``/``nixevent`` (``switch_name_event``
fails and the word is skipped), so a typo such as ``CHANNEL_ANSWR`` subscribes to nothing and
the events never come. The catalogue is ``EVENT_NAMES[]`` of FreeSWITCH's switch_event.c, in
its order; an event of your own is ``CUSTOM`` plus a subclass, which is never checked here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Final

from ._errors import LocalProtocolError, UnknownEventNameError

__all__ = ["ALL", "EVENT_NAMES", "check_event_names"]

#: ``EVENT_NAMES[]`` of switch_event.c without its last entry, ``ALL`` (a pseudo-name).
EVENT_NAMES: Final[tuple[str, ...]] = (
    "CUSTOM",
    "CLONE",
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "API",
    "LOG",
    "INBOUND_CHAN",
    "OUTBOUND_CHAN",
    "STARTUP",
    "SHUTDOWN",
    "PUBLISH",
    "UNPUBLISH",
    "TALK",
    "NOTALK",
    "SESSION_CRASH",
    "MODULE_LOAD",
    "MODULE_UNLOAD",
    "DTMF",
    "MESSAGE",
    "PRESENCE_IN",
    "NOTIFY_IN",
    "PRESENCE_OUT",
    "PRESENCE_PROBE",
    "MESSAGE_WAITING",
    "MESSAGE_QUERY",
    "ROSTER",
    "CODEC",
    "BACKGROUND_JOB",
    "DETECTED_SPEECH",
    "DETECTED_TONE",
    "PRIVATE_COMMAND",
    "HEARTBEAT",
    "TRAP",
    "ADD_SCHEDULE",
    "DEL_SCHEDULE",
    "EXE_SCHEDULE",
    "RE_SCHEDULE",
    "RELOADXML",
    "NOTIFY",
    "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE",
    "RECV_MESSAGE",
    "REQUEST_PARAMS",
    "CHANNEL_DATA",
    "GENERAL",
    "COMMAND",
    "SESSION_HEARTBEAT",
    "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED",
    "SEND_INFO",
    "RECV_INFO",
    "RECV_RTCP_MESSAGE",
    "SEND_RTCP_MESSAGE",
    "CALL_SECURE",
    "NAT",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "CALL_UPDATE",
    "FAILURE",
    "SOCKET_DATA",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "CONFERENCE_DATA_QUERY",
    "CONFERENCE_DATA",
    "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT",
    "CALL_DETAIL",
    "DEVICE_STATE",
    "TEXT",
    "SHUTDOWN_REQUESTED",
)
ALL: Final = "ALL"
#: ``switch_name_event`` also accepts the C spelling (``SWITCH_EVENT_CHANNEL_ANSWER``).
_C_PREFIX: Final = "SWITCH_EVENT_"
_KNOWN: Final = frozenset(EVENT_NAMES)


def check_event_names(names: Iterable[str], *, allow_all: bool = False) -> tuple[str, ...]:
    """``names`` upper-cased and de-duplicated, in order; each one checked.

    Raises:
        LocalProtocolError: a name is empty or not a single token (it would break the line).
        UnknownEventNameError: FreeSWITCH knows no such event (``ALL`` too, unless
            ``allow_all``); the error names the closest known ones.
    """
    out: dict[str, None] = {}
    for name in names:
        # Refused, not stripped: "\nX" must never quietly become X on the wire.
        if not name or any(c.isspace() or c == "\0" for c in name):
            raise LocalProtocolError(f"event names must be non-empty tokens, got {name!r}")
        upper = name.upper()
        if upper not in out:
            _check_one(upper, allow_all=allow_all)
            out[upper] = None
    return tuple(out)


def _check_one(name: str, *, allow_all: bool) -> None:
    if name in _KNOWN or name.removeprefix(_C_PREFIX) in _KNOWN:
        return
    if name == ALL:
        if allow_all:
            return
        raise UnknownEventNameError(name, (), hint="ALL is not allowed here")
    choices = (*EVENT_NAMES, ALL) if allow_all else EVENT_NAMES
    raise UnknownEventNameError(name, tuple(difflib.get_close_matches(name, choices, n=3)))
