"""What the fake answers to each command, with FreeSWITCH's exact reply texts (B-REPLY-2).

:func:`execute` returns the frames to write for one command; the session writes them in command
order (B-WIRE-6). Texts are those of ``mod_event_socket.c`` and the recorded fixtures, typos
included (``-ERR not loging``, ``-ERR aready enabled.``). What a command needs from the server
goes through :class:`CommandHost`, so this module does not import the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Final, Protocol, TypeAlias

import attrs

from esl_trio.protocol import (
    Api,
    Auth,
    BgApi,
    DivertEvents,
    EventSubscribe,
    Exit,
    FilterAdd,
    FilterDelete,
    InvalidCommand,
    Linger,
    Log,
    MyEvents,
    NixEvent,
    NoEvents,
    NoLinger,
    NoLog,
    SendEvent,
    SendMsg,
    UnknownCommand,
    UserAuth,
)
from esl_trio.protocol._commands import LOG_LEVEL_NAMES
from esl_trio.protocol.server import GOODBYE, api_response, command_reply, disconnect_notice

from ._connection import FakeConnection
from ._faults import ReceivedCommand, command_line, command_verb
from ._subscriptions import Permissions, UserCredentials

__all__ = ["CommandHost", "Reply", "execute"]

NOT_FOUND: Final = "-ERR command not found"
DENIED: Final = "-ERR permission denied"
NO_SESSION: Final = "-ERR not controlling a session"


class CommandHost(Protocol):
    """What executing a command needs from the server (``FakeFreeSwitch`` satisfies it)."""

    @property
    def password(self) -> str: ...
    @property
    def users(self) -> Mapping[str, UserCredentials]: ...
    @property
    def channels(self) -> Collection[str]: ...
    def _take_auth_rejection(self) -> bool: ...
    def _on_authenticated(self, conn: FakeConnection) -> None: ...
    async def _run_api(self, command: str, args: str, *, background: bool) -> bytes: ...
    def _start_job(self, command: BgApi) -> None: ...
    def _reload_event_socket(self, job_uuid: str) -> None: ...
    def _fire_sendevent(self, command: SendEvent, event_uuid: str) -> object: ...


@attrs.frozen
class Reply:
    """Frames to write for one command, and whether the connection ends after them."""

    frames: tuple[bytes, ...]
    close: bool = False
    reason: str | None = None
    #: Run once the frames are written (the module reload that kills every listener).
    after: Callable[[], None] | None = None

    @classmethod
    def text(cls, text: str, extra: list[tuple[str, str]] | None = None) -> Reply:
        return cls((command_reply(text, extra or ()),))

    @classmethod
    def goodbye(cls, text: str, reason: str) -> Reply:
        """A reply, the goodbye notice, then close (exit, failed auth: B-AUTH-2, B-CMD-1)."""
        return cls((command_reply(text), disconnect_notice(GOODBYE)), close=True, reason=reason)


Handler: TypeAlias = Callable[[CommandHost, FakeConnection, Any], Awaitable[Reply]]


async def execute(server: CommandHost, conn: FakeConnection, command: ReceivedCommand) -> Reply:
    """Run one command and build its reply."""
    if isinstance(command, Exit):
        return Reply.goodbye("+OK bye", "exit")
    if not conn.authenticated:
        return _before_auth(server, conn, command)
    if _reloads_event_socket(command):
        return _reload_event_socket(server, conn)
    handler = _HANDLERS.get(type(command))
    if handler is None:  # Auth/UserAuth again, and anything unmodelled
        return Reply.text(NOT_FOUND)
    return await handler(server, conn, command)


# -- authentication (B-AUTH-*) -----------------------------------------------------------------


def _before_auth(server: CommandHost, conn: FakeConnection, command: ReceivedCommand) -> Reply:
    """Only auth, userauth and exit are honoured before auth (B-AUTH-4)."""
    if isinstance(command, Auth):
        return _authenticate(server, conn, command.password == server.password, None)
    if isinstance(command, UserAuth):
        return _userauth(server, conn, command)
    if isinstance(command, InvalidCommand) and command_verb(command) in ("auth", "userauth"):
        return Reply.goodbye("-ERR invalid", "auth failed")
    return Reply.text(NOT_FOUND)


def _userauth(server: CommandHost, conn: FakeConnection, command: UserAuth) -> Reply:
    """Directory user check; the reply carries the user's rights (B-AUTH-5)."""
    key = f"{command.user}@{command.domain}"
    credentials = server.users.get(key)
    if credentials is None or credentials.password != command.password:
        return _authenticate(server, conn, False, None)
    reply = _authenticate(server, conn, True, key)
    if not conn.authenticated:
        return reply
    conn._permissions = Permissions.from_credentials(credentials)
    return Reply.text("+OK accepted", credentials.reply_headers())


