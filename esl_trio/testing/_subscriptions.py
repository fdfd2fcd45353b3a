"""Per-connection event subscriptions, filters and userauth rights, as mod_event_socket has them.

The point of the fake is that a client which gets these wrong fails against it the way it would
fail against a real FreeSWITCH (G-1, G-2 of the contract: the PHP fake ignored subscriptions, so
its tests could not see orphaned bgapi jobs or unsubscribe bugs). The rules below follow
``mod_event_socket.c``:

Subscriptions (B-SUBW-1/2/3, B-EVN-1/2)
    ``event`` only adds; names are matched case-insensitively (``SWITCH_EVENT_`` spellings too,
    any 13-character prefix in fact); unknown names are ignored; the format word counts only in
    first position. After ``CUSTOM`` every word is a subclass. A CUSTOM event with a subclass is
    delivered only if that subclass was listed, unless ``ALL`` is on. ``nixevent`` of one name
    while on ``ALL`` turns ALL into "every event but that one"; ``nixevent CUSTOM x`` removes
    subclass ``x`` but keeps plain CUSTOM; ``noevents`` clears names and subclasses (not filters).
    Nothing is delivered until one ``event``/``nixevent`` has succeeded (``LFLAG_EVENTS``).

Filters (B-SUBW-4/5)
    With no filter every subscribed event passes. With filters, an event passes only when at least
    one positive filter matches and no negative one does; a filter whose header the event lacks is
    skipped, so a connection with only negative filters receives nothing (real behaviour).
    Values starting with ``-`` are negative, ``+`` forces positive; a value starting with ``/`` is
    a regular expression ``/pattern/flags`` (flags ``i``, ``s``), searched; anything else is
    compared case-insensitively. ``-/x/`` is *not* a negative regex in FreeSWITCH: it is
    compared literally, and so it is here.

Userauth rights (B-AUTH-5/6)
    ``esl-allowed-events`` / ``esl-allowed-api`` lists; ``all`` lifts the restriction. Nested
    api commands (``bgapi``, ``sched_api``, ``eval``, ``expand``, ``xml_wrap``) are checked word
    by word like FreeSWITCH's ``auth_api_command``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import attrs

from esl_trio._event_names import EVENT_NAMES as _RUNTIME_EVENT_NAMES
from esl_trio.protocol import EventFormat

__all__ = [
    "EVENT_NAMES",
    "MYEVENTS_NAMES",
    "Filters",
    "Permissions",
    "Subscriptions",
    "UserCredentials",
    "event_type",
]

#: Every event type FreeSWITCH knows (``EVENT_NAMES`` in switch_event.c), ``ALL`` last: the
#: runtime's own catalogue, so the fake and the client can never disagree on a name.
EVENT_NAMES: Final = [*_RUNTIME_EVENT_NAMES, "ALL"]

_KNOWN: Final = frozenset(EVENT_NAMES)
_TYPES: Final = frozenset(EVENT_NAMES[:-1])  # every type but ALL

#: What ``myevents <uuid>`` subscribes to (B-CMD-2).
MYEVENTS_NAMES: Final = frozenset(
    [
        "CHANNEL_ANSWER",
        "CHANNEL_APPLICATION",
        "CHANNEL_BRIDGE",
        "CHANNEL_CREATE",
        "CHANNEL_DATA",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_STATE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_UNPARK",
        "DETECTED_SPEECH",
        "DTMF",
        "NOTALK",
        "TALK",
    ]
)

_SNEAKY_API: Final = frozenset({"bgapi", "sched_api", "eval", "expand", "xml_wrap"})
_FORMATS: Final = {f.value: f for f in EventFormat}


def event_type(word: str) -> str | None:
    """The canonical event name for ``word``, like ``switch_name_event`` (B-EVN-1).

    Case-insensitive; a word longer than 13 characters also matches on its tail, which is how
    ``SWITCH_EVENT_CHANNEL_ANSWER`` is accepted.
    """
    upper = word.upper()
    if upper in _KNOWN:
        return upper
    if len(upper) > 13 and upper[13:] in _KNOWN:
        return upper[13:]
    return None


def _split_list(value: str | Iterable[str]) -> tuple[str, ...]:
    """FreeSWITCH's list syntax: comma-separated, or space-separated if there is a space."""
    if isinstance(value, str):
        separator = " " if " " in value else ","
        return tuple(word for word in value.split(separator) if word)
    return tuple(value)


def _list_header(value: str | Iterable[str] | None) -> str:
    if value is None:
        return "all"
    return value if isinstance(value, str) else ",".join(value)


