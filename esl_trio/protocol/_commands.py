"""Typed client commands, validated at construction, serialised by ``to_bytes()``.

Wire format (client → server)
-----------------------------
A command is one command line, optional ``Name: Value`` header lines, and a blank line; every
line ends in a bare LF, so the header block ends in ``\\n\\n`` (B-SER-1). When a command carries
a body, the last header line is ``content-length: <bytes>`` and exactly that many body bytes
follow the blank line (sendevent B-CMD-6, sendmsg B-CMD-7)::

    auth ClueCon\\n\\n                                    B-AUTH-1 / B-AUTH-7
    userauth alice@example.com:secret\\n\\n               B-AUTH-5
    api status\\n\\n                                      B-APIW-5 (no trailing space)
    bgapi status\\nJob-UUID: <uuid>\\n\\n                  B-BGW-3
    event json CHANNEL_ANSWER CUSTOM sofia::register\\n\\n B-SUBW-1, B-EVN-2
    filter Unique-ID <uuid>\\n\\n                         B-SUBW-4
    sendevent CUSTOM\\nEvent-Subclass: x::y\\ncontent-length: 2\\n\\nhi

FreeSWITCH ends a command at the second LF (B-WIRE-5), so a CR or LF inside any field would end
the command early and let the rest of the field run as a second command
(``api('status\\n\\nexit')``).
Every field is therefore checked when the object is built (B-SER-2): free text may not contain
CR, LF or NUL; tokens (command names, event names, header names, uuids) may not contain whitespace
either. A failing check raises :class:`LocalProtocolError` (a ``ValueError``); a field of the
wrong type raises ``TypeError``. An invalid command never exists, so ``to_bytes()`` cannot fail.

Length is the other way to split a command: FreeSWITCH's ``read_packet`` stops reading a header
block after 10 485 760 bytes (:data:`FREESWITCH_COMMAND_SPLIT_BYTES`) and parses the rest as the
next command, so ``Api("echo", "A" * (10485760 - 9) + "bgapi originate ...")`` would run the
originate. Every command whose header block (command line, header lines, blank line; not the
content-length body, which FreeSWITCH reads by length) exceeds :data:`MAX_COMMAND_HEADER_BYTES`
is refused at construction. Only LF ends a line for FreeSWITCH (CR cuts one): U+2028, U+2029,
NEL, VT and FF are ordinary bytes in free text, and whitespace in tokens.

Passwords never appear in ``repr()``, ``str()``, ``describe()`` nor in error messages.
"""

from __future__ import annotations

import abc
import enum
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final, Self, TypeAlias, cast

import attrs

from ._errors import LocalProtocolError
from ._formats import EventFormat

__all__ = [
    "Api",
    "Auth",
    "BgApi",
    "Command",
    "DivertEvents",
    "EventSubscribe",
    "Connect",
    "Exit",
    "FREESWITCH_COMMAND_SPLIT_BYTES",
    "FilterAdd",
    "FilterDelete",
    "LOG_LEVEL_NAMES",
    "Linger",
    "Log",
    "MAX_BODY_BYTES",
    "MAX_COMMAND_HEADER_BYTES",
    "MyEvents",
    "NixEvent",
    "NoEvents",
    "NoLinger",
    "NoLog",
    "ReplyKind",
    "Resume",
    "SendEvent",
    "SendMsg",
    "UserAuth",
]

#: FreeSWITCH drops the connection for a client body above 16 MiB (B-LIM-1).
MAX_BODY_BYTES: Final = 16 * 1024 * 1024
#: Where FreeSWITCH's ``read_packet`` cuts a command's header block (``max_len``): it stops
#: reading the block after this many bytes and parses whatever follows as the next command.
FREESWITCH_COMMAND_SPLIT_BYTES: Final = 10_485_760
#: The largest header block (command line, header lines and the blank line; a body announced by
#: content-length is read separately and does not count) a command may serialise to. Kept well
#: below :data:`FREESWITCH_COMMAND_SPLIT_BYTES` so no build of FreeSWITCH cuts a command we send.
MAX_COMMAND_HEADER_BYTES: Final = 8 * 1024 * 1024
#: Names ``log <level>`` accepts besides 0..7 (case-insensitive, B-CMD-5).
LOG_LEVEL_NAMES: Final = ("console", "alert", "crit", "err", "warning", "notice", "info", "debug")

