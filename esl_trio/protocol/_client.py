"""The client side of one Event Socket connection, as a sans-I/O state machine.

:class:`ClientProtocol` turns received bytes into typed messages and typed commands into
bytes, and enforces the rules of the conversation:

* nothing but ``auth``/``userauth``/``exit`` may be sent before ``+OK accepted``, and ``auth``
  only after the server's ``auth/request`` (B-CONN-4, B-AUTH-4);
* replies carry no ids (B-API-2/3): it counts the commands awaiting a reply and checks that each
  reply has the kind its command expects (``api`` gets ``api/response``, or a ``command/reply``
  ``-ERR permission denied`` under userauth, B-AUTH-6). A reply with nothing waiting, or of the
  wrong kind, means the stream is desynchronised: a :class:`RemoteProtocolError`;
* a second ``auth/request`` after authentication is a protocol error (B-CONN-15 [REC]).

Errors are sticky, like h11: after a RemoteProtocolError the state is ``ERROR`` and every call
raises it again.
"""

from __future__ import annotations

import enum
from collections import deque

from ._commands import Auth, Command, Exit, ReplyKind, UserAuth
from ._errors import LocalProtocolError, RemoteProtocolError
from ._frames import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, FrameParser
from ._messages import ApiReply, AuthRequest, CommandReply, Message, classify
from ._sentinels import CONNECTION_CLOSED, NEED_DATA, Sentinel

__all__ = ["ClientProtocol", "ClientState"]


class ClientState(enum.Enum):
    """Where the conversation stands."""

    AWAIT_AUTH_REQUEST = "await-auth-request"  #: connected, greeting not yet read
    AUTH_REQUESTED = "auth-requested"  #: greeting read, credentials not yet sent
    AUTHENTICATING = "authenticating"  #: credentials sent, reply pending
    AUTHENTICATED = "authenticated"  #: ``+OK accepted``: any command may be sent
    AUTH_REJECTED = "auth-rejected"  #: ``-ERR`` to the credentials; the server will close
    CLOSED = "closed"  #: end of stream seen
    ERROR = "error"  #: the peer broke the protocol (sticky)


_PRE_AUTH_OK = (Auth, UserAuth, Exit)


class ClientProtocol:
    """Bytes ↔ messages for the client role. No I/O, no clock."""

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._parser = FrameParser(max_header_bytes=max_header_bytes, max_body_bytes=max_body_bytes)
        self.state = ClientState.AWAIT_AUTH_REQUEST
        self._waiting: deque[tuple[ReplyKind, bool]] = deque()  # (reply kind, is credentials)
        self._error: RemoteProtocolError | None = None

    @property
    def replies_pending(self) -> int:
        """Commands sent whose reply has not been received yet."""
        return len(self._waiting)

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as messages."""
        return self._parser.buffered_bytes

    def send(self, command: Command) -> bytes:
        """The bytes for ``command``; :class:`LocalProtocolError` if it may not be sent now."""
        self._check_can_send(command)
        data = command.to_bytes()
        credentials = isinstance(command, Auth | UserAuth)
        self._waiting.append((command.reply_kind, credentials))
        if credentials:
            self.state = ClientState.AUTHENTICATING
        return data

    def _check_can_send(self, command: Command) -> None:
        state = self.state
        if state is ClientState.AUTHENTICATED:
            if isinstance(command, Auth | UserAuth):
                raise LocalProtocolError("already authenticated")
            return
        if state in (ClientState.CLOSED, ClientState.ERROR, ClientState.AUTH_REJECTED):
            raise LocalProtocolError(f"cannot send {command.verb!r}: connection is {state.value}")
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
            if self.state is not ClientState.AWAIT_AUTH_REQUEST:
                raise RemoteProtocolError(f"unexpected auth/request while {self.state.value}")
            self.state = ClientState.AUTH_REQUESTED
        return message

    def _match_reply(self, reply: CommandReply | ApiReply) -> None:
        if not self._waiting:
            raise RemoteProtocolError(f"reply with no command waiting for it: {reply!r}"[:200])
        kind, credentials = self._waiting.popleft()
        if isinstance(reply, ApiReply) and kind is not ReplyKind.API_RESPONSE:
            raise RemoteProtocolError("api/response received for a command that is not api")
        if credentials and isinstance(reply, CommandReply):
            self.state = (
                ClientState.AUTHENTICATED if reply.is_auth_accepted else ClientState.AUTH_REJECTED
            )