def _authenticate(server: CommandHost, conn: FakeConnection, ok: bool, user: str | None) -> Reply:
    if ok and server._take_auth_rejection():
        ok = False
    if not ok:
        return Reply.goodbye("-ERR invalid", "auth failed")
    conn.authenticated = True
    conn.user = user
    server._on_authenticated(conn)
    return Reply.text("+OK accepted")


# -- api / bgapi (B-APIW-*, B-BGW-*) -----------------------------------------------------------


def _api_denied(conn: FakeConnection, command: str, args: str) -> bool:
    permissions = conn._permissions
    return permissions is not None and not permissions.allows_api(command, args)


async def _api(server: CommandHost, conn: FakeConnection, command: Api) -> Reply:
    if _api_denied(conn, command.command, command.args):
        return Reply.text(DENIED)  # a command/reply, not an api/response (B-AUTH-6)
    output = await server._run_api(command.command, command.args, background=False)
    return Reply((api_response(output),))


async def _bgapi(server: CommandHost, conn: FakeConnection, command: BgApi) -> Reply:
    if _api_denied(conn, command.command, command.args):
        return Reply.text(DENIED)
    server._start_job(command)
    job = command.job_uuid
    return Reply.text(f"+OK Job-UUID: {job}", [("Job-UUID", job)])


def _reloads_event_socket(command: ReceivedCommand) -> bool:
    """mod_event_socket's ``parse_command`` turns *any* line that contains both ``reload`` and
    ``mod_event_socket`` (case-insensitively) into ``api bgapi reload mod_event_socket``."""
    line = command_line(command).lower()
    return "reload" in line and "mod_event_socket" in line


def _reload_event_socket(server: CommandHost, conn: FakeConnection) -> Reply:
    """The api/response of mod_commands' ``bgapi`` (its own Job-UUID: a client ``Job-UUID``
    header is not used), then the reload kills every listener (fixture ``35``)."""
    if _api_denied(conn, "bgapi", "reload mod_event_socket"):
        return Reply.text(DENIED)
    job_uuid = str(uuid.uuid4())
    output = f"+OK Job-UUID: {job_uuid}\n"
    return Reply((api_response(output),), after=lambda: server._reload_event_socket(job_uuid))


# -- subscriptions and filters (B-SUBW-*) ------------------------------------------------------


def _event_words(command: EventSubscribe | NixEvent) -> list[str]:
    words = list(command.names)
    if command.custom:
        words += ["CUSTOM", *command.custom]
    if isinstance(command, EventSubscribe):
        words.insert(0, command.format.value)
    return words


def _raw_words(line: str) -> list[str]:
    return [word for word in line.split(" ")[1:] if word]


async def _event(server: CommandHost, conn: FakeConnection, command: EventSubscribe) -> Reply:
    return Reply.text(conn._subs.subscribe(_event_words(command), conn._permissions))


async def _nixevent(server: CommandHost, conn: FakeConnection, command: NixEvent) -> Reply:
    return Reply.text(conn._subs.nix(_event_words(command)))


async def _noevents(server: CommandHost, conn: FakeConnection, command: NoEvents) -> Reply:
    conn._discard_events()
    if conn._subs.clear():
        return Reply.text("+OK no longer listening for events")
    return Reply.text("-ERR not listening for events")


async def _filter_add(server: CommandHost, conn: FakeConnection, command: FilterAdd) -> Reply:
    return Reply.text(conn._filters.add(command.header, command.value))


async def _filter_delete(server: CommandHost, conn: FakeConnection, command: FilterDelete) -> Reply:
    return Reply.text(conn._filters.delete(command.header, command.value))


# -- log (B-CMD-5) -----------------------------------------------------------------------------


async def _log(server: CommandHost, conn: FakeConnection, command: Log) -> Reply:
    if conn._permissions is not None and not conn._permissions.log:
        return Reply.text(DENIED)
    level = command.level
    number = level if isinstance(level, int) else LOG_LEVEL_NAMES.index(level.lower())
    conn.log_level = number
    return Reply.text(f"+OK log level {level} [{number}]")