_MAX_C_INT: Final = 2**31 - 1  # FreeSWITCH parses numbers with atoi()
_JOB_UUID_RE: Final = re.compile(r"[A-Za-z0-9-]{1,64}")
_FORBIDDEN: Final = (
    ("\r", "a carriage return (CR)"),
    ("\n", "a line feed (LF)"),
    ("\0", "a NUL byte"),
)

Headers: TypeAlias = tuple[tuple[str, str], ...]
HeadersInput: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
_Validator: TypeAlias = Callable[[object, "attrs.Attribute[Any]", object], None]


class ReplyKind(enum.Enum):
    """Which frame the server answers a command with (B-WIRE-6: replies come in order)."""

    COMMAND_REPLY = "command/reply"
    API_RESPONSE = "api/response"


# --- checks ----------------------------------------------------------------------------------
# Each check takes a label ("Api.command") for the message and raises on the first problem.


_WHITESPACE: Final = re.compile(r"\s")


def _require_str(label: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{label} must be str, not {type(value).__name__}")
    return value


def _line_problem(value: str) -> str | None:
    """What would break the single-line framing, if anything."""
    for char, what in _FORBIDDEN:
        if char in value:
            return f"must not contain {what}"
    if value.isascii():  # the usual case: no surrogate possible, no encoding needed
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be encodable as UTF-8 (it contains a lone surrogate)"
    return None


def _check_text(
    label: str, value: object, *, allow_empty: bool = True, leading_space: bool = True
) -> str:
    """Free text: anything that stays on one line."""
    text = _require_str(label, value)
    if not text and not allow_empty:
        raise LocalProtocolError(f"{label} must not be empty")
    problem = _line_problem(text)
    if problem is not None:
        raise LocalProtocolError(f"{label} {problem}: {text!r}")
    if not leading_space and text.startswith(" "):
        raise LocalProtocolError(
            f"{label} must not start with a space (FreeSWITCH strips it): {text!r}"
        )
    return text


def _check_token(label: str, value: object, *, forbid: str = "") -> str:
    """A single word: free text that is non-empty and has no whitespace (B-SER-2)."""
    token = _check_text(label, value, allow_empty=False)
    if _WHITESPACE.search(token):  # the characters str.isspace() accepts, in one C scan
        raise LocalProtocolError(f"{label} must be a single word without whitespace: {token!r}")
    for char in forbid:
        if char in token:
            raise LocalProtocolError(f"{label} must not contain {char!r}: {token!r}")
    return token


def _check_secret(label: str, value: object) -> None:
    """Like free text, but the value is never shown."""
    secret = _require_str(label, value)
    if not secret:
        raise LocalProtocolError(f"{label} must not be empty")
    if "\r" in secret or "\n" in secret:
        raise LocalProtocolError(f"{label} contains a line break")
    if _line_problem(secret) is not None:
        raise LocalProtocolError(f"{label} contains a NUL byte or a lone surrogate")


def _check_headers(label: str, headers: Headers) -> None:
    for index, (name, value) in enumerate(headers):
        _check_token(f"{label}[{index}] name", name, forbid=":")
        if name.lower() == "content-length":
            raise LocalProtocolError(f"{label}: content-length is set from the body; pass body=")
        _check_text(f"{label}[{index}] value", value, leading_space=False)


def _check_int(label: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{label} must be int, not {type(value).__name__}")
    if not low <= value <= high:
        raise LocalProtocolError(f"{label} must be in {low}..{high}: {value!r}")


def _validator(check: Callable[..., object], **options: Any) -> _Validator:
    """Adapt a check to attrs' validator signature, naming the field in the message."""

    def validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        check(f"{type(instance).__name__}.{attribute.name}", value, **options)

    return validate


def _each_token(label: str, values: tuple[str, ...]) -> None:
    for index, value in enumerate(values):
        _check_token(f"{label}[{index}]", value)


_token = _validator(_check_token)
_text = _validator(_check_text)
_secret = _validator(_check_secret)


# --- converters ------------------------------------------------------------------------------


def _to_str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """Lists become tuples; a bare str is refused instead of being split into letters."""
    if isinstance(value, str | bytes):
        raise TypeError(f"expected a sequence of str, not a single {type(value).__name__}")
    return tuple(value)


def _to_headers(value: HeadersInput) -> Headers:
    """Accept a mapping or (name, value) pairs; keep order and duplicates."""
    items: object = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise TypeError(f"headers must be a mapping or (name, value) pairs, not {items!r}")
    pairs = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise TypeError(f"each header must be a (name, value) pair, got {item!r}")
        pairs.append((item[0], item[1]))
    return tuple(pairs)


def _to_body(value: bytes | bytearray | memoryview) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"body must be bytes, not {type(value).__name__}")
    body = bytes(value)
    if len(body) > MAX_BODY_BYTES:
        raise LocalProtocolError(f"body has {len(body)} bytes; FreeSWITCH accepts {MAX_BODY_BYTES}")
    return body


def _to_format(value: EventFormat | str) -> EventFormat:
    try:
        return EventFormat(value.lower())
    except (AttributeError, ValueError):
        choices = ", ".join(repr(f.value) for f in EventFormat)
        raise LocalProtocolError(f"event format must be one of {choices}: {value!r}") from None


def _to_optional_format(value: EventFormat | str | None) -> EventFormat | None:
    return None if value is None else _to_format(value)


def _new_job_uuid() -> str:
    return str(uuid.uuid4())


# --- serialisation ---------------------------------------------------------------------------


def _encode_head(lines: Iterable[str], body: bytes = b"") -> bytes:
    """Join the command line and header lines, add content-length for a body, end in LF LF."""
    head = "\n".join(lines)
    if body:
        head += f"\ncontent-length: {len(body)}"
    return (head + "\n\n").encode("utf-8")


def _encode(lines: Iterable[str], body: bytes = b"") -> bytes:
    """The whole command: the header block, then the body it announces."""
    return _encode_head(lines, body) + body


def _header_lines(headers: Headers) -> list[str]:
    return [f"{name}: {value}" for name, value in headers]


def _is_custom_keyword(name: str) -> bool:
    """Whether FreeSWITCH reads this event name as CUSTOM (then later words are subclasses).

    Like ``switch_name_event``: case-insensitive, and any 13-character prefix is accepted
    (meant for ``SWITCH_EVENT_CUSTOM``).
    """
    upper = name.upper()
    return upper == "CUSTOM" or (len(upper) > 13 and upper[13:] == "CUSTOM")


def _event_words(names: tuple[str, ...], custom: tuple[str, ...]) -> list[str]:
    return [*names, "CUSTOM", *custom] if custom else list(names)


def _check_event_lists(label: str, names: tuple[str, ...], custom: tuple[str, ...]) -> None:
    """Names, then CUSTOM and its subclasses: the only order FreeSWITCH reads right (B-EVN-2)."""
    _each_token(f"{label}.names", names)
    _each_token(f"{label}.custom", custom)
    if not names and not custom:
        raise LocalProtocolError(
            f"{label} needs at least one event name (use names=('ALL',) for every event); "
            "FreeSWITCH would answer -ERR no keywords supplied"
        )
    for index, name in enumerate(names):
        if _is_custom_keyword(name) and (custom or index != len(names) - 1):
            raise LocalProtocolError(
                f"{label}.names[{index}] is {name!r}: FreeSWITCH reads every word after it as a "
                "CUSTOM subclass; list subclasses in custom= (CUSTOM is added for you)"
            )


def _size_bound(value: object) -> int:
    """An upper bound on the bytes ``value`` adds to a header block (UTF-8: <= 4 per char)."""
    if isinstance(value, str):
        return 4 * len(value) + 8
    if isinstance(value, bytes):
        return len(value) + 8
    if isinstance(value, tuple | list | frozenset):
        return sum(_size_bound(item) for item in value) + 8
    return 64  # enums, numbers, None: a short word


def _check_header_block(command: Command) -> None:
    """Refuse a command FreeSWITCH would cut in two (and run the second half of)."""
    # Every command is built on the hot path (one per api call): serialising it here just to
    # measure would double its cost, so only commands whose fields could reach the limit are
    # serialised and measured.
    fields = attrs.fields(cast("Any", type(command)))
    bound = 512 + sum(_size_bound(getattr(command, f.name)) for f in fields)
    if bound <= MAX_COMMAND_HEADER_BYTES:
        return
    size = len(command._header_block())
    if size > MAX_COMMAND_HEADER_BYTES:
        # No field value in the message: it may be a password, and it is megabytes long.
        raise LocalProtocolError(
            f"{type(command).__name__} would serialise to a {size}-byte header block; "
            f"FreeSWITCH cuts a command after {FREESWITCH_COMMAND_SPLIT_BYTES} bytes and runs "
            f"the rest as another command, so esl-trio refuses blocks above "
            f"{MAX_COMMAND_HEADER_BYTES} bytes. Send large data as a sendevent/sendmsg body."
        )


class Command(abc.ABC):
    """A client command: immutable, valid by construction, ready to be written.

    Attributes:
        verb: the command word, for logs and errors.
        reply_kind: which frame the server answers with.
    """

    __slots__ = ()

    verb: ClassVar[str]
    reply_kind: ClassVar[ReplyKind] = ReplyKind.COMMAND_REPLY

    @abc.abstractmethod
    def to_bytes(self) -> bytes:
        """The exact bytes to write: UTF-8, header block ending in ``\\n\\n`` (B-SER-1)."""

    def _header_block(self) -> bytes:
        """The bytes FreeSWITCH reads as the header block: everything but a body."""
        return self.to_bytes()

    def __attrs_post_init__(self) -> None:
        # attrs calls this after the field validators, on every subclass that does not define
        # its own (those call it last): the size check needs the fields already valid.
        _check_header_block(self)

    def describe(self) -> str:
        """A one-line summary safe for logs (the command line; never a password)."""
        return self.to_bytes().split(b"\n", 1)[0].decode("utf-8")


# --- authentication --------------------------------------------------------------------------


@attrs.frozen
class Auth(Command):
    """``auth <password>`` (B-AUTH-1, B-AUTH-7). The password may contain spaces."""

    verb: ClassVar[str] = "auth"
    password: str = attrs.field(repr=False, validator=_secret)

    def to_bytes(self) -> bytes:
        return _encode([f"auth {self.password}"])

    def describe(self) -> str:
        return "auth <redacted>"


@attrs.frozen
class UserAuth(Command):
    """``userauth <user>@<domain>:<password>`` (B-AUTH-5): per-user ESL rights."""

    verb: ClassVar[str] = "userauth"
    user: str = attrs.field(validator=_validator(_check_token, forbid="@:"))
    domain: str = attrs.field(validator=_validator(_check_token, forbid=":"))
    password: str = attrs.field(repr=False, validator=_secret)

    def to_bytes(self) -> bytes:
        return _encode([f"userauth {self.user}@{self.domain}:{self.password}"])

    def describe(self) -> str:
        return f"userauth {self.user}@{self.domain}:<redacted>"


# --- api / bgapi -----------------------------------------------------------------------------


def _api_line(verb: str, command: str, args: str) -> str:
    """No trailing space when there are no arguments (B-APIW-5)."""
    return f"{verb} {command} {args}" if args else f"{verb} {command}"


@attrs.frozen
class Api(Command):
    """``api <command> [<args>]``: answered by one ``api/response`` (B-APIW-1)."""

    verb: ClassVar[str] = "api"
    reply_kind: ClassVar[ReplyKind] = ReplyKind.API_RESPONSE
    command: str = attrs.field(validator=_token)
    args: str = attrs.field(default="", validator=_text)

    def to_bytes(self) -> bytes:
        return _encode([_api_line("api", self.command, self.args)])


@attrs.frozen
class BgApi(Command):
    """``bgapi <command> [<args>]`` with a client-chosen ``Job-UUID`` header (B-BGW-3).

    Pinning the id lets the caller wait for ``BACKGROUND_JOB`` before the acceptance reply
    arrives. Ids are limited to 64 characters of ``[A-Za-z0-9-]``: much longer ids overflow a
    FreeSWITCH buffer and desynchronise the stream.
    """

    verb: ClassVar[str] = "bgapi"
    command: str = attrs.field(validator=_token)
    args: str = attrs.field(default="", validator=_text)
    job_uuid: str = attrs.field(factory=_new_job_uuid, kw_only=True)

    @job_uuid.validator
    def _check_job_uuid(self, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not _JOB_UUID_RE.fullmatch(value):
            raise LocalProtocolError(
                f"BgApi.job_uuid must be 1..64 characters of [A-Za-z0-9-]: {value!r}"
            )

    def to_bytes(self) -> bytes:
        return _encode([_api_line("bgapi", self.command, self.args), f"Job-UUID: {self.job_uuid}"])

    def describe(self) -> str:
        return f"{_api_line('bgapi', self.command, self.args)} (Job-UUID {self.job_uuid})"


# --- subscriptions and filters (B-SUBW-*) ----------------------------------------------------


@attrs.frozen
class EventSubscribe(Command):
    """``event <format> <names...> [CUSTOM <subclasses...>]`` (B-SUBW-1, B-EVN-2).

    The format applies to the whole connection. Subscriptions only add (B-SUBW-2).
    ``names=("ALL",)`` means every event; an empty subscription is refused.
    ``CUSTOM`` may end ``names`` only when ``custom`` is empty.
    """

    verb: ClassVar[str] = "event"
    format: EventFormat = attrs.field(default=EventFormat.JSON, converter=_to_format)
    names: tuple[str, ...] = attrs.field(default=(), converter=_to_str_tuple)
    custom: tuple[str, ...] = attrs.field(default=(), converter=_to_str_tuple)

    def __attrs_post_init__(self) -> None:
        _check_event_lists("EventSubscribe", self.names, self.custom)
        _check_header_block(self)

    def to_bytes(self) -> bytes:
        words = ["event", self.format.value, *_event_words(self.names, self.custom)]
        return _encode([" ".join(words)])


@attrs.frozen
class NixEvent(Command):
    """``nixevent <names...> [CUSTOM <subclasses...>]``: remove subscriptions (B-SUBW-2)."""

    verb: ClassVar[str] = "nixevent"
    names: tuple[str, ...] = attrs.field(default=(), converter=_to_str_tuple)
    custom: tuple[str, ...] = attrs.field(default=(), converter=_to_str_tuple)

    def __attrs_post_init__(self) -> None:
        _check_event_lists("NixEvent", self.names, self.custom)
        _check_header_block(self)

    def to_bytes(self) -> bytes:
        return _encode([" ".join(["nixevent", *_event_words(self.names, self.custom)])])


@attrs.frozen
class NoEvents(Command):
    """``noevents``: drop every subscription and queued event (B-SUBW-3)."""

    verb: ClassVar[str] = "noevents"

    def to_bytes(self) -> bytes:
        return b"noevents\n\n"


def _check_filter_header(label: str, value: object) -> None:
    if _check_token(label, value).lower() in ("add", "delete"):
        raise LocalProtocolError(f"{label} {value!r} would be read as a filter sub-command")


@attrs.frozen
class FilterAdd(Command):
    """``filter <header> <value>``: value is the rest of the line (B-SUBW-4, B-SUBW-5)."""

    verb: ClassVar[str] = "filter"
    header: str = attrs.field(validator=_validator(_check_filter_header))
    value: str = attrs.field(validator=_validator(_check_text, allow_empty=False))

    def to_bytes(self) -> bytes:
        return _encode([f"filter {self.header} {self.value}"])


@attrs.frozen
class FilterDelete(Command):
    """``filter delete <header> [<value>]``; header ``all`` clears every filter (B-SUBW-4).

    Without a value every filter on that header goes.
    """

    verb: ClassVar[str] = "filter"
    header: str = attrs.field(validator=_token)
    value: str | None = attrs.field(default=None)

    @value.validator
    def _check_value(self, attribute: attrs.Attribute[str | None], value: object) -> None:
        if value is None:
            return
        _check_text("FilterDelete.value", value, allow_empty=False)
        if self.header.lower() == "all":
            raise LocalProtocolError("FilterDelete.value must be None with header 'all'")

    def to_bytes(self) -> bytes:
        words = ["filter", "delete", self.header]
        return _encode([" ".join(words if self.value is None else [*words, self.value])])


# --- session-bound and miscellaneous commands (B-CMD-*) --------------------------------------


def _check_session_uuid(label: str, value: object) -> None:
    """A channel uuid, or None for the socket's own channel (outbound mode)."""
    if value is not None:
        _check_token(label, value)


def _check_myevents_uuid(label: str, value: object) -> None:
    _check_session_uuid(label, value)
    if isinstance(value, str) and value.lower() in {f.value for f in EventFormat}:
        # "myevents json" is how an outbound socket asks for json: a uuid spelled like a
        # format would be read as one.
        raise LocalProtocolError(f"{label} {value!r} would be read as an event format")


@attrs.frozen
class MyEvents(Command):
    """``myevents [<uuid>] [<format>]``: receive one channel's events only (B-CMD-2).

    On an inbound socket name the channel: ``MyEvents(uuid)``. On an outbound socket (the one
    FreeSWITCH dialled for a call) leave ``uuid`` out and the socket's own channel is meant:
    ``MyEvents()`` or ``MyEvents(format="json")`` → ``myevents json``.
    """

    verb: ClassVar[str] = "myevents"
    uuid: str | None = attrs.field(default=None, validator=_validator(_check_myevents_uuid))
    format: EventFormat | None = attrs.field(default=None, converter=_to_optional_format)

    def to_bytes(self) -> bytes:
        words = ["myevents"] + ([self.uuid] if self.uuid else [])
        words += [self.format.value] if self.format else []
        return _encode([" ".join(words)])


@attrs.frozen
class DivertEvents(Command):
    """``divert_events on|off`` (B-CMD-3)."""

    verb: ClassVar[str] = "divert_events"
    on: bool = attrs.field(validator=attrs.validators.instance_of(bool))

    def to_bytes(self) -> bytes:
        return b"divert_events on\n\n" if self.on else b"divert_events off\n\n"


def _check_linger(label: str, value: object) -> None:
    if value is not None:
        _check_int(label, value, 0, _MAX_C_INT)


@attrs.frozen
class Linger(Command):
    """``linger [<seconds>]``: keep the socket open after hangup; no value = forever (B-CMD-4)."""

    verb: ClassVar[str] = "linger"
    seconds: int | None = attrs.field(default=None, validator=_validator(_check_linger))

    def to_bytes(self) -> bytes:
        return _encode(["linger" if self.seconds is None else f"linger {self.seconds}"])


@attrs.frozen
class NoLinger(Command):
    """``nolinger`` (B-CMD-4)."""

    verb: ClassVar[str] = "nolinger"

    def to_bytes(self) -> bytes:
        return b"nolinger\n\n"


def _check_log_level(label: str, value: object) -> None:
    if isinstance(value, str):
        if value.lower() not in LOG_LEVEL_NAMES:
            raise LocalProtocolError(
                f"{label} must be 0..7 or one of {', '.join(LOG_LEVEL_NAMES)}: {value!r}"
            )
        return
    _check_int(label, value, 0, 7)


@attrs.frozen
class Log(Command):
    """``log <level>``: stream log lines as ``log/data`` frames (B-CMD-5)."""

    verb: ClassVar[str] = "log"
    level: int | str = attrs.field(default=7, validator=_validator(_check_log_level))

    def to_bytes(self) -> bytes:
        return _encode([f"log {self.level}"])


@attrs.frozen
class NoLog(Command):
    """``nolog`` (B-CMD-5)."""

    verb: ClassVar[str] = "nolog"

    def to_bytes(self) -> bytes:
        return b"nolog\n\n"


@attrs.frozen
class Connect(Command):
    """``connect``: the first command on an outbound socket.

    FreeSWITCH answers with the channel's data in a ``command/reply`` frame, classified as
    :class:`~esl_trio.protocol.ChannelData`.
    """

    verb: ClassVar[str] = "connect"

    def to_bytes(self) -> bytes:
        return b"connect\n\n"


@attrs.frozen
class Resume(Command):
    """``resume`` (outbound): when the socket closes, the channel continues in the dialplan."""

    verb: ClassVar[str] = "resume"

    def to_bytes(self) -> bytes:
        return b"resume\n\n"


@attrs.frozen
class GetVar(Command):
    """``getvar <name>`` (outbound): one variable of the socket's own channel.

    FreeSWITCH answers with the bare value as the Reply-Text; an unset variable leaves the
    reply empty, which mod_event_socket fills with ``-ERR command not found``.
    """

    verb: ClassVar[str] = "getvar"
    name: str = attrs.field(validator=_token)

    def to_bytes(self) -> bytes:
        return _encode([f"getvar {self.name}"])


@attrs.frozen
class Exit(Command):
    """``exit``: the server answers ``+OK bye``, a disconnect notice, then closes (B-CMD-1)."""

    verb: ClassVar[str] = "exit"

    def to_bytes(self) -> bytes:
        return b"exit\n\n"


# --- commands with headers and a body (B-CMD-6, B-CMD-7) -------------------------------------


def _describe_with_headers(line: str, headers: Headers, body: bytes) -> str:
    return f"{line} ({len(headers)} headers, {len(body)} body bytes)"


@attrs.frozen
class SendEvent(Command):
    """``sendevent <NAME>`` plus header lines and an optional body: fire an event (B-CMD-6)."""

    verb: ClassVar[str] = "sendevent"
    name: str = attrs.field(validator=_token)
    headers: Headers = attrs.field(default=(), converter=_to_headers)
    body: bytes = attrs.field(default=b"", converter=_to_body)

    def __attrs_post_init__(self) -> None:
        _check_headers("SendEvent.headers", self.headers)
        _check_header_block(self)

    def _header_block(self) -> bytes:
        return _encode_head([f"sendevent {self.name}", *_header_lines(self.headers)], self.body)

    def to_bytes(self) -> bytes:
        return self._header_block() + self.body

    def describe(self) -> str:
        return _describe_with_headers(f"sendevent {self.name}", self.headers, self.body)


@attrs.frozen
class SendMsg(Command):
    """``sendmsg [<uuid>]`` plus header lines and an optional body: control a channel (B-CMD-7).

    ``uuid=None`` writes a bare ``sendmsg``: on an outbound socket FreeSWITCH applies it to the
    socket's own channel (an inbound socket answers ``-ERR invalid session id []``).
    """

    verb: ClassVar[str] = "sendmsg"
    uuid: str | None = attrs.field(default=None, validator=_validator(_check_session_uuid))
    headers: Headers = attrs.field(default=(), converter=_to_headers)
    body: bytes = attrs.field(default=b"", converter=_to_body)

    def __attrs_post_init__(self) -> None:
        _check_headers("SendMsg.headers", self.headers)
        _check_header_block(self)

    @property
    def _line(self) -> str:
        return "sendmsg" if self.uuid is None else f"sendmsg {self.uuid}"

    def _header_block(self) -> bytes:
        return _encode_head([self._line, *_header_lines(self.headers)], self.body)

    def to_bytes(self) -> bytes:
        return self._header_block() + self.body

    def describe(self) -> str:
        return _describe_with_headers(self._line, self.headers, self.body)

    @classmethod
    def execute(
        cls,
        uuid: str | None,
        app: str,
        arg: str = "",
        *,
        event_lock: bool = False,
        async_: bool = False,
        loops: int | None = None,
    ) -> Self:
        """Run dialplan application ``app`` with ``arg`` on channel ``uuid`` (None: our own)."""
        _check_token("SendMsg.execute app", app)
        headers = [("call-command", "execute"), ("execute-app-name", app)]
        if arg:
            headers.append(("execute-app-arg", arg))
        if event_lock:
            headers.append(("event-lock", "true"))
        if async_:
            headers.append(("async", "true"))
        if loops is not None:
            _check_int("SendMsg.execute loops", loops, 1, _MAX_C_INT)
            headers.append(("loops", str(loops)))
        return cls(uuid, headers)

    @classmethod
    def hangup(cls, uuid: str | None, cause: str = "NORMAL_CLEARING") -> Self:
        """Hang channel ``uuid`` (None: our own) up with ``cause``."""
        _check_token("SendMsg.hangup cause", cause)
        return cls(uuid, [("call-command", "hangup"), ("hangup-cause", cause)])
