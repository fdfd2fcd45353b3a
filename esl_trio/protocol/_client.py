"""The client side of one Event Socket connection, as a sans-I/O state machine.

:class:`ClientProtocol` turns received bytes into typed messages and typed commands into
bytes, and enforces the rules of the conversation:

* nothing but ``auth``/``userauth``/``exit`` may be sent before ``+OK accepted``, and ``auth``
  only after the server's ``auth/request`` (B-CONN-4, B-AUTH-4);
* replies carry no ids (B-API-2/3): it keeps the one queue of commands awaiting a reply, in
  wire order, and checks that each reply has the kind its command expects (``api`` gets
  ``api/response``, or a ``command/reply`` ``-ERR permission denied`` under userauth, B-AUTH-6;
  a ``bgapi`` may be accepted by an ``api/response`` ``+OK Job-UUID: …``, as FreeSWITCH does
  when ``reload mod_event_socket`` tears the listener down). A reply with nothing waiting, or of
  the wrong kind, means the stream is desynchronised: a :class:`RemoteProtocolError`;
* every reply consumes exactly one queue entry, and the caller gets back the *token* it passed
  to :meth:`ClientProtocol.send` with that command (:attr:`ClientProtocol.answered`), so an
  I/O layer never keeps a second queue in step by convention;
* a second ``auth/request`` after authentication is a protocol error (B-CONN-15 [REC]).

Outbound mode (``ClientProtocol(outbound=True)``: FreeSWITCH dialled us for one channel) has no
greeting and no credentials: the first command must be ``connect``, whose reply
(:class:`ChannelData`) opens the conversation; an ``auth/request`` there is a protocol error.

Errors are sticky, like h11: after a RemoteProtocolError the state is ``ERROR`` and every call
raises it again.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Generic, TypeVar

from ._commands import Auth, Command, Connect, Exit, ReplyKind, UserAuth
from ._errors import LocalProtocolError, RemoteProtocolError
from ._frames import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, FrameParser
from ._messages import ApiReply, AuthRequest, ChannelData, CommandReply, Message, classify
from ._sentinels import CONNECTION_CLOSED, NEED_DATA, Sentinel

__all__ = ["Answered", "ClientProtocol", "ClientState"]

TokenT = TypeVar("TokenT")


class ClientState(enum.Enum):
    """Where the conversation stands."""

    AWAIT_AUTH_REQUEST = "await-auth-request"  #: connected, greeting not yet read
    AUTH_REQUESTED = "auth-requested"  #: greeting read, credentials not yet sent
    AUTHENTICATING = "authenticating"  #: credentials sent, reply pending
    AUTHENTICATED = "authenticated"  #: ``+OK accepted``: any command may be sent
    AUTH_REJECTED = "auth-rejected"  #: ``-ERR`` to the credentials; the server will close
    AWAIT_CONNECT = "await-connect"  #: outbound: ``connect`` not yet sent
    CONNECTING = "connecting"  #: outbound: ``connect`` sent, channel data pending
    CONNECTED = "connected"  #: outbound: channel data read: any command may be sent
    CLOSED = "closed"  #: end of stream seen
    ERROR = "error"  #: the peer broke the protocol (sticky)


_PRE_AUTH_OK = (Auth, UserAuth, Exit)
_PRE_CONNECT_OK = (Connect, Exit)
_OPEN = (ClientState.AUTHENTICATED, ClientState.CONNECTED)
_JOB_ACCEPTED = "+OK Job-UUID:"


class Answered(Generic[TokenT]):
    """A command awaiting its reply, and its token; ``answered`` after the reply came.

    A plain slotted class, not attrs: one is made per command on the hot path.
    """

    __slots__ = ("command", "credentials", "token")

    def __init__(self, command: Command, token: TokenT | None, credentials: bool) -> None:
        self.command = command
        self.token = token
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"Answered({self.command.describe()!r}, token={self.token!r})"


class ClientProtocol(Generic[TokenT]):
    """Bytes ↔ messages for the client role. No I/O, no clock.

    ``TokenT`` is whatever the I/O layer wants back with each reply (a reply slot, a future);
    the protocol only stores it. ``outbound=True``: the socket FreeSWITCH opened to us for a
    call (no auth; ``connect`` first).
    """

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        outbound: bool = False,
    ) -> None:
        self._parser = FrameParser(max_header_bytes=max_header_bytes, max_body_bytes=max_body_bytes)
        self.outbound = outbound
        self.state = ClientState.AWAIT_CONNECT if outbound else ClientState.AWAIT_AUTH_REQUEST
        self._waiting: deque[Answered[TokenT]] = deque()
        self._error: RemoteProtocolError | None = None
        #: After ``next_event`` returned a reply: the command it answers and that command's
        #: token. None before the first reply.
        self.answered: Answered[TokenT] | None = None

    @property
    def replies_pending(self) -> int:
        """Commands sent whose reply has not been received yet."""
        return len(self._waiting)

    def pending_tokens(self) -> list[TokenT | None]:
        """The tokens of the commands awaiting a reply, oldest first (a copy)."""
        return [pending.token for pending in self._waiting]

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as messages."""
        return self._parser.buffered_bytes

    def send(self, command: Command, token: TokenT | None = None) -> bytes:
        """The bytes for ``command``; :class:`LocalProtocolError` if it may not be sent now.

        ``token`` comes back in :attr:`answered` with the reply to this command. Send the
        bytes in the order of these calls: that order is the order replies are matched in.
        """
        self._check_can_send(command)
        data = command.to_bytes()
        credentials = isinstance(command, Auth | UserAuth)
        self._waiting.append(Answered(command, token, credentials))
        if credentials:
            self.state = ClientState.AUTHENTICATING
        elif self.state is ClientState.AWAIT_CONNECT and isinstance(command, Connect):
            self.state = ClientState.CONNECTING
        return data

    def _check_can_send(self, command: Command) -> None:
        state = self.state
        if state in _OPEN:
            if isinstance(command, Auth | UserAuth):
                raise LocalProtocolError(
                    "an outbound socket takes no credentials"
                    if self.outbound
                    else "already authenticated"
                )
            return
        if state in (ClientState.CLOSED, ClientState.ERROR, ClientState.AUTH_REJECTED):
            raise LocalProtocolError(f"cannot send {command.verb!r}: connection is {state.value}")
        if self.outbound:
            if state is ClientState.AWAIT_CONNECT and isinstance(command, _PRE_CONNECT_OK):
                return
            raise LocalProtocolError(
                f"cannot send {command.verb!r} while {state.value}: connect comes first and"
                " alone on an outbound socket"
            )
        if not isinstance(command, _PRE_AUTH_OK):
            raise LocalProtocolError(f"cannot send {command.verb!r} before authentication")
        if isinstance(command, Auth | UserAuth) and state is not ClientState.AUTH_REQUESTED:
            raise LocalProtocolError(f"cannot send credentials while {state.value}")

    def receive_data(self, data: bytes | bytearray) -> None:
        """Feed received bytes; ``b""`` means the peer closed the stream."""
        self._parser.feed(data)

    def next_event(self) -> Message | Sentinel:
        """The next message, :data:`NEED_DATA`, or :data:`CONNECTION_CLOSED` after a clean EOF."""
        if self._error is not None:
            raise self._error
        try:
            frame = self._parser.next_frame()
            if frame is None:
                if self._parser.at_eof:
                    self.state = ClientState.CLOSED
                    return CONNECTION_CLOSED
                return NEED_DATA
            return self._track(classify(frame))
        except RemoteProtocolError as exc:
            self._error = exc
            self.state = ClientState.ERROR
            raise

    def _track(self, message: Message) -> Message:
        if isinstance(message, CommandReply | ApiReply):
            self._match_reply(message)
        elif isinstance(message, AuthRequest):
            if self.outbound or self.state is not ClientState.AWAIT_AUTH_REQUEST:
                raise RemoteProtocolError(f"unexpected auth/request while {self.state.value}")
            self.state = ClientState.AUTH_REQUESTED
        return message

    def _match_reply(self, reply: CommandReply | ApiReply) -> None:
        if not self._waiting:
            raise RemoteProtocolError(f"reply with no command waiting for it: {reply!r}"[:200])
        pending = self._waiting[0]
        if isinstance(reply, ApiReply) and not _api_response_fits(pending.command, reply):
            # Checked before the entry is consumed: its token must stay pending, so the I/O
            # layer can still fail it when it closes the desynchronised connection.
            raise RemoteProtocolError(
                f"api/response received for {pending.command.verb!r}, which expects a command/reply"
            )
        self._waiting.popleft()
        self.answered = pending
        if self.state is ClientState.CONNECTING and isinstance(pending.command, Connect):
            if not isinstance(reply, ChannelData):
                raise RemoteProtocolError(f"connect answered without channel data: {reply!r}"[:200])
            self.state = ClientState.CONNECTED
        elif pending.credentials and isinstance(reply, CommandReply):
            self.state = (
                ClientState.AUTHENTICATED if reply.is_auth_accepted else ClientState.AUTH_REJECTED
            )


def _api_response_fits(command: Command, reply: ApiReply) -> bool:
    """An api/response answers ``api`` — and a ``bgapi`` when it carries the acceptance."""
    if command.reply_kind is ReplyKind.API_RESPONSE:
        return True
    return command.verb == "bgapi" and reply.text.startswith(_JOB_ACCEPTED)