@attrs.frozen
class UserCredentials:
    """A directory user for ``userauth user@domain:password`` (B-AUTH-5).

    The fields are the user's directory params. None means the param is absent, which is what
    leaves a right unrestricted; a value restricts it exactly as FreeSWITCH reads it:

    Attributes:
        password: ``esl-password``.
        allowed_events: ``esl-allowed-events``: event names (FreeSWITCH list syntax
            ``"CHANNEL_ANSWER,BACKGROUND_JOB"``, or a sequence); ``ALL`` allows every type. CUSTOM
            subclasses go after ``CUSTOM`` and, once this param is set, only listed subclasses
            may be subscribed, even with ``ALL`` (FreeSWITCH's behaviour).
        allowed_api: ``esl-allowed-api``: api command names. There is no wildcard: ``"all"``
            would only allow a command named ``all``.
        allowed_log: ``esl-allowed-log``.
    """

    password: str = attrs.field(repr=False)
    allowed_events: str | Sequence[str] | None = None
    allowed_api: str | Sequence[str] | None = None
    allowed_log: bool = True

    def reply_headers(self) -> list[tuple[str, str]]:
        """The extra headers of the ``+OK accepted`` reply (always all three)."""
        return [
            ("Allowed-Events", _list_header(self.allowed_events)),
            ("Allowed-API", _list_header(self.allowed_api)),
            ("Allowed-LOG", "true" if self.allowed_log else "false"),
        ]


@attrs.define
class Permissions:
    """What a userauth'd connection may do; None for password auth (everything)."""

    restrict_events: bool  # LFLAG_AUTH_EVENTS
    all_events: bool  # LFLAG_ALL_EVENTS_AUTHED
    event_types: frozenset[str]
    custom: frozenset[str] | None  # allowed_event_hash; None: no hash, any subclass
    api: frozenset[str] | None  # allowed_api_hash; None: any command
    log: bool

    @classmethod
    def from_credentials(cls, credentials: UserCredentials) -> Permissions:
        types: set[str] = set()
        custom: set[str] | None = None
        if credentials.allowed_events is not None:
            custom = set()
            events = _split_list(credentials.allowed_events)
            for index, word in enumerate(events):
                name = event_type(word)
                if name is not None:
                    types.add(name)
                if name == "CUSTOM":
                    custom.update(events[index + 1 :])
                    break
        api = None if credentials.allowed_api is None else _split_list(credentials.allowed_api)
        return cls(
            restrict_events=credentials.allowed_events is not None,
            all_events="ALL" in types,
            event_types=frozenset(types),
            custom=None if custom is None else frozenset(custom),
            api=None if api is None else frozenset(api),
            log=credentials.allowed_log,
        )

    def allows_event(self, name: str) -> bool:
        return not self.restrict_events or self.all_events or name in self.event_types

    def allows_subclass(self, subclass: str) -> bool:
        return self.custom is None or subclass in self.custom

    def allows_api(self, command: str, args: str) -> bool:
        """``auth_api_command``: check the command, and each word a "sneaky" command wraps."""
        if self.api is None:
            return True
        words = [command, *(word for word in args.split(" ") if word)]
        for index, word in enumerate(words):
            if word not in self.api:
                return False
            if word.lower() not in _SNEAKY_API or index + 1 == len(words):
                return True
        return True


class _Denied(Exception):
    """An event word the connection's rights refuse (``-ERR permission denied``)."""


