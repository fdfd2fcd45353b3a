"""Typed server messages, classified from frames by content type (B-CT-*, B-REPLY-*).

The classification is a table lookup on the lower-cased Content-Type. Anything unrecognised
becomes an explicit :class:`UnknownFrame`, never an exception (B-CT-1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import attrs

from ._events import Event, make_event
from ._formats import EventFormat
from ._frames import Frame
from ._headers import Headers
from ._numbers import parse_decimal
from ._percent import decode_value, split_array

__all__ = [
    "ApiReply",
    "AuthRequest",
    "ChannelData",
    "CommandReply",
    "DisconnectNotice",
    "LogLine",
    "Message",
    "RudeRejection",
    "UnknownFrame",
    "classify",
]

_JOB_PREFIX = "+OK Job-UUID: "


@attrs.frozen
class AuthRequest:
    """``auth/request``: the server's greeting; the client must authenticate (B-WIRE-2)."""

    headers: Headers = attrs.field(factory=Headers, repr=False)


@attrs.frozen
class CommandReply:
    """``command/reply``: the answer to every command except ``api`` (B-REPLY-1…5).

    :attr:`text` is the Reply-Text, e.g. ``+OK accepted``, ``+OK Job-UUID: …``,
    ``-ERR invalid``. Extra headers (``Job-UUID``, userauth's ``Allowed-*``) are in
    :attr:`headers`.

    Every ``command/reply`` frame is a CommandReply, whatever its text: replies carry no ids,
    so the client must consume exactly one reply slot per frame. A Reply-Text that is neither
    ``+OK…`` nor ``-ERR…`` (outbound ``getvar`` answers with the bare value; a proxy may send
    anything) is neither :attr:`ok` nor :attr:`is_error`; a missing Reply-Text is ``""``.
    """

    text: str
    headers: Headers = attrs.field(factory=Headers, repr=False)

    @property
    def ok(self) -> bool:
        """Reply-Text starts with ``+OK`` (False for any other text)."""
        return self.text.startswith("+OK")

    @property
    def is_error(self) -> bool:
        """Reply-Text starts with ``-ERR``; neither this nor :attr:`ok` for any other text."""
        return self.text.startswith("-ERR")

    @property
    def is_auth_accepted(self) -> bool:
        """Exactly ``+OK accepted`` (B-REPLY-3)."""
        return self.text == "+OK accepted"

    @property
    def job_uuid(self) -> str | None:
        """The Job-UUID of a bgapi acceptance (B-BGW-2, B-BGW-7), else None."""
        if not self.text.startswith(_JOB_PREFIX):
            return None
        return self.text[len(_JOB_PREFIX) :].strip() or self.headers.get("Job-UUID")

    @property
    def message(self) -> str:
        """Text after ``+OK `` (``""`` for a bare ``+OK`` or an error)."""
        return self.text[3:].lstrip() if self.ok else ""

    @property
    def reason(self) -> str:
        """Text after ``-ERR `` (``""`` for success or a bare ``-ERR``, B-REPLY-5)."""
        return self.text[4:].lstrip() if self.is_error else ""


@attrs.frozen
class ChannelData(CommandReply):
    """The reply to ``connect`` in outbound mode: the controlled channel's data.

    FreeSWITCH answers ``connect`` with a ``command/reply`` frame whose header block is a
    serialised CHANNEL_DATA event: every channel field and ``variable_*`` as a header,
    percent-encoded like a plain event, then ``Content-Type``, ``Reply-Text: %2BOK%0A``,
    ``Socket-Mode`` and ``Control``. Here :attr:`headers` are decoded (``_undef_`` is ``""``,
    arrays become repeated names, as in :class:`Event`) and :attr:`text` is the decoded
    Reply-Text without its trailing newline (``+OK``). It is a :class:`CommandReply`, so it
    fills the reply slot of the ``connect`` command.
    """

    #: The header block as received (still percent-encoded): what :meth:`to_event` reads.
    raw: bytes = attrs.field(default=b"", repr=False, eq=False)

    def to_event(self) -> Event:
        """The channel data as the CHANNEL_DATA event FreeSWITCH serialised into the reply
        (a :class:`ChannelEvent`), decoded lazily like any plain event."""
        return make_event(EventFormat.PLAIN, self.raw)

    @property
    def unique_id(self) -> str | None:
        """``Unique-ID``: the uuid of the channel this socket controls."""
        return self.headers.get("Unique-ID")

    @property
    def channel_name(self) -> str | None:
        return self.headers.get("Channel-Name")

    @property
    def caller_id_number(self) -> str | None:
        return self.headers.get("Caller-Caller-ID-Number")

    @property
    def destination_number(self) -> str | None:
        return self.headers.get("Caller-Destination-Number")

    @property
    def socket_mode(self) -> str | None:
        """``async`` or ``static``: how the dialplan's ``socket`` application was called."""
        return self.headers.get("Socket-Mode")

    @property
    def control(self) -> str | None:
        """``full`` or ``single-channel``: which commands this socket may send."""
        return self.headers.get("Control")

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first decoded value of header ``name`` (any case), or ``default``."""
        return self.headers.get(name) if default is None else self.headers.get(name, default)

    def get_all(self, name: str) -> list[str]:
        """Every decoded value of header ``name``, in order."""
        return self.headers.get_all(name)

    def variable(self, name: str) -> str | None:
        """The channel variable ``name`` (the ``variable_<name>`` header)."""
        return self.headers.get(f"variable_{name}")


@attrs.frozen
class _WithBody:
    """A message whose payload is its body (bytes kept verbatim)."""

    body: bytes
    headers: Headers = attrs.field(factory=Headers, repr=False)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")


@attrs.frozen
class ApiReply(_WithBody):
    """``api/response``: the output of an ``api`` command, kept verbatim (B-APIW-1/2).

    ``-ERR nosuchcommand Command not found!`` is still an api reply, not a command error.
    """

    @property
    def ok(self) -> bool:
        """The output starts with ``+OK`` (B-REPLY-6; ``status`` output is "not ok")."""
        return self.body.lstrip().startswith(b"+OK")

    @property
    def is_error(self) -> bool:
        """The output starts with ``-ERR`` (unknown command, failed originate, …)."""
        return self.body.lstrip().startswith(b"-ERR")


@attrs.frozen
class DisconnectNotice(_WithBody):
    """``text/disconnect-notice``: the server is closing, or (linger) a channel ended (B-DISC-*)."""

    @property
    def disposition(self) -> str | None:
        """``Content-Disposition`` (``linger``, ``disconnect``), None when absent."""
        return self.headers.get("Content-Disposition")

    @property
    def is_linger(self) -> bool:
        """A linger notice: the socket stays open (B-DISC-3)."""
        return (self.disposition or "").strip().lower() == "linger"


@attrs.frozen
class RudeRejection(_WithBody):
    """``text/rude-rejection``: the server's ACL refused this client (B-WIRE-3)."""


