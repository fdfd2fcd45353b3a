"""FreeSWITCH's side of one *outbound* Event Socket session, sans I/O.

In outbound mode FreeSWITCH connects to the application (dialplan ``socket host:port async
full``) for one channel. :class:`OutboundSession` answers what that listener answers, with
mod_event_socket's reply texts: ``connect`` (the CHANNEL_DATA reply of fixture ``30``),
``myevents``, ``event``, ``nixevent``, ``noevents``, ``filter``, ``linger``/``nolinger``,
``divert_events``, ``resume``, ``getvar``, ``sendmsg`` for its own channel (no uuid, or its
uuid), ``api``, ``exit``. It returns the frames to write; :mod:`._dialer` does the I/O.

``sendmsg`` with ``call-command: execute`` queues the application (FreeSWITCH runs a channel's
applications one after another); :meth:`OutboundSession.start_app` and
:meth:`OutboundSession.finish_app` give its CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE, with
``Application-UUID`` = the message's ``Event-UUID``. ``answer`` marks the channel answered,
``hangup`` (or ``call-command: hangup``) ends it: CHANNEL_HANGUP, then without ``linger`` the
session's goodbye notice and close; with it CHANNEL_HANGUP_COMPLETE and the linger notice, the
socket staying open for the linger time (fixture ``34``).
"""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Callable, Sequence
from typing import Final

import attrs

from esl_trio.protocol import EventFormat, LocalProtocolError, RemoteProtocolError
from esl_trio.protocol.server import (
    GOODBYE,
    api_response,
    command_reply,
    disconnect_notice,
    encode_event,
)

from . import _dialer_data as data
from ._api import ApiHandler, frame_output, unknown_command
from ._events import EmittedEvent, Identity, Pairs, compose_headers
from ._subscriptions import Filters, Subscriptions

__all__ = ["Channel", "OutboundCommand", "OutboundCommandReader", "OutboundSession", "Output"]

_BLOCK_END: Final = re.compile(rb"\n\r*\n")
_MAX_BLOCK: Final = 1024 * 1024
_MAX_BODY: Final = 16 * 1024 * 1024
_NO_SESSION_OK: Final = ("+OK events diverted", "+OK events not diverted")


@attrs.frozen
class OutboundCommand:
    """One command the application sent on the outbound socket, as read.

    Attributes:
        line: the command line (``sendmsg``, ``myevents``, ``linger 5``...).
        headers: its ``Name: Value`` lines, in order.
        body: the bytes its ``content-length`` announced.
    """

    line: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def verb(self) -> str:
        """The command word, lower case."""
        return self.line.partition(" ")[0].lower()

    @property
    def argument(self) -> str:
        """What follows the command word, stripped."""
        return self.line.partition(" ")[2].strip()

    def header(self, name: str) -> str | None:
        """First value of a header, name compared case-insensitively."""
        wanted = name.lower()
        return next((v for n, v in self.headers if n.lower() == wanted), None)


