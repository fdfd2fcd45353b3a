"""The server role: read client command bytes back into typed commands (for the fake server).

How FreeSWITCH reads a client command (B-WIRE-5, mod_event_socket ``read_packet``)
-----------------------------------------------------------------------------------
- CR and LF bytes before a command are discarded.
- The header block ends at the second consecutive LF, where CR bytes do not break the run:
  ``\\n\\n``, ``\\r\\n\\r\\n`` and ``\\n\\r\\n`` all end it.
- Trailing CRs are stripped from each line. The first line is the command line; the others are
  ``Name: Value`` headers (split at the first ``:``, spaces after it skipped).
- A ``content-length`` header (any case) announces exactly that many body bytes after the
  blank line (B-CMD-6, B-CMD-7).

:class:`CommandReader` does this incrementally, h11 style: :meth:`~CommandReader.receive_data`
takes bytes (``b""`` = EOF), :meth:`~CommandReader.next_command` returns a command,
:data:`NEED_DATA` or :data:`CONNECTION_CLOSED`. Limits (B-LIM-1): a header block above
``max_block_bytes`` or a body above ``max_body_bytes`` is a :class:`RemoteProtocolError`; EOF
inside a command is a :class:`TruncatedFrameError`. Errors are sticky: there is no way to find
the next command boundary after a broken one. Deliberate strictness: a header line without
``:``, a malformed or repeated ``content-length`` and non-UTF-8 bytes are errors too.

:func:`parse_command` maps a command back to the typed classes of ``_commands``: for every valid
command ``c``, reading ``c.to_bytes()`` gives ``c`` again. Verbs are matched case-insensitively
as the first word (FreeSWITCH matches some by prefix, so ``events`` would be ``event`` there;
here it is unknown). Any line starting with ``exit`` or ``...`` is :class:`Exit`, as in
FreeSWITCH (B-CMD-1). An unknown verb gives :class:`UnknownCommand` (FreeSWITCH answers
``-ERR command not found``); a known verb with unusable arguments gives :class:`InvalidCommand`
carrying FreeSWITCH's reply text for that mistake.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

import attrs

from ._buffer import ReceiveBuffer
from ._commands import (
    Api,
    Auth,
    BgApi,
    Command,
    Connect,
    DivertEvents,
    EventSubscribe,
    Exit,
    FilterAdd,
    FilterDelete,
    GetVar,
    Linger,
    Log,
    MyEvents,
    NixEvent,
    NoEvents,
    NoLinger,
    NoLog,
    Resume,
    SendEvent,
    SendMsg,
    UserAuth,
    _is_custom_keyword,
)
from ._errors import LocalProtocolError, RemoteProtocolError, TruncatedFrameError
from ._formats import EventFormat
from ._numbers import parse_decimal
from ._sentinels import CONNECTION_CLOSED, NEED_DATA, Sentinel

__all__ = [
    "CommandReader",
    "InvalidCommand",
    "ParsedCommand",
    "UnknownCommand",
    "parse_command",
]

Headers: TypeAlias = tuple[tuple[str, str], ...]

_DEFAULT_MAX_BLOCK: Final = 10 * 1024 * 1024  # FreeSWITCH's own header block cap (B-LIM-1)
_DEFAULT_MAX_BODY: Final = 16 * 1024 * 1024  # ESL_MAX_CONTENT_LENGTH (B-LIM-1)
_NOT_CRLF: Final = re.compile(rb"[^\r\n]")
_SECRET_VERBS: Final = ("auth", "userauth")


def _line_repr(line: str) -> str:
    """repr() of a command line with credentials hidden."""
    verb = line.partition(" ")[0]
    if verb.lower() in _SECRET_VERBS:
        return repr(f"{verb} <redacted>")
    return repr(line)


@attrs.frozen
class UnknownCommand:
    """A command FreeSWITCH would not recognise: it answers ``-ERR command not found``."""

    line: str = attrs.field(repr=_line_repr)
    headers: Headers = ()
    body: bytes = b""


@attrs.frozen
class InvalidCommand:
    """A known verb with arguments we cannot turn into a command.

    Attributes:
        line: the command line as received.
        reason: what is wrong, for logs and test failures.
        reply_text: the ``command/reply`` text FreeSWITCH sends for this mistake (best effort
            where FreeSWITCH would have guessed something instead).
    """

    line: str = attrs.field(repr=_line_repr)
    reason: str
    reply_text: str = "-ERR invalid syntax"


ParsedCommand: TypeAlias = Command | UnknownCommand | InvalidCommand


@attrs.frozen
class _Wire:
    """One received command, split the way every verb parser needs it."""

    line: str
    verb: str  # first word, lower case
    rest: str | None  # text after the first space; None when the line has no space
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        """First value of a header, name compared case-insensitively like FreeSWITCH."""
        lowered = name.lower()
        return next((v for n, v in self.headers if n.lower() == lowered), None)

    def invalid(self, reason: str, reply_text: str = "-ERR invalid syntax") -> InvalidCommand:
        return InvalidCommand(self.line, reason, reply_text)


_Parser: TypeAlias = Callable[[_Wire], ParsedCommand]


def _words(text: str | None) -> list[str]:
    """Space-separated words; runs of spaces give no empty words (FreeSWITCH skips them)."""
    return [word for word in (text or "").split(" ") if word]


def _split_custom(words: list[str]) -> tuple[list[str], list[str]]:
    """Names before the first CUSTOM keyword, subclasses after it (B-EVN-2).

    A trailing CUSTOM with no subclass stays a plain name, as ``EventSubscribe`` spells it.
    """
    for index, word in enumerate(words):
        if _is_custom_keyword(word) and index < len(words) - 1:
            return words[:index], words[index + 1 :]
    return words, []


def _parse_auth(wire: _Wire) -> ParsedCommand:
    return Auth(wire.rest or "")


def _parse_userauth(wire: _Wire) -> ParsedCommand:
    user, at, tail = (wire.rest or "").partition("@")
    domain, colon, password = tail.partition(":")
    if not at or not colon:
        return wire.invalid("userauth needs <user>@<domain>:<password>", "-ERR invalid")
    try:
        return UserAuth(user, domain, password)
    except LocalProtocolError as exc:
        return wire.invalid(str(exc), "-ERR invalid")


def _parse_api(wire: _Wire) -> ParsedCommand:
    command, _, args = (wire.rest or "").partition(" ")
    return Api(command, args)


def _parse_bgapi(wire: _Wire) -> ParsedCommand:
    command, _, args = (wire.rest or "").partition(" ")
    job_uuid = wire.header("Job-UUID")
    if job_uuid is None:  # FreeSWITCH makes one up (B-BGW-3)
        return BgApi(command, args)
    return BgApi(command, args, job_uuid=job_uuid)


def _parse_event(wire: _Wire) -> ParsedCommand:
    words = _words(wire.rest)
    formats = {f.value for f in EventFormat}
    if not words or words[0].lower() not in formats:
        return wire.invalid("event needs a format word: plain, json or xml")
    names, custom = _split_custom(words[1:])
    if not names and not custom:
        return wire.invalid("event without event names", "-ERR no keywords supplied")
    return EventSubscribe(words[0], names, custom)


def _parse_nixevent(wire: _Wire) -> ParsedCommand:
    names, custom = _split_custom(_words(wire.rest))
    if not names and not custom:
        return wire.invalid("nixevent without event names", "-ERR no keywords supplied")
    return NixEvent(names, custom)


def _parse_filter(wire: _Wire) -> ParsedCommand:
    """``filter H V``, ``filter add H V``, ``filter delete H [V]``, ``filter delete all``."""
    first, space, value = (wire.rest or "").lstrip(" ").partition(" ")
    if not space:
        return wire.invalid("filter needs a header and a value")
    if first.lower() == "delete":
        header, space, value = value.partition(" ")
        if header.lower() == "all":
            return FilterDelete(header)
        return FilterDelete(header, value if space else None)
    if first.lower() == "add":
        first, space, value = value.partition(" ")
        if not space:
            return wire.invalid("filter add needs a header and a value")
    return FilterAdd(first, value)


_FORMAT_WORDS: Final = frozenset(f.value for f in EventFormat)


def _parse_myevents(wire: _Wire) -> ParsedCommand:
    """``myevents``, ``myevents <format>`` (outbound), ``myevents <uuid> [<format>]``."""
    if wire.rest is None:
        return MyEvents()
    words = wire.rest.split(" ")
    if len(words) > 2:
        return wire.invalid("myevents takes a uuid and an optional format")
    if len(words) == 1 and words[0].lower() in _FORMAT_WORDS:
        return MyEvents(None, words[0])
    return MyEvents(words[0], words[1] if len(words) == 2 else None)


def _parse_divert_events(wire: _Wire) -> ParsedCommand:
    value = (wire.rest or "").strip(" ")
    if not value:
        return wire.invalid("divert_events needs on or off", "-ERR missing value.")
    return DivertEvents(value.lower() == "on")  # FreeSWITCH: anything else means off


def _parse_linger(wire: _Wire) -> ParsedCommand:
    if not wire.rest:
        return Linger()
    seconds = parse_decimal(wire.rest)
    if seconds is None:
        return wire.invalid(f"linger seconds must be a number: {wire.rest!r}")
    return Linger(seconds)


def _parse_getvar(wire: _Wire) -> ParsedCommand:
    name = (wire.rest or "").strip()
    if not name:
        return wire.invalid("getvar needs a variable name", "-ERR command not found")
    return GetVar(name)


def _parse_log(wire: _Wire) -> ParsedCommand:
    if not wire.rest:
        return Log()
    number = parse_decimal(wire.rest)
    try:
        return Log(wire.rest if number is None else number)
    except LocalProtocolError as exc:
        return wire.invalid(str(exc), "-ERR invalid log level")


def _body_headers(wire: _Wire) -> Headers:
    """The headers a sendevent/sendmsg carries; content-length is implied by the body."""
    return tuple((n, v) for n, v in wire.headers if n.lower() != "content-length")


def _parse_sendevent(wire: _Wire) -> ParsedCommand:
    name = (wire.rest or "").strip(" \t")
    if not name:
        return wire.invalid("sendevent needs an event name")
    return SendEvent(name, _body_headers(wire), wire.body)


def _parse_sendmsg(wire: _Wire) -> ParsedCommand:
    # No uuid: the socket's own channel (outbound mode); the server decides what that means.
    uuid = (wire.rest or "").strip(" ") or None
    return SendMsg(uuid, _body_headers(wire), wire.body)


# Verb -> (parser, needs a space after the verb). FreeSWITCH matches "auth ", "api ", ... with
# the space, so a bare "api" is an unknown command there.
_PARSERS: Final[dict[str, tuple[_Parser, bool]]] = {
    "auth": (_parse_auth, True),
    "userauth": (_parse_userauth, True),
    "api": (_parse_api, True),
    "bgapi": (_parse_bgapi, True),
    "event": (_parse_event, False),
    "nixevent": (_parse_nixevent, False),
    "noevents": (lambda _: NoEvents(), False),
    "filter": (_parse_filter, True),
    "myevents": (_parse_myevents, False),
    "divert_events": (_parse_divert_events, False),
    "linger": (_parse_linger, False),
    "nolinger": (lambda _: NoLinger(), False),
    "log": (_parse_log, False),
    "nolog": (lambda _: NoLog(), False),
    "sendevent": (_parse_sendevent, False),
    "sendmsg": (_parse_sendmsg, False),
    "connect": (lambda _: Connect(), False),
    "resume": (lambda _: Resume(), False),
    "getvar": (_parse_getvar, True),
}


def parse_command(
    line: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> ParsedCommand:
    """Turn one received command into a typed command, or explain why it is not one.

    Args:
        line: the command line, without its line ending.
        headers: the ``Name: Value`` lines under it, in order (content-length included).
        body: the body bytes announced by content-length.

    Returns:
        A :class:`Command`, :class:`UnknownCommand` or :class:`InvalidCommand`; never raises.
    """
    if line.lower().startswith("exit") or line.startswith("..."):
        return Exit()
    verb, space, rest = line.partition(" ")
    entry = _PARSERS.get(verb.lower())
    if entry is None or (entry[1] and not space):
        return UnknownCommand(line, tuple(headers), body)
    wire = _Wire(line, verb.lower(), rest if space else None, tuple(headers), body)
    try:
        return entry[0](wire)
    except LocalProtocolError as exc:  # a field the typed command refuses (CR, NUL, spaces...)
        return wire.invalid(str(exc))


@attrs.frozen
class _Block:
    """A parsed header block waiting for its body."""

    line: str
    headers: Headers
    body_length: int


def _split_header(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        raise RemoteProtocolError(f"command header line without ':': {line!r}")
    return name, value.lstrip(" ")


def _body_length(headers: Headers, max_body: int) -> int:
    values = [v for n, v in headers if n.lower() == "content-length"]
    if not values:
        return 0
    if len(values) > 1:
        raise RemoteProtocolError(f"command has {len(values)} content-length headers")
    length = parse_decimal(values[0])
    if length is None:
        raise RemoteProtocolError(f"command content-length is not a usable number: {values[0]!r}")
    if length > max_body:
        raise RemoteProtocolError(f"command body of {length} bytes exceeds {max_body}")
    return length


def _parse_block(block: bytes, max_body: int) -> _Block:
    """Split a header block (without its terminating LFs) into line, headers, body length."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"command is not valid UTF-8: {exc}") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    headers = tuple(_split_header(line) for line in lines[1:])
    return _Block(lines[0], headers, _body_length(headers, max_body))


