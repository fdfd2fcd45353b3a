"""FreeSWITCH's side of one *outbound* Event Socket session, sans I/O.

In outbound mode FreeSWITCH connects to the application (dialplan ``socket host:port async
full``) for one channel. :class:`OutboundSession` answers what mod_event_socket's listener
answers, checked against ``parse_command`` / ``read_packet`` / ``listener_run`` of
mod_event_socket.c and the recorded session (fixtures ``30``-``34``). It returns the frames to
write; :mod:`._dialer` does the I/O and the timing.

Commands (``parse_command``, in its order; words are matched by prefix, like ``strncasecmp``)
    ``exit`` / ``...``: ``+OK bye``, then the goodbye notice and close. ``filter `` (with its
    space), ``resume`` (sets ``socket_resume=true``), ``connect`` (the CHANNEL_DATA reply of
    fixture ``30``: one header block, no Content-Length), ``getvar`` (the bare value),
    ``myevents``, ``divert_events``, ``sendmsg`` for its own channel (no uuid, its uuid, or
    ``session-id``). Then, with ``Control: full`` only, ``sendevent`` (reply only), ``api``,
    ``bgapi``, ``log``, ``linger``, ``nolinger``, ``nolog``, ``event``, ``nixevent``,
    ``noevents``. Without ``full`` (``socket ... async``) parse_command stops after
    ``sendmsg`` (``if (LFLAG_OUTBOUND && !LFLAG_FULL) goto done``), and every reply left empty is
    filled at ``done:`` with ``-ERR command not found``: so the full-only commands, an unknown
    one, and ``getvar`` of an unset (or empty) variable all answer that.
The first command
    ``listener_run`` reads it with a 25 s timeout and does *not* write its reply: ``connect``
    writes its own; any other first command is executed silently (``exit`` then only gets the
    goodbye). No first command within 25 s: the goodbye and close (:mod:`._dialer`).
``api`` on the socket
    User handlers first, then ``uuid_kill``, ``uuid_getvar``, ``uuid_setvar``, ``uuid_exists``,
    ``uuid_send_dtmf`` for this channel with mod_commands' texts (``+OK\\n``, ``_undef_``,
    ``-ERR No Such Channel!\\n``, ``-USAGE: ...``, ``true``/``false``, ``-ERR Cannot locate
    session!\\n``). Once the channel is hung up it is not found (``switch_core_session_locate``
    refuses a channel that is down). ``uuid_send_dtmf`` sends digits *out* of the channel (to
    the loopback B leg): no DTMF event here, and mod_commands writes nothing, so the reply is
    ``-ERR no reply\\n``; the digits are kept in :attr:`OutboundSession.sent_dtmf`.
Channel variables
    Recorded ones (``uuid``, ``direction``...) and the test's, in order; like
    ``switch_channel_set_variable`` a variable set again moves last and one set to nothing is
    removed, so events list them as FreeSWITCH would (``current_loop``, ``total_loops``,
    ``current_application``... as each sendmsg application runs).
Applications (``sendmsg`` with ``call-command: execute``)
    In async mode queued and run one after another (:mod:`._dialer`), each ``loops`` times, each
    run a CHANNEL_EXECUTE and a CHANNEL_EXECUTE_COMPLETE with ``Application-UUID`` = the
    message's ``Event-UUID``. The first application (or a hangup) is preceded by the
    CHANNEL_PARK of the socket application's park (fired just after ``connect`` in FreeSWITCH;
    here as late as the recorded order allows). In static mode (``socket ... full`` without
    ``async``, no ``async: true`` header) ``switch_ivr_parse_event`` runs the application inside
    ``parse_command``: the ``+OK`` comes when it has finished, and the events queued meanwhile
    (its EXECUTE and EXECUTE_COMPLETE, DTMF...) are written after that reply.
    See :meth:`OutboundSession.plan` for what each application does.
Hangup (fixture ``34``)
    CHANNEL_HANGUP (``Hangup-Cause`` after ``Answer-State``, state number 10), the running
    application's EXECUTE_COMPLETE, in async mode CHANNEL_UNPARK and the ``socket``
    application's EXECUTE_COMPLETE, CHANNEL_STATE ``CS_HANGUP`` and ``CS_REPORTING`` (no
    variables), CHANNEL_HANGUP_COMPLETE (``Hangup-Cause`` first too, with the CDR variables);
    then the linger notice (socket kept for the linger time) or, without ``linger``, the goodbye
    and close. ``read_packet`` drains the queued events before it checks for the hangup, and the
    recording shows the events above queued by then; without linger the same events precede the
    goodbye. In static mode the session thread is busy in the socket application, so only
    CHANNEL_HANGUP (and the running application's completion) reach the socket: the rest, like
    CHANNEL_DESTROY always (the session is destroyed only once the listener let go of it), are
    fired after the socket closed: in :attr:`OutboundSession.events`, never written.
"""

from __future__ import annotations

import re
import time
import uuid as uuid_module
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal, TypeAlias