class OutboundCommandReader:
    """Reads commands the way ``read_packet`` does (not the typed inbound parser: a bare
    ``sendmsg`` is valid here, and ``myevents json`` names a format, not a uuid)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _MAX_BLOCK + _MAX_BODY:
            raise RemoteProtocolError("command larger than FreeSWITCH reads")

    def next_command(self) -> OutboundCommand | None:
        """The next complete command, or None until more bytes arrive."""
        while self._buffer[:1] in (bytearray(b"\r"), bytearray(b"\n")):  # skipped, as FS does
            del self._buffer[:1]
        end = _BLOCK_END.search(self._buffer)
        if end is None:
            if len(self._buffer) > _MAX_BLOCK:
                raise RemoteProtocolError("command header block too large")
            return None
        try:
            text = self._buffer[: end.start()].decode()
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f"command is not UTF-8: {exc}") from None
        lines = [line.rstrip("\r") for line in text.split("\n")]
        headers = tuple(_split_header(line) for line in lines[1:] if line)
        length = _content_length(headers)
        if len(self._buffer) < end.end() + length:
            return None
        body = bytes(self._buffer[end.end() : end.end() + length])
        del self._buffer[: end.end() + length]
        return OutboundCommand(lines[0], headers, body)


def _split_header(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        raise RemoteProtocolError(f"header line without ':': {line[:80]!r}")
    return name, value.lstrip(" ")


def _content_length(headers: Sequence[tuple[str, str]]) -> int:
    text = next((v for n, v in headers if n.lower() == "content-length"), "0")
    if not text.isdigit() or int(text) > _MAX_BODY:
        raise RemoteProtocolError(f"bad content-length {text[:20]!r}")
    return int(text)


@attrs.define
class Channel:
    """The channel FreeSWITCH connects for: what the CHANNEL_DATA headers say about it."""

    uuid: str
    other_uuid: str
    created_us: int
    socket_host: str
    socket_data: str
    mode: str = "async"
    control: str = "full"
    answered_us: int = 0
    variables: dict[str, str] = attrs.Factory(dict)
    hangup_cause: str | None = None

    @property
    def answered(self) -> bool:
        return self.answered_us > 0

    def headers(self) -> Pairs:
        """The channel block of every event, in recorded order, then the variables."""
        values = {
            "uuid": self.uuid,
            "other_uuid": self.other_uuid,
            "created": str(self.created_us),
            "answered": str(self.answered_us),
            "socket_host": self.socket_host,
            "socket_data": self.socket_data,
            "state": "CS_HANGUP" if self.hangup_cause else "CS_EXECUTE",
            "call_state": self._call_state(),
            "answer_state": self._answer_state(),
        }
        pairs = [(name, key[1:] if key[0] == "=" else values[key]) for name, key in data.CHANNEL]
        pairs += [(f"variable_{name}", value) for name, value in self.variables.items()]
        return pairs

    def _call_state(self) -> str:
        if self.hangup_cause:
            return "HANGUP"
        return "ACTIVE" if self.answered else "RINGING"

    def _answer_state(self) -> str:
        if self.hangup_cause:
            return "hangup"
        return "answered" if self.answered else "ringing"


@attrs.frozen
class Output:
    """What to write for one step, and whether the socket closes after it.

    ``linger`` is the seconds to keep the socket open after the last frame before the goodbye
    (None: not lingering; -1: until the application closes it).
    """

    frames: tuple[bytes, ...] = ()
    close: bool = False
    linger: int | None = None
    reason: str | None = None


@attrs.frozen
class App:
    """An application queued by ``sendmsg`` (``call-command: execute``)."""

    name: str
    arg: str
    app_uuid: str
    loops: int = 1


class OutboundSession:
    """The listener of one outbound socket (see the module docstring)."""

    def __init__(
        self,
        channel: Channel,
        identity: Identity,
        *,
        next_sequence: Callable[[], int],
        now: Callable[[], float],
        api_handlers: dict[str, ApiHandler] | None = None,
    ) -> None:
        self.channel = channel
        self._identity = identity
        self._next_sequence = next_sequence
        self._now = now
        self._api_handlers = api_handlers if api_handlers is not None else {}
        self._subs = Subscriptions(EventFormat.PLAIN)
        self._filters = Filters()
        self.connected = False
        self.myevents = False
        self.divert = False
        self.linger: int | None = None
        self.pending_apps: list[App] = []
        #: Every event fired for the channel (delivered or not), for assertions.
        self.events: list[EmittedEvent] = []

    # -- commands ------------------------------------------------------------------------

    def handle(self, command: OutboundCommand) -> Output:
        """Answer one command."""
        verb = command.verb
        if verb.startswith("exit") or command.line.startswith("..."):
            return Output((command_reply("+OK bye"), self.goodbye()), close=True, reason="exit")
        handler = _HANDLERS.get(verb)
        if handler is None:
            return _reply("-ERR command not found")
        return handler(self, command)

    def _cmd_connect(self, command: OutboundCommand) -> Output:
        self.connected = True
        headers, _ = self._compose("CHANNEL_DATA", self.channel.headers())
        tail = [(n, v[1:] if v[0] == "=" else self._tail_value(v)) for n, v in data.CONNECT_TAIL]
        # No Content-Length: one header block, like switch_event_serialize writes it.
        return Output((encode_event(EventFormat.PLAIN, [*headers, *tail]),))

    def _tail_value(self, key: str) -> str:
        return self.channel.mode if key == "mode" else self.channel.control

    def _cmd_myevents(self, command: OutboundCommand) -> Output:
        if self.myevents:
            return _reply("-ERR aready enabled.")
        self.myevents = True
        self._subs.bind_session(self.channel.uuid)
        line = command.line
        if "xml" in line or "XML" in line:  # strstr on the whole line, as FreeSWITCH does
            self._subs.format = EventFormat.XML
        if "json" in line or "JSON" in line:
            self._subs.format = EventFormat.JSON
        return _reply("+OK Events Enabled")

    def _cmd_event(self, command: OutboundCommand) -> Output:
        return _reply(self._subs.subscribe(command.argument.split(), None))

    def _cmd_nixevent(self, command: OutboundCommand) -> Output:
        return _reply(self._subs.nix(command.argument.split()))

    def _cmd_noevents(self, command: OutboundCommand) -> Output:
        if self._subs.clear():
            return _reply("+OK no longer listening for events")
        return _reply("-ERR not listening for events")

    def _cmd_filter(self, command: OutboundCommand) -> Output:
        words = command.argument.split(" ", 2)
        if words[0].lower() == "delete" and len(words) > 1:
            return _reply(self._filters.delete(words[1], words[2] if len(words) > 2 else None))
        if words[0].lower() == "add":
            words = words[1:]
        if len(words) < 2:
            return _reply("-ERR invalid syntax")
        return _reply(self._filters.add(words[0], " ".join(words[1:])))

    def _cmd_linger(self, command: OutboundCommand) -> Output:
        argument = command.argument
        # atoi(): no number is 0 seconds; -1 (or no argument) is forever.
        seconds = int(argument) if argument.lstrip("-").isdigit() else (0 if argument else -1)
        self.linger = seconds
        if seconds == -1:
            return _reply("+OK will linger")
        return _reply(f"+OK will linger {seconds} seconds")

    def _cmd_nolinger(self, command: OutboundCommand) -> Output:
        self.linger = None
        return _reply("+OK will not linger")

    def _cmd_divert(self, command: OutboundCommand) -> Output:
        value = command.argument
        if not value:
            return _reply("-ERR missing value.")
        self.divert = value.lower() == "on"
        return _reply(_NO_SESSION_OK[0] if self.divert else _NO_SESSION_OK[1])

    def _cmd_resume(self, command: OutboundCommand) -> Output:
        return _reply("+OK")

    def _cmd_getvar(self, command: OutboundCommand) -> Output:
        return _reply(self.channel.variables.get(command.argument, ""))

    def _cmd_api(self, command: OutboundCommand) -> Output:
        name, _, args = command.argument.partition(" ")
        handler = self._api_handlers.get(name)
        if handler is None:
            return Output((api_response(unknown_command(name)),))
        result = handler(args)
        if not isinstance(result, str | bytes | None):
            return Output((api_response(b"-ERR async api handlers are not supported here\n"),))
        return Output((api_response(frame_output(result, background=False)),))

    def _cmd_sendmsg(self, command: OutboundCommand) -> Output:
        target = command.argument or command.header("session-id") or ""
        if target and target != self.channel.uuid:
            return _reply(f"-ERR invalid session id [{target}]")
        if self.channel.hangup_cause is not None:
            return _reply("+OK")  # queued to a channel that is going away: nothing runs
        call_command = (command.header("call-command") or "").lower()
        if call_command == "hangup":
            cause = command.header("hangup-cause") or "NORMAL_CLEARING"
            return _prepend(command_reply("+OK"), self.hangup(cause))
        if call_command == "execute":
            name = command.header("execute-app-name") or ""
            arg = command.header("execute-app-arg") or command.body.decode("utf-8", "replace")
            app_uuid = command.header("Event-UUID") or str(uuid_module.uuid4())
            loops = int(command.header("loops") or "1")
            self.pending_apps.append(App(name, arg, app_uuid, max(loops, 1)))
        return _reply("+OK")

    # -- the channel ---------------------------------------------------------------------

    def start_app(self, app: App) -> Output:
        """CHANNEL_EXECUTE of the next queued application."""
        extra = [*self._app_headers(app)]
        return self._deliver(self._event("CHANNEL_EXECUTE", extra))

    def finish_app(self, app: App) -> Output:
        """CHANNEL_EXECUTE_COMPLETE; ``answer`` answers first, ``hangup`` hangs up after."""
        frames: list[bytes] = []
        if app.name == "answer" and not self.channel.answered:
            self.channel.answered_us = int(self._now() * 1_000_000)
            frames += self._deliver(self._event("CHANNEL_ANSWER", [])).frames
        extra = self._app_headers(app, complete=True)
        frames += self._deliver(self._event("CHANNEL_EXECUTE_COMPLETE", extra)).frames
        if app.name == "hangup":
            end = self.hangup(app.arg or "NORMAL_CLEARING")
            return Output((*frames, *end.frames), end.close, end.linger, end.reason)
        return Output(tuple(frames))

    def _app_headers(self, app: App, *, complete: bool = False) -> Pairs:
        pairs = [("variable_current_application", app.name), ("Application", app.name)]
        if app.arg:
            pairs.append(("Application-Data", app.arg))
        if complete:
            pairs.append(("Application-Response", "_none_"))
        pairs.append(("Application-UUID", app.app_uuid))
        return pairs

    def dtmf(self, digit: str, duration: int) -> Output:
        extra = [("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", "RTP")]
        return self._deliver(self._event("DTMF", extra))

    def emit(self, name: str, extra: Pairs, body: bytes = b"") -> Output:
        """Any event about this channel (channel headers first, then ``extra``)."""
        return self._deliver(self._event(name, extra, body))

    def hangup(self, cause: str) -> Output:
        """The channel goes down: CHANNEL_HANGUP, then the goodbye or the linger notice."""
        if self.channel.hangup_cause is not None:
            return Output()
        self.channel.hangup_cause = cause
        self.pending_apps.clear()
        frames = list(self._deliver(self._event("CHANNEL_HANGUP", _cause(cause))).frames)
        if self.linger is None:
            return Output((*frames, self.goodbye()), close=True, reason="hangup")
        complete = self._event("CHANNEL_HANGUP_COMPLETE", _cause(cause))
        frames += self._deliver(complete).frames
        frames.append(self.linger_notice())
        return Output(tuple(frames), linger=self.linger)

    def goodbye(self) -> bytes:
        """The notice that ends a session-bound socket (send_disconnect with a session)."""
        extra = [
            ("Controlled-Session-UUID", self.channel.uuid),
            ("Content-Disposition", "disconnect"),
        ]
        return disconnect_notice(GOODBYE, extra)

    def linger_notice(self) -> bytes:
        """``Content-Disposition: linger``: the channel is gone, the socket stays (fixture 34)."""
        extra = [
            ("Controlled-Session-UUID", self.channel.uuid),
            ("Content-Disposition", "linger"),
            ("Channel-Name", _channel_name()),
            ("Linger-Time", str(self.linger if self.linger is not None else -1)),
        ]
        return disconnect_notice(b"", extra)

    # -- events --------------------------------------------------------------------------

    def _compose(self, name: str, extra: Pairs) -> tuple[Pairs, int]:
        calling = data.CALLING.get(name, ("fake_dialer.c", "emit", 1))
        sequence = self._next_sequence()
        headers = compose_headers(self._identity, name, sequence, self._now(), calling, extra)
        return headers, sequence

    def _event(self, name: str, extra: Pairs, body: bytes = b"") -> EmittedEvent:
        headers, sequence = self._compose(name, [*self.channel.headers(), *extra])
        event = EmittedEvent(name, None, headers, body, sequence)
        self.events.append(event)
        return event

    def _deliver(self, event: EmittedEvent) -> Output:
        """The event's frame if this socket listens for it (subscriptions and filters)."""
        if not (self._subs.accepts(event.name, None) and self._filters.accepts(event.header)):
            return Output()
        return Output((event.frame(self._subs.format),))