class CommandReader:
    """Incremental reader of client command bytes (server role), sans I/O.

    Feed bytes with :meth:`receive_data`; call :meth:`next_command` until it returns
    :data:`NEED_DATA`. Work is linear in the bytes received whatever the chunking: the scan for
    the end of a header block resumes where it stopped.

    Args:
        max_block_bytes: largest command header block accepted (FreeSWITCH: 10 MiB).
        max_body_bytes: largest content-length accepted (FreeSWITCH: 16 MiB).
    """

    def __init__(
        self,
        *,
        max_block_bytes: int = _DEFAULT_MAX_BLOCK,
        max_body_bytes: int = _DEFAULT_MAX_BODY,
    ) -> None:
        self._max_block = max_block_bytes
        self._max_body = max_body_bytes
        self._rb = ReceiveBuffer()
        self._last_lf = -1  # last LF seen in the current header block
        self._block: _Block | None = None  # header block read, body pending
        self._eof = False
        self._error: RemoteProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side."""
        if self._eof and data:
            raise RuntimeError("received data after EOF")
        if not data:
            self._eof = True
            return
        shift = self._rb.append(data)
        if shift and self._last_lf >= 0:
            self._last_lf -= shift

    def next_command(self) -> ParsedCommand | Sentinel:
        """The next complete command, :data:`NEED_DATA`, or :data:`CONNECTION_CLOSED`.

        Raises:
            RemoteProtocolError: limits exceeded or malformed framing (and on every later call).
            TruncatedFrameError: EOF in the middle of a command.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except RemoteProtocolError as exc:
            self._error = exc
            raise

    def _next(self) -> ParsedCommand | Sentinel:
        if self._block is None:
            block = self._take_block()
            if block is None:
                return self._starved()
            self._block = _parse_block(block, self._max_body)
        body = self._take_body(self._block.body_length)
        if body is None:
            return self._starved()
        block_, self._block = self._block, None
        return parse_command(block_.line, block_.headers, body)

    def _starved(self) -> Sentinel:
        """Not enough bytes: wait for more, or decide how the stream ended."""
        if not self._eof:
            return NEED_DATA
        if self._block is None and not self._rb:
            return CONNECTION_CLOSED
        raise TruncatedFrameError("stream ended in the middle of a client command")

    def _take_block(self) -> bytes | None:
        """The next header block without its terminator, or None if it is not complete."""
        rb = self._rb
        if rb.scan == rb.start:  # nothing scanned yet: drop leading CR/LF (B-WIRE-5)
            match = _NOT_CRLF.search(rb.data, rb.start)
            rb.skip(match.start() if match else len(rb.data))
        ends = self._find_terminator()
        if ends is None:
            if len(rb) > self._max_block:
                raise RemoteProtocolError(f"command header block exceeds {self._max_block} bytes")
            return None
        first_lf, second_lf = ends
        if second_lf + 1 - rb.start > self._max_block:
            raise RemoteProtocolError(f"command header block exceeds {self._max_block} bytes")
        block = bytes(rb.data[rb.start : first_lf])
        rb.skip(second_lf + 1)
        self._last_lf = -1
        return block

    def _find_terminator(self) -> tuple[int, int] | None:
        """Positions of two LFs with only CRs between them, scanning each byte once."""
        rb = self._rb
        buf = rb.data
        while (lf := buf.find(b"\n", rb.scan)) >= 0:
            rb.scan = lf + 1
            previous, self._last_lf = self._last_lf, lf
            if previous >= 0 and buf.count(b"\r", previous + 1, lf) == lf - previous - 1:
                return previous, lf
        rb.scan = len(buf)
        return None

    def _take_body(self, length: int) -> bytes | None:
        rb = self._rb
        if len(rb) < length:
            return None
        return rb.consume(rb.start + length)