import attrs

from esl_trio.protocol import EventFormat, LocalProtocolError, RemoteProtocolError
from esl_trio.protocol._commands import LOG_LEVEL_NAMES
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
from ._pbx_data import HANGUP_CAUSES
from ._subscriptions import Filters, Subscriptions

__all__ = [
    "App",
    "AppPlan",
    "Channel",
    "Collect",
    "OutboundCommand",
    "OutboundCommandReader",
    "OutboundSession",
    "Output",
    "check_value",
]

_BLOCK_END: Final = re.compile(rb"\n\r*\n")
_MAX_BLOCK: Final = 1024 * 1024
_MAX_BODY: Final = 16 * 1024 * 1024
_DIVERTED: Final = ("+OK events diverted", "+OK events not diverted")
_NOT_FOUND: Final = "-ERR command not found"
_ATOI: Final = re.compile(r"[ \t\n\v\f\r]*([+-]?\d+)")
#: Seconds ``listener_run`` waits for the first command (``read_packet(listener, &ev, 25)``).
FIRST_COMMAND_TIMEOUT: Final = 25.0
#: Applications modelled, or known to mod_dptools and run as "completes after
#: ``app_durations[name]``" (an application not listed and not in ``app_durations`` is
#: FreeSWITCH's "Invalid Application": the channel hangs up with DESTINATION_OUT_OF_ORDER).
KNOWN_APPS: Final = frozenset(
    {
        "answer", "bridge", "echo", "event", "export", "hangup", "info", "log", "multiset",
        "park", "play_and_get_digits", "playback", "pre_answer", "record", "redirect",
        "respond", "ring_ready", "say", "send_dtmf", "set", "set_global", "sleep", "speak",
        "transfer", "unset",
    }
)  # fmt: skip


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


def c_atoi(text: str) -> int:
    """C's ``atoi``: blanks, a sign, digits; 0 when no number starts the text."""
    match = _ATOI.match(text)
    return int(match.group(1)) if match else 0


def switch_true(value: str | None) -> bool:
    """FreeSWITCH's ``switch_true``: yes/on/true/t/enabled/active/allow or a non-zero number."""
    if value is None:
        return False
    word = value.strip().lower()
    if word in {"yes", "on", "true", "t", "enabled", "active", "allow"}:
        return True
    return word.lstrip("-").isdigit() and int(word) != 0


def _first_line(command: OutboundCommand) -> str:
    """The command line as ``strip_cr`` leaves it: up to the first CR or LF."""
    return re.split(r"[\r\n]", command.line, maxsplit=1)[0]