def _reply(text: str) -> Output:
    return Output((command_reply(text),))


def _prepend(frame: bytes, output: Output) -> Output:
    return Output((frame, *output.frames), output.close, output.linger, output.reason)


def _cause(cause: str) -> Pairs:
    return [("Hangup-Cause", cause)]


def _channel_name() -> str:
    return dict(data.CHANNEL)["Channel-Name"][1:]


def check_value(name: str, value: str) -> None:
    """Refuse CR, LF and NUL in a value a test hands over (they would forge frames)."""
    if any(c in value for c in "\r\n\0"):
        raise LocalProtocolError(f"{name} must not contain CR, LF or NUL: {value!r}")


_HANDLERS: Final[dict[str, Callable[[OutboundSession, OutboundCommand], Output]]] = {
    "connect": OutboundSession._cmd_connect,
    "myevents": OutboundSession._cmd_myevents,
    "event": OutboundSession._cmd_event,
    "nixevent": OutboundSession._cmd_nixevent,
    "noevents": OutboundSession._cmd_noevents,
    "filter": OutboundSession._cmd_filter,
    "linger": OutboundSession._cmd_linger,
    "nolinger": OutboundSession._cmd_nolinger,
    "divert_events": OutboundSession._cmd_divert,
    "resume": OutboundSession._cmd_resume,
    "getvar": OutboundSession._cmd_getvar,
    "api": OutboundSession._cmd_api,
    "sendmsg": OutboundSession._cmd_sendmsg,
}
