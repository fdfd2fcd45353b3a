"""Typed server messages, classified from frames by content type (B-CT-*, B-REPLY-*).

The classification is a table lookup on the lower-cased Content-Type. Anything unrecognised
becomes an explicit :class:`UnknownFrame`, never an exception (B-CT-1).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._events import Event, make_event
from ._formats import EventFormat
from ._frames import Frame
from ._headers import Headers

__all__ = [
    "ApiReply",
    "AuthRequest",
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
    """

    text: str
    headers: Headers = attrs.field(factory=Headers, repr=False)

    @property
    def ok(self) -> bool:
        """Reply-Text starts with ``+OK``."""
        return self.text.startswith("+OK")

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
        return self.text[4:].lstrip() if self.text.startswith("-ERR") else ""


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
    """A frame we do not model (unknown content type, command/reply without +OK/-ERR)."""

    frame: Frame


def _int_or_none(value: str | None) -> int | None:
    text = value.strip() if value else ""
    return int(text) if text.isascii() and text.isdigit() else None


Message = (
    AuthRequest
    | CommandReply
    | ApiReply
    | Event
    | DisconnectNotice
    | RudeRejection
    | LogLine
    | UnknownFrame
)


def _command_reply(frame: Frame) -> Message:
    text = frame.headers.get("Reply-Text")
    if text is None or not (text.startswith("+OK") or text.startswith("-ERR")):
        return UnknownFrame(frame)
    return CommandReply(text, frame.headers)


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