async def _nolog(server: CommandHost, conn: FakeConnection, command: NoLog) -> Reply:
    if conn.log_level is None:
        return Reply.text("-ERR not loging")
    conn.log_level = None
    conn._discard_logs()
    return Reply.text("+OK no longer logging")


# -- sendevent / sendmsg (B-CMD-6/7) -----------------------------------------------------------


async def _sendevent(server: CommandHost, conn: FakeConnection, command: SendEvent) -> Reply:
    event_uuid = str(uuid.uuid4())
    server._fire_sendevent(command, event_uuid)
    return Reply.text(f"+OK {event_uuid}")


async def _sendmsg(server: CommandHost, conn: FakeConnection, command: SendMsg) -> Reply:
    if command.uuid not in server.channels:  # a bare sendmsg (uuid None) names no channel here
        return Reply.text(f"-ERR invalid session id [{command.uuid or ''}]")
    return Reply.text("+OK")


# -- session-bound commands on an inbound socket (B-CMD-2/3/4) ---------------------------------


async def _myevents(server: CommandHost, conn: FakeConnection, command: MyEvents) -> Reply:
    """Bind to a channel; an unknown uuid is refused only when a format was given."""
    if conn._subs.myevents:
        return Reply.text("-ERR aready enabled.")
    known = command.uuid in server.channels
    if not known and command.format is not None:
        return Reply.text("-ERR invalid uuid")
    conn.session_uuid = command.uuid if known else None
    if command.format is not None:
        conn._subs.format = command.format
    conn._subs.bind_session(conn.session_uuid)
    return Reply.text("+OK Events Enabled")


async def _divert(server: CommandHost, conn: FakeConnection, command: DivertEvents) -> Reply:
    if conn.session_uuid is None:
        return Reply.text(NO_SESSION + ".")
    return Reply.text("+OK events diverted" if command.on else "+OK events not diverted")


async def _linger(server: CommandHost, conn: FakeConnection, command: Linger) -> Reply:
    if conn.session_uuid is None:
        return Reply.text(NO_SESSION)
    conn.linger = -1 if command.seconds is None else command.seconds
    if command.seconds is None:
        return Reply.text("+OK will linger")
    return Reply.text(f"+OK will linger {command.seconds} seconds")


async def _nolinger(server: CommandHost, conn: FakeConnection, command: NoLinger) -> Reply:
    if conn.session_uuid is None:
        return Reply.text(NO_SESSION)
    conn.linger = None
    return Reply.text("+OK will not linger")


# -- what the typed parser could not read ------------------------------------------------------


async def _unknown(server: CommandHost, conn: FakeConnection, command: UnknownCommand) -> Reply:
    """FreeSWITCH matches ``event`` by prefix, so ``events plain ALL`` subscribes (B-CMD-8)."""
    if command.line.lower().startswith("event"):
        return Reply.text(conn._subs.subscribe(_raw_words(command.line), conn._permissions))
    return Reply.text(NOT_FOUND)


async def _invalid(server: CommandHost, conn: FakeConnection, command: InvalidCommand) -> Reply:
    """Re-read the words where FreeSWITCH is laxer than the typed parser; else its reply text."""
    verb = command_verb(command)
    if verb == "event":  # no format word, or no name: FreeSWITCH still applies what it can
        return Reply.text(conn._subs.subscribe(_raw_words(command.line), conn._permissions))
    if verb == "nixevent":
        return Reply.text(conn._subs.nix(_raw_words(command.line)))
    if verb in ("divert_events", "linger") and conn.session_uuid is None:
        return Reply.text(NO_SESSION + ("." if verb == "divert_events" else ""))
    if verb in ("auth", "userauth"):
        return Reply.text(NOT_FOUND)
    if verb == "log" and conn._permissions is not None and not conn._permissions.log:
        return Reply.text(DENIED)
    return Reply.text(command.reply_text)


_HANDLERS: Final[dict[type, Handler]] = {
    Api: _api,
    BgApi: _bgapi,
    EventSubscribe: _event,
    NixEvent: _nixevent,
    NoEvents: _noevents,
    FilterAdd: _filter_add,
    FilterDelete: _filter_delete,
    Log: _log,
    NoLog: _nolog,
    SendEvent: _sendevent,
    SendMsg: _sendmsg,
    MyEvents: _myevents,
    DivertEvents: _divert,
    Linger: _linger,
    NoLinger: _nolinger,
    UnknownCommand: _unknown,
    InvalidCommand: _invalid,
}