def _stamp(micros: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(micros // 1_000_000))


Phase: TypeAlias = Literal["execute", "hangup", "cs_hangup", "reporting"]
#: A command's reply text and extra headers (None: the command writes its own, done_noreply).
_Reply: TypeAlias = "tuple[str, Sequence[tuple[str, str]]] | None"
_Result: TypeAlias = "tuple[_Reply, Output]"


@attrs.define
class Channel:
    """The channel FreeSWITCH connects for: what its events say about it.

    ``variables`` starts with the recorded ones (``uuid``, ``direction``...), then the test's;
    :meth:`set_variable` keeps FreeSWITCH's order. ``phase`` follows the states after a hangup:
    ``hangup`` (CS_HANGUP signalled, running state still CS_EXECUTE), ``cs_hangup``,
    ``reporting``.
    """

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
    hangup_us: int = 0
    phase: Phase = "execute"

    def __attrs_post_init__(self) -> None:
        recorded = dict(
            self._resolve(name.removeprefix("variable_"), key) for name, key in data.VARIABLES
        )
        self.variables = {**recorded, **self.variables}

    @property
    def answered(self) -> bool:
        return self.answered_us > 0

    @property
    def up(self) -> bool:
        return self.hangup_cause is None

    def set_variable(self, name: str, value: str | None) -> None:
        """``switch_channel_set_variable``: the variable moves last; nothing removes it."""
        self.variables.pop(name, None)
        if value:
            self.variables[name] = value

    def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    def _values(self) -> dict[str, str]:
        answer = "hangup" if self.hangup_cause else ("answered" if self.answered else "ringing")
        call_state = "ACTIVE" if self.answered else "RINGING"
        state, number = {
            "execute": ("CS_EXECUTE", "4"),
            "hangup": ("CS_EXECUTE", "10"),
            "cs_hangup": ("CS_HANGUP", "10"),
            "reporting": ("CS_REPORTING", "11"),
        }[self.phase]
        return {
            "uuid": self.uuid,
            "other_uuid": self.other_uuid,
            "created": str(self.created_us),
            "answered": str(self.answered_us),
            "hangup_time": str(self.hangup_us if self.phase == "reporting" else 0),
            "socket_host": self.socket_host,
            "socket_data": self.socket_data,
            "state": state,
            "state_number": number,
            "call_state": "HANGUP" if self.phase == "reporting" else call_state,
            "answer_state": answer,
            "mode": self.mode,
            "control": self.control,
        }

    def _resolve(
        self, name: str, key: str, values: Mapping[str, str] | None = None
    ) -> tuple[str, str]:
        if key[0] == "=":
            return name, key[1:]
        return name, (values or self._values())[key]

    def headers(self, *, variables: bool = True, profile: bool = False) -> Pairs:
        """``switch_channel_event_set_data``: the channel block, then the variables (CHANNEL_STATE
        has none); ``profile`` puts the ``Channel-*`` caller profile first (``connect``)."""
        values = self._values()
        layout = (*data.PROFILE, *data.CHANNEL) if profile else data.CHANNEL
        pairs: Pairs = []
        for name, key in layout:
            pairs.append(self._resolve(name, key, values))
            if name == "Answer-State" and self.hangup_cause:
                pairs.append(("Hangup-Cause", self.hangup_cause))
        if variables:
            pairs += [(f"variable_{name}", value) for name, value in self.variables.items()]
        return pairs

    def cdr_variables(self) -> Pairs:
        """What ``switch_core_session_reporting_state`` sets before CHANNEL_HANGUP_COMPLETE."""
        start, answer, end = self.created_us, self.answered_us, self.hangup_us
        last_app = self.variables.get("current_application", "")
        values = {
            "start_stamp": _stamp(start),
            "answer_stamp": _stamp(answer) if answer else "",
            "end_stamp": _stamp(end),
            "start_epoch": str(start // 1_000_000),
            "start_uepoch": str(start),
            "answer_epoch": str(answer // 1_000_000),
            "answer_uepoch": str(answer),
            "end_epoch": str(end // 1_000_000),
            "end_uepoch": str(end),
            "last_app": last_app,
            "last_arg": self.variables.get("current_application_data", "") if last_app else "",
        }
        spans = {
            "duration": end - start,
            "bill": end - answer if answer else 0,
            "answer": answer - start if answer else 0,
        }
        for span, micros in spans.items():
            for unit, divisor in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
                values[f"{span}{unit}"] = str(micros // divisor)
        values["duration"], values["mduration"], values["uduration"] = (
            values.pop("durationsec"),
            values.pop("durationmsec"),
            values.pop("durationusec"),
        )
        cause = self.hangup_cause or "NORMAL_CLEARING"
        pairs = [("hangup_cause", cause), ("hangup_cause_q850", str(HANGUP_CAUSES.get(cause, 0)))]
        for name, key in data.HANGUP_COMPLETE_VARIABLES:
            _, value = self._resolve(name, key, values)
            if value:
                pairs.append((name, value))
        return pairs


@attrs.frozen
class Output:
    """What to write for one step, and what happens after it.

    Attributes:
        frames: written in order.
        close: the socket closes after them (``reason`` says why).
        linger: seconds to keep the socket open before the goodbye (None: not lingering; -1:
            until the application closes it).
        inline: static mode: run this application now, inside the command, then write
            ``after`` (the held ``+OK``) and whatever the application queued meanwhile.
    """

    frames: tuple[bytes, ...] = ()
    close: bool = False
    linger: int | None = None
    reason: str | None = None
    inline: App | None = None
    after: bytes | None = None

    def then(self, other: Output) -> Output:
        """This step's frames, then ``other``'s (and its outcome)."""
        return attrs.evolve(other, frames=(*self.frames, *other.frames))


@attrs.frozen
class App:
    """An application queued by ``sendmsg`` (``call-command: execute``); ``loops`` below 0:
    run again and again until the channel hangs up, as FreeSWITCH does."""

    name: str
    arg: str
    app_uuid: str
    loops: int = 1


@attrs.frozen
class Collect:
    """``play_and_get_digits min max tries timeout terminators prompt invalid var regexp
    [digit_timeout]`` (mod_dptools), timeouts in seconds."""

    min_digits: int
    max_digits: int
    tries: int
    timeout: float
    terminators: str
    variable: str
    regexp: str
    digit_timeout: float

    @classmethod
    def parse(cls, arg: str) -> Collect | None:
        """None: fewer than 6 words ("Invalid Arguments": the application returns at once)."""
        words = arg.split()
        if len(words) < 6:
            return None

        def word(index: int) -> str:
            return words[index] if len(words) > index else ""

        low, high = max(c_atoi(word(0)), 0), c_atoi(word(1))
        timeout = c_atoi(word(3)) / 1000
        digit = c_atoi(word(9)) / 1000 if word(9) else 0.0
        terminators = word(4) or "#"
        return cls(
            min_digits=low,
            max_digits=max(high, low),
            tries=c_atoi(word(2)),
            timeout=timeout,
            terminators="" if terminators.lower() == "none" else terminators,
            variable=word(7),
            regexp=word(8),
            digit_timeout=digit or timeout,
        )


@attrs.frozen
class AppPlan:
    """How :mod:`._dialer` runs an application between its EXECUTE and its EXECUTE_COMPLETE.

    ``timed``: ``seconds`` of trio time; ``forever``: until the channel hangs up (``park``,
    ``echo``); ``collect``: ``play_and_get_digits`` (:class:`Collect`); ``invalid``: not an
    application, the channel hangs up instead (no EXECUTE at all).
    """

    kind: Literal["timed", "forever", "collect", "invalid"]
    seconds: float = 0.0
    collect: Collect | None = None


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
        self._first = True
        self._logging = False
        self._parked = False
        self._socket_app_uuid = str(uuid_module.uuid4())
        self.connected = False
        self.myevents = False
        self.divert = False
        self.linger: int | None = None
        self.pending_apps: list[App] = []
        #: The application between its EXECUTE and its EXECUTE_COMPLETE.
        self.running: App | None = None
        #: Digits received and not yet read by an application (``switch_channel_queue_dtmf``).
        self.dtmf_queue: list[str] = []
        #: Digits ``uuid_send_dtmf`` sent out of the channel.
        self.sent_dtmf: list[str] = []
        #: Every event fired for the channel (delivered or not), for assertions.
        self.events: list[EmittedEvent] = []

    @property
    def full(self) -> bool:
        return self.channel.control == "full"

    @property
    def async_mode(self) -> bool:
        return self.channel.mode == "async"

    # -- commands ------------------------------------------------------------------------

    def handle(self, command: OutboundCommand) -> Output:
        """Answer one command: its reply (``done:`` fills an empty one), then what follows."""
        reply, output = self._dispatch(command)
        if reply is not None and not reply[0]:  # done: if (zstr(reply)) "-ERR command not found"
            reply = (_NOT_FOUND, ())
        first, self._first = self._first, False
        if first:  # listener_run runs the first command without writing its reply
            return attrs.evolve(output, after=None) if output.inline else output
        if reply is None:
            return output
        frame = command_reply(reply[0], list(reply[1]))
        if output.inline is not None:
            return attrs.evolve(output, after=frame)
        return Output((frame,)).then(output)

    def _dispatch(self, command: OutboundCommand) -> _Result:
        line = _first_line(command)
        cmd = line.lower() + "\n"  # what strncasecmp sees: the line goes on with its newline
        if cmd.startswith(("exit", "...")):
            return ("+OK bye", ()), Output((self.goodbye(),), close=True, reason="exit")
        for prefix, handler in _SESSION_COMMANDS:
            if cmd.startswith(prefix):
                return handler(self, command, line)
        if not self.full:  # if (LFLAG_OUTBOUND && !LFLAG_FULL) goto done;
            return ("", ()), Output()
        for prefix, handler in _FULL_COMMANDS:
            if cmd.startswith(prefix):
                return handler(self, command, line)
        return ("", ()), Output()

    def _cmd_filter(self, command: OutboundCommand, line: str) -> _Result:
        name, space, value = line[7:].lstrip(" ").partition(" ")
        if name.lower() == "delete" and space:
            header, space, value = value.partition(" ")
            return _text(self._filters.delete(header, value if space else None))
        if not space:
            return _text("-ERR invalid syntax")
        if name.lower() == "add":
            name, space, value = value.partition(" ")
            if not space:
                return _text("-ERR invalid syntax")
        return _text(self._filters.add(name, value))

    def _cmd_resume(self, command: OutboundCommand, line: str) -> _Result:
        self.channel.set_variable("socket_resume", "true")
        return _text("+OK")

    def _cmd_connect(self, command: OutboundCommand, line: str) -> _Result:
        self.connected = True
        headers, _ = self._compose("CHANNEL_DATA", self.channel.headers(profile=True))
        tail = [self.channel._resolve(name, key) for name, key in data.CONNECT_TAIL]
        # No Content-Length: one header block, like switch_event_serialize writes it.
        return None, Output((encode_event(EventFormat.PLAIN, [*headers, *tail]),))

    def _cmd_getvar(self, command: OutboundCommand, line: str) -> _Result:
        _, space, name = line.partition(" ")
        return _text((self.channel.get_variable(name) or "") if space else "")

    def _cmd_myevents(self, command: OutboundCommand, line: str) -> _Result:
        if self.myevents:
            return _text("-ERR aready enabled.")
        self.myevents = True
        self._subs.bind_session(self.channel.uuid)
        if "xml" in command.line or "XML" in command.line:  # strstr, as FreeSWITCH does
            self._subs.format = EventFormat.XML
        if "json" in command.line or "JSON" in command.line:
            self._subs.format = EventFormat.JSON
        return _text("+OK Events Enabled")

    def _cmd_divert(self, command: OutboundCommand, line: str) -> _Result:
        value = line[13:].lstrip(" ")
        if not value:
            return _text("-ERR missing value.")
        self.divert = value.lower() == "on"
        return _text(_DIVERTED[0] if self.divert else _DIVERTED[1])

    def _cmd_sendmsg(self, command: OutboundCommand, line: str) -> _Result:
        target = line[7:].lstrip(" ") or command.header("session-id") or ""
        if target and target != self.channel.uuid:
            return _text(f"-ERR invalid session id [{target}]")
        inline = not (self.async_mode or switch_true(command.header("async")))
        if not self.channel.up:
            return _text("+OK")  # queued to a channel that is going away: nothing runs
        call_command = (command.header("call-command") or "").lower()
        if call_command == "hangup":
            return _text("+OK", self.hangup(command.header("hangup-cause") or "NORMAL_CLEARING"))
        if call_command != "execute":
            return _text("+OK")
        name = command.header("execute-app-name") or ""
        arg = command.header("execute-app-arg") or command.body.decode("utf-8", "replace")
        app_uuid = command.header("Event-UUID") or str(uuid_module.uuid4())
        loops = c_atoi(command.header("loops") or "1")
        if loops == 0:  # for (x = 0; x < loops || loops < 0; x++): never
            return _text("+OK")
        app = App(name, arg, app_uuid, loops)
        if inline:  # switch_ivr_parse_event inside parse_command: +OK once it has finished
            return _text("+OK", Output(inline=app))
        self.pending_apps.append(app)
        return _text("+OK")

    def _cmd_sendevent(self, command: OutboundCommand, line: str) -> _Result:
        return _text(f"+OK {uuid_module.uuid4()}")

    def _cmd_api(self, command: OutboundCommand, line: str) -> _Result:
        name, _, args = line[4:].partition(" ")
        output, after = self._api(name, args)
        return None, Output((api_response(output),)).then(after)

    def _cmd_bgapi(self, command: OutboundCommand, line: str) -> _Result:
        name, space, args = line[6:].partition(" ")
        job = command.header("job-uuid") or str(uuid_module.uuid4())
        body, after = self._api(name, args, background=True)
        extra = [("Job-UUID", job), ("Job-Command", name)]
        if space:
            extra.append(("Job-Command-Arg", args))
        headers, sequence = self._compose("BACKGROUND_JOB", extra)
        event = EmittedEvent("BACKGROUND_JOB", None, headers, body, sequence)
        self.events.append(event)
        return ("+OK Job-UUID: " + job, [("Job-UUID", job)]), self._deliver(event).then(after)

    def _api(self, name: str, args: str, *, background: bool = False) -> tuple[bytes, Output]:
        """An api command's output, and what it did to the channel (``uuid_kill``)."""
        handler = self._api_handlers.get(name)
        if handler is not None:
            result = handler(args)
            if not isinstance(result, str | bytes | None):
                return b"-ERR async api handlers are not supported here\n", Output()
            return frame_output(result, background=background), Output()
        builtin = _BUILTIN_API.get(name)
        if builtin is None:
            return unknown_command(name), Output()
        text, after = builtin(self, args)
        return frame_output(text, background=background), after

    def _own(self, uuid: str) -> bool:
        """``switch_core_session_locate`` of this channel: it fails once it is hung up."""
        return uuid == self.channel.uuid and self.channel.up

    def _api_uuid_kill(self, args: str) -> tuple[str, Output]:
        if not args:
            return "-USAGE: <uuid> [cause]\n", Output()
        target, _, cause = args.partition(" ")
        if not self._own(target):
            return "-ERR No Such Channel!\n", Output()
        return "+OK\n", self.hangup(cause or "NORMAL_CLEARING")

    def _api_uuid_getvar(self, args: str) -> tuple[str, Output]:
        words = args.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <var>\n", Output()
        if not self._own(words[0]):
            return "-ERR No Such Channel!\n", Output()
        return self.channel.get_variable(words[1]) or "_undef_", Output()

    def _api_uuid_setvar(self, args: str) -> tuple[str, Output]:
        words = args.split(" ", 2)
        if len(words) not in (2, 3) or not words[0]:
            return "-USAGE: <uuid> <var> [value]\n", Output()
        if not self._own(words[0]):
            return "-ERR No Such Channel!\n", Output()
        if not words[1]:
            return "-ERR No variable specified\n", Output()
        self.channel.set_variable(words[1], words[2] if len(words) == 3 else None)
        return "+OK\n", Output()

    def _api_uuid_exists(self, args: str) -> tuple[str, Output]:
        return ("true" if self._own(args) else "false"), Output()

    def _api_uuid_send_dtmf(self, args: str) -> tuple[str, Output]:
        target, _, digits = args.partition(" ")
        if not target or not digits:
            return "-USAGE: <uuid> <dtmf_data>\n", Output()
        if not self._own(target):
            return "-ERR Cannot locate session!\n", Output()
        self.sent_dtmf.append(digits)
        return "", Output()  # mod_commands writes nothing: api_exec answers "-ERR no reply"

    def _cmd_log(self, command: OutboundCommand, line: str) -> _Result:
        level = line[4:] if len(line) > 3 else ""
        number = _log_level(level) if level else 7
        if number is None:
            return _text("-ERR invalid log level")
        self._logging = True
        return _text(f"+OK log level {level} [{number}]")

    def _cmd_linger(self, command: OutboundCommand, line: str) -> _Result:
        # "linger" alone lingers for ever; "linger <text>" for atoi(text) seconds.
        seconds = c_atoi(line[7:]) if line[6:7] == " " else -1
        self.linger = seconds
        if seconds == -1:
            return _text("+OK will linger")
        return _text(f"+OK will linger {seconds} seconds")

    def _cmd_nolinger(self, command: OutboundCommand, line: str) -> _Result:
        self.linger = None
        return _text("+OK will not linger")

    def _cmd_nolog(self, command: OutboundCommand, line: str) -> _Result:
        if not self._logging:
            return _text("-ERR not loging")
        self._logging = False
        return _text("+OK no longer logging")

    def _cmd_event(self, command: OutboundCommand, line: str) -> _Result:
        return _text(self._subs.subscribe(_words_after_space(line[5:]), None))

    def _cmd_nixevent(self, command: OutboundCommand, line: str) -> _Result:
        return _text(self._subs.nix(_words_after_space(line[5:])))

    def _cmd_noevents(self, command: OutboundCommand, line: str) -> _Result:
        if self._subs.clear():
            return _text("+OK no longer listening for events")
        return _text("-ERR not listening for events")

    # -- applications --------------------------------------------------------------------

    def plan(self, app: App, durations: Mapping[str, float]) -> AppPlan:
        """What ``app`` does, timed by ``durations`` (seconds by name) unless its input decides
        (``park``, ``echo``, ``play_and_get_digits``).

        * ``answer``: CHANNEL_ANSWER (a ringing channel) before its completion.
        * ``set name=value`` (``set name`` / ``set name=`` unset it), ``export``, ``unset``:
          the variable, before the completion (its event carries ``variable_name``).
        * ``playback``: ``Application-Response: FILE PLAYED`` and the ``playback_*`` variables.
        * ``play_and_get_digits``: :class:`Collect`; mod_dptools' loop: per try, digits (queued
          ones first) until ``max``, a terminator, or the first-digit ``timeout`` / the
          ``digit_timeout`` between digits; a timeout with at least ``min`` digits counts as
          success; success needs the regexp (searched, like PCRE) to match, else
          ``<var>_invalid`` is set and it tries again. Sets ``read_result``,
          ``read_terminator_used`` and ``<var>``. The prompts take no time.
        * ``sleep <ms>``: that long (``app_durations["sleep"]`` wins if set).
        * ``park``, ``echo``: until the channel hangs up (their completion follows CHANNEL_HANGUP).
        * ``hangup [cause]``: the hangup, inside the application (EXECUTE, CHANNEL_HANGUP, ...).
        * ``transfer``, ``bridge`` and the other :data:`KNOWN_APPS`: complete after
          ``durations.get(name, 0)`` with no other effect (no dialplan, no second leg).
        * anything else not in ``durations``: "Invalid Application": no EXECUTE, the channel
          hangs up with ``DESTINATION_OUT_OF_ORDER``.
        """
        name = app.name.lower()
        if name in ("park", "echo"):
            return AppPlan("forever")
        if name == "play_and_get_digits":
            collect = Collect.parse(app.arg)
            return AppPlan("collect", collect=collect) if collect else AppPlan("timed")
        if name in durations:
            return AppPlan("timed", durations[name])
        if name not in KNOWN_APPS:
            return AppPlan("invalid")
        if name == "sleep":
            return AppPlan("timed", max(c_atoi(app.arg), 0) / 1000)
        return AppPlan("timed")

    def invalid_app(self, app: App) -> Output:
        """``switch_core_session_execute_application``: "Invalid Application", hang up."""
        return self.hangup("DESTINATION_OUT_OF_ORDER")

    def start_app(self, app: App, loop: int = 1) -> Output:
        """CHANNEL_EXECUTE of one run (``loop`` of ``app.loops``), as switch_core_session_exec
        fires it; the socket application's CHANNEL_PARK first if it is not parked yet."""
        channel = self.channel
        frames = self._park()
        channel.set_variable("current_loop", str(loop))
        channel.set_variable("total_loops", str(app.loops))
        channel.set_variable("current_application", app.name)
        channel.set_variable("current_application_data", app.arg)
        channel.set_variable("current_application_response", None)
        self.running = app
        event = self._event("CHANNEL_EXECUTE", self._app_headers(app))
        channel.set_variable("current_application", app.name)  # set again once it started
        output = Output(frames).then(self._deliver(event))
        if app.name.lower() == "park":
            output = output.then(self._deliver(self._event("CHANNEL_PARK", [])))
        if app.name.lower() == "hangup":
            output = output.then(self.hangup(app.arg or "NORMAL_CLEARING"))
        return output

    def finish_app(self, app: App, *, played: float = 0.0) -> Output:
        """The application's effects, then its CHANNEL_EXECUTE_COMPLETE."""
        if self.running is not app or not self.channel.up:
            return Output()
        frames: tuple[bytes, ...] = ()
        name, channel = app.name.lower(), self.channel
        if name == "answer" and not channel.answered:
            channel.answered_us = int(self._now() * 1_000_000)
            frames = self._deliver(self._event("CHANNEL_ANSWER", [])).frames
        elif name in ("set", "export"):
            variable, _, value = app.arg.partition("=")
            channel.set_variable(variable.strip(), value or None)
        elif name == "unset":
            channel.set_variable(app.arg.strip(), None)
        elif name == "playback":
            millis = round(played * 1000)
            for key, number in (
                ("playback_last_offset_pos", millis * 8),
                ("playback_seconds", millis // 1000),
                ("playback_ms", millis),
                ("playback_samples", millis * 8),
            ):
                channel.set_variable(key, str(number))
            channel.set_variable("current_application_response", "FILE PLAYED")
        return Output(frames).then(self._complete(app))

    def _complete(self, app: App) -> Output:
        self.running = None
        response = self.channel.get_variable("current_application_response") or "_none_"
        event = self._event("CHANNEL_EXECUTE_COMPLETE", self._app_headers(app, response))
        if self.channel.get_variable("current_loop") == str(app.loops):
            self.channel.set_variable("current_loop", None)
            self.channel.set_variable("total_loops", None)
        return self._deliver(event)

    def _app_headers(self, app: App, response: str | None = None) -> Pairs:
        pairs = [("Application", app.name)]
        if app.arg:
            pairs.append(("Application-Data", app.arg))
        if response is not None:
            pairs.append(("Application-Response", response))
        pairs.append(("Application-UUID", app.app_uuid))
        return pairs

    def read_digits(self, collect: Collect, digits: str, terminator: str, timed_out: bool) -> bool:
        """One try of ``play_and_get_digits`` is over (``switch_ivr_read`` then the loop's
        checks): sets the variables; True when the application is done with success."""
        channel, variable = self.channel, collect.variable
        channel.set_variable("read_result", None)
        if variable:
            channel.set_variable(variable, None)
        if terminator:
            channel.set_variable("read_terminator_used", terminator)
        too_small = collect.min_digits and len(digits) < collect.min_digits
        status = "failure" if too_small else ("timeout" if timed_out else "success")
        channel.set_variable("read_result", status)
        if variable and digits:
            channel.set_variable(variable, digits)
        if status == "timeout":
            status = "success"  # a timeout with enough digits is a success (pagd)
        if not collect.min_digits and not digits and channel.get_variable("read_terminator_used"):
            return True
        if status == "success" and digits:
            if not collect.regexp or re.search(collect.regexp, digits):
                return True
            channel.set_variable(variable, None)
            if variable:
                channel.set_variable(f"{variable}_invalid", digits)
        return False

    def start_collect(self, collect: Collect) -> None:
        if collect.regexp and collect.variable:
            self.channel.set_variable(f"{collect.variable}_invalid", None)

    def _park(self) -> tuple[bytes, ...]:
        """The socket application's park (async mode, once ``connect`` came: socket_function
        waits for LFLAG_CONNECTED), fired once, before what needs it."""
        if self._parked or not self.async_mode or not self.connected:
            return ()
        self._parked = True
        return self._deliver(self._event("CHANNEL_PARK", [])).frames

    # -- the channel ---------------------------------------------------------------------

    def dtmf(self, digit: str, duration: int) -> Output:
        """A digit arrives: queued for an application, and its DTMF event."""
        if not self.channel.up:
            return Output()
        self.dtmf_queue.append(digit)
        extra = [("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", "RTP")]
        return self._deliver(self._event("DTMF", extra))

    def emit(self, name: str, extra: Pairs, body: bytes = b"") -> Output:
        """Any event about this channel (channel headers first, then ``extra``)."""
        return self._deliver(self._event(name, extra, body))

    def hangup(self, cause: str) -> Output:
        """The channel goes down (see the module docstring for what follows)."""
        channel = self.channel
        if not channel.up:
            return Output()
        frames = list(self._park())
        channel.hangup_cause, channel.phase = cause, "hangup"
        channel.hangup_us = int(self._now() * 1_000_000)
        self.pending_apps.clear()
        frames += self._deliver(self._event("CHANNEL_HANGUP", [])).frames
        if self.running is not None:  # the application returns with the channel
            if self.running.name.lower() == "park":
                frames += self._deliver(self._event("CHANNEL_UNPARK", [])).frames
            frames += self._complete(self.running).frames
        if self.async_mode:
            frames += self._after_hangup()
        if self.linger is None:
            return Output((*frames, self.goodbye()), close=True, reason="hangup")
        return Output((*frames, self.linger_notice()), linger=self.linger)

    def _after_hangup(self) -> tuple[bytes, ...]:
        """The socket application returns and the state machine reports (fixture ``34``)."""
        channel, frames = self.channel, list[bytes]()
        if self._parked:
            frames += self._deliver(self._event("CHANNEL_UNPARK", [])).frames
        socket = App("socket", channel.socket_data, self._socket_app_uuid)
        frames += self._deliver(
            self._event("CHANNEL_EXECUTE_COMPLETE", self._app_headers(socket, "_none_"))
        ).frames
        phases: tuple[Phase, ...] = ("cs_hangup", "reporting")
        for phase in phases:
            channel.phase = phase
            frames += self._deliver(self._event("CHANNEL_STATE", [], variables=False)).frames
        for name, value in channel.cdr_variables():
            channel.set_variable(name, value)
        cause = [("Hangup-Cause", channel.hangup_cause or "")]
        complete = self._event("CHANNEL_HANGUP_COMPLETE", [], pre=cause)
        frames += self._deliver(complete).frames
        return tuple(frames)

    def closed(self) -> None:
        """The socket closed: what FreeSWITCH fires once the listener let go of the session
        (never written: the socket is gone)."""
        if self.channel.up:
            return
        if not self.async_mode and self.channel.phase == "hangup":
            self._after_hangup()
        if not any(event.name == "CHANNEL_DESTROY" for event in self.events):
            self._event("CHANNEL_DESTROY", [])

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

    def _event(
        self,
        name: str,
        extra: Pairs,
        body: bytes = b"",
        *,
        variables: bool = True,
        pre: Sequence[tuple[str, str]] = (),
    ) -> EmittedEvent:
        block = self.channel.headers(variables=variables)
        headers, sequence = self._compose(name, [*pre, *block, *extra])
        event = EmittedEvent(name, None, headers, body, sequence)
        self.events.append(event)
        return event

    def _deliver(self, event: EmittedEvent) -> Output:
        """The event's frame if this socket listens for it (``event_handler``'s checks)."""
        if not (
            self._subs.accepts(event.name, event.subclass)
            and self._filters.accepts(event.header)
            and self._subs.accepts_channel(event.header("Unique-ID"), None)
        ):
            return Output()
        return Output((event.frame(self._subs.format),))


def _text(text: str, output: Output | None = None) -> _Result:
    return (text, ()), output or Output()


def _words_after_space(rest: str) -> list[str]:
    """``cur = strchr(cur, ' ')`` then words split on single spaces (empty ones dropped)."""
    _, space, words = rest.partition(" ")
    return [word for word in words.split(" ") if word] if space else []


def _log_level(text: str) -> int | None:
    """``switch_log_str2level``: a number (clamped to 0..63) or a level name; None: invalid."""
    if text.lstrip("-").isdigit():
        return min(max(int(text), 0), 63)
    lowered = text.lower()
    return LOG_LEVEL_NAMES.index(lowered) if lowered in LOG_LEVEL_NAMES else None


def _channel_name() -> str:
    return dict(data.CHANNEL)["Channel-Name"][1:]


def check_value(name: str, value: str) -> None:
    """Refuse CR, LF and NUL in a value a test hands over (they would forge frames)."""
    if any(c in value for c in "\r\n\0"):
        raise LocalProtocolError(f"{name} must not contain CR, LF or NUL: {value!r}")


_Handler: TypeAlias = Callable[[OutboundSession, OutboundCommand, str], _Result]

#: parse_command's checks before the single-channel stop, in its order (lower-case prefixes).
_SESSION_COMMANDS: Final[tuple[tuple[str, _Handler], ...]] = (
    ("filter ", OutboundSession._cmd_filter),
    ("resume", OutboundSession._cmd_resume),
    ("connect", OutboundSession._cmd_connect),
    ("getvar", OutboundSession._cmd_getvar),
    ("myevents", OutboundSession._cmd_myevents),
    ("divert_events", OutboundSession._cmd_divert),
    ("sendmsg", OutboundSession._cmd_sendmsg),
)
#: The commands of ``Control: full`` only, in parse_command's order.
_FULL_COMMANDS: Final[tuple[tuple[str, _Handler], ...]] = (
    ("sendevent", OutboundSession._cmd_sendevent),
    ("api ", OutboundSession._cmd_api),
    ("bgapi ", OutboundSession._cmd_bgapi),
    ("log", OutboundSession._cmd_log),
    ("linger", OutboundSession._cmd_linger),
    ("nolinger", OutboundSession._cmd_nolinger),
    ("nolog", OutboundSession._cmd_nolog),
    ("event", OutboundSession._cmd_event),
    ("nixevent", OutboundSession._cmd_nixevent),
    ("noevents", OutboundSession._cmd_noevents),
)
_BUILTIN_API: Final[dict[str, Callable[[OutboundSession, str], tuple[str, Output]]]] = {
    "uuid_kill": OutboundSession._api_uuid_kill,
    "uuid_getvar": OutboundSession._api_uuid_getvar,
    "uuid_setvar": OutboundSession._api_uuid_setvar,
    "uuid_exists": OutboundSession._api_uuid_exists,
    "uuid_send_dtmf": OutboundSession._api_uuid_send_dtmf,
}