class Subscriptions:
    """The event list, CUSTOM subclasses and format of one connection."""

    def __init__(self, format: EventFormat) -> None:
        self.format = format
        self.enabled = False  # LFLAG_EVENTS: set by the first successful event/nixevent
        self.all = False
        self.types: set[str] = set()
        self.all_custom = False  # ALL also subscribed every CUSTOM subclass
        self.custom: set[str] = set()
        self.custom_nixed: set[str] = set()
        self.myevents = False  # LFLAG_MYEVENTS
        self.myevents_uuid: str | None = None

    def subscribe(self, words: Sequence[str], permissions: Permissions | None) -> str:
        """Apply ``event <words...>``; returns the reply text (B-SUBW-1, B-AUTH-6)."""
        keys = 0
        custom = False
        try:
            for index, word in enumerate(words):
                if index == 0 and word.lower() in _FORMATS:
                    self.format = _FORMATS[word.lower()]
                elif custom:
                    self._add_subclass(word, permissions)
                elif (name := event_type(word)) is not None:
                    self._add_type(name, permissions)
                    keys += 1
                    custom = name == "CUSTOM"
        except _Denied:
            return "-ERR permission denied"
        if not keys:
            return "-ERR no keywords supplied"
        self.enabled = True
        return f"+OK event listener enabled {self.format.value}"

    def _add_type(self, name: str, permissions: Permissions | None) -> None:
        if permissions is not None and not permissions.allows_event(name):
            raise _Denied(name)
        if name == "ALL":
            self.all = True
            self.types.update(_TYPES)
            self.all_custom = True
            self.custom_nixed.clear()
        else:
            self.types.add(name)

    def _add_subclass(self, subclass: str, permissions: Permissions | None) -> None:
        if permissions is not None and not permissions.allows_subclass(subclass):
            raise _Denied(subclass)
        self.custom.add(subclass)
        self.custom_nixed.discard(subclass)

    def nix(self, words: Sequence[str]) -> str:
        """Apply ``nixevent <words...>`` (B-SUBW-2)."""
        keys = 0
        custom = False
        for word in words:
            if custom:
                self.custom.discard(word)
                self.custom_nixed.add(word)
            elif (name := event_type(word)) is not None:
                keys += 1
                custom = name == "CUSTOM"
                self._remove_type(name)
        if not keys:
            return "-ERR no keywords supplied"
        self.enabled = True
        return "+OK events nixed"

    def _remove_type(self, name: str) -> None:
        if name == "CUSTOM":
            return  # only the subclasses that follow are removed
        if name == "ALL":
            self.all = False
            self.types.clear()
            return
        self.all = False  # ALL becomes "every type" minus this one
        self.types.discard(name)

    def clear(self) -> bool:
        """``noevents``; False if nothing was enabled (``-ERR not listening for events``)."""
        was_enabled = self.enabled
        self.enabled = self.all = self.all_custom = False
        self.types.clear()
        self.custom.clear()
        self.custom_nixed.clear()
        return was_enabled

    def bind_session(self, uuid: str | None) -> None:
        """``myevents``: the fixed channel set, limited to one channel (B-CMD-2).

        ``uuid`` None is FreeSWITCH's quirk for an unknown uuid given without a format: the
        command succeeds, bound to nothing, and every channel event with a Unique-ID passes.
        """
        self.myevents = True
        self.myevents_uuid = uuid
        self.types.update(MYEVENTS_NAMES)
        self.enabled = True

    def accepts_channel(self, unique_id: str | None, job_owner: str | None) -> bool:
        """The LFLAG_MYEVENTS check of ``event_handler`` (its own jobs pass too)."""
        if not self.myevents:
            return True
        if self.myevents_uuid is not None and job_owner == self.myevents_uuid:
            return True
        return unique_id is not None and self.myevents_uuid in (None, unique_id)

    def accepts(self, name: str, subclass: str | None) -> bool:
        """Whether this connection listens for this event (filters aside)."""
        if not self.enabled:
            return False
        if self.all:
            return True
        if name not in self.types:
            return False
        if name != "CUSTOM" or not subclass:
            return True
        if subclass in self.custom:
            return True
        return self.all_custom and subclass not in self.custom_nixed

    def names(self) -> frozenset[str]:
        """What is subscribed, as names: ``{"ALL"}`` when ALL is on."""
        return frozenset({"ALL"}) if self.all else frozenset(self.types)


HeaderLookup = Callable[[str], "str | None"]


class Filters:
    """The ``filter`` list of one connection, in order, duplicates kept (B-SUBW-4)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, header: str, value: str) -> str:
        self.items.append((header, value))
        return f"+OK filter added. [{header}]=[{value}]"

    def delete(self, header: str, value: str | None) -> str:
        """Delete by header (case-insensitive) and exact value; ``all`` clears everything."""
        if header.lower() == "all":
            self.items.clear()
        else:
            self.items = [
                (h, v)
                for h, v in self.items
                if not (h.lower() == header.lower() and (value is None or v == value))
            ]
        return f"+OK filter deleted. [{header}][{value or ''}]"

    def accepts(self, lookup: HeaderLookup) -> bool:
        """The filter loop of ``event_handler`` (B-SUBW-5)."""
        if not self.items:
            return True
        send = False
        for header, stored in self.items:
            actual = lookup(header)
            if actual is None:
                continue
            positive, compare_to = _polarity(stored)
            if send and positive:
                continue
            if _matches(stored, compare_to, actual):
                if not positive:
                    return False
                send = True
        return send


def _polarity(stored: str) -> tuple[bool, str]:
    """Strip FreeSWITCH's leading ``+``/``-``/space run; the last sign wins."""
    positive = True
    index = 0
    while index < len(stored) and stored[index] in "+- ":
        if stored[index] != " ":
            positive = stored[index] == "+"
        index += 1
    return positive, stored[index:]


def _matches(stored: str, compare_to: str, actual: str) -> bool:
    if stored.startswith("/"):
        pattern = _regex(stored)
        return pattern is not None and pattern.search(actual) is not None
    return actual.lower() == compare_to.lower()


_REGEX_CACHE: dict[str, re.Pattern[str] | None] = {}


def _regex(expression: str) -> re.Pattern[str] | None:
    """``/pattern/flags`` as ``switch_regex_perform`` reads it; None if unusable."""
    if expression not in _REGEX_CACHE:
        body, slash, options = expression[1:].rpartition("/")
        flags = (re.IGNORECASE if "i" in options else 0) | (re.DOTALL if "s" in options else 0)
        try:
            _REGEX_CACHE[expression] = re.compile(body, flags) if slash else None
        except re.error:
            _REGEX_CACHE[expression] = None
    return _REGEX_CACHE[expression]