@attrs.frozen
class LogLine(_WithBody):
    """``log/data``: one FreeSWITCH log line, after ``log <level>`` (B-CT-3)."""

    @property
    def level(self) -> int | None:
        return _int_or_none(self.headers.get("Log-Level"))

    @property
    def file(self) -> str | None:
        return self.headers.get("Log-File")

    @property
    def function(self) -> str | None:
        return self.headers.get("Log-Func")

    @property
    def line(self) -> int | None:
        return _int_or_none(self.headers.get("Log-Line"))

    @property
    def channel(self) -> str | None:
        return self.headers.get("Text-Channel")

    @property
    def user_data(self) -> str | None:
        """Usually the channel UUID the line belongs to; may be empty."""
        value = self.headers.get("User-Data")
        return value.strip() if value is not None else None


@attrs.frozen
class UnknownFrame:
    """A frame we do not model: an unknown content type (every command/reply is modelled)."""

    frame: Frame


def _int_or_none(value: str | None) -> int | None:
    return None if value is None else parse_decimal(value.strip())


Message = (
    AuthRequest
    | CommandReply
    | ChannelData
    | ApiReply
    | Event
    | DisconnectNotice
    | RudeRejection
    | LogLine
    | UnknownFrame
)


def _command_reply(frame: Frame) -> Message:
    headers = frame.headers
    text = headers.get("Reply-Text", "")
    # Only the connect reply carries an event's header block; no other reply has Event-Name.
    if headers.get("Event-Name") == "CHANNEL_DATA":
        return _channel_data(headers)
    return CommandReply(text, headers)


def _channel_data(raw: Headers) -> ChannelData:
    pairs: list[tuple[str, str]] = []
    for name, value in raw.items():
        decoded = decode_value(value)
        items = split_array(decoded)
        if items is None:
            pairs.append((name, decoded))
        else:
            pairs.extend((name, item) for item in items)
    # Reply-Text is near the end; a scan keeps the headers' name index unbuilt until a user
    # looks a header up (it would hold ~10 KB per call for nothing).
    text = next((v for n, v in reversed(pairs) if n.lower() == "reply-text"), "")
    block = "".join(f"{name}: {value}\n" for name, value in raw.items()).encode() + b"\n"
    return ChannelData(text.rstrip("\r\n"), Headers(pairs), block)


_CLASSIFIERS: dict[str, Callable[[Frame], Message]] = {
    "auth/request": lambda f: AuthRequest(f.headers),
    "command/reply": _command_reply,
    "api/response": lambda f: ApiReply(f.body, f.headers),
    "text/event-plain": lambda f: make_event(EventFormat.PLAIN, f.body),
    "text/event-json": lambda f: make_event(EventFormat.JSON, f.body),
    "text/event-xml": lambda f: make_event(EventFormat.XML, f.body),
    "text/disconnect-notice": lambda f: DisconnectNotice(f.body, f.headers),
    "text/rude-rejection": lambda f: RudeRejection(f.body, f.headers),
    "log/data": lambda f: LogLine(f.body, f.headers),
}


def classify(frame: Frame) -> Message:
    """The typed message for a frame; unknown content types give :class:`UnknownFrame`."""
    classifier = _CLASSIFIERS.get(frame.content_type)
    return UnknownFrame(frame) if classifier is None else classifier(frame)
