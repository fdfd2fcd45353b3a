"""Exit codes, the CLI's own error, and the mapping from runtime exceptions to both.

Every failure a user can cause or meet ends as one line on stderr — what happened, then what
to do — and an exit code from :class:`ExitCode`. No traceback reaches the user unless
``ESL_TRIO_DEBUG`` is set.
"""

from __future__ import annotations

import enum
import errno
import socket

from .._errors import (
    AuthenticationError,
    BackpressureError,
    CommandError,
    CommandTimeoutError,
    ConnectError,
    ConnectionLostError,
    DrainError,
    HandshakeError,
    NotReadyError,
    UnknownEventNameError,
)
from ..protocol import EslError, LocalProtocolError, ProtocolError

__all__ = [
    "CHECK_URL",
    "CliError",
    "ExitCode",
    "TcpConnectError",
    "classify",
    "classify_record",
    "redact",
    "register_secret",
]

CHECK_URL = "(check --url / ESL_TRIO_URL)"
_SECRETS: set[str] = set()


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  #: the command ran and failed (-ERR output, timeout, rejected)
    USAGE = 2  #: bad arguments or --url
    UNREACHABLE = 3  #: refused, unreachable, unknown host, connection lost
    AUTH = 4  #: FreeSWITCH rejected the credentials
    PROTOCOL = 5  #: not an event socket, ACL rejection, invalid data, no greeting
    INTERRUPTED = 130  #: Ctrl-C (SIGTERM gives 143)


class CliError(Exception):
    """A failure with a user-facing message and an exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TcpConnectError(ConnectError):
    """A TCP connect failure that remembers why (the runtime keeps only the message)."""

    def __init__(self, address: str, kind: str, detail: str) -> None:
        super().__init__(f"cannot connect to {address}: {detail}")
        self.kind = kind  # "refused", "dns", "unreachable", "timeout"
        self.detail = detail

    @classmethod
    def from_os_error(cls, address: str, error: BaseException | None) -> TcpConnectError:
        leaves = _os_errors(error)
        if any(isinstance(e, socket.gaierror) for e in leaves):
            return cls(address, "dns", "unknown host")
        codes = {e.errno for e in leaves if isinstance(e, OSError)}
        if errno.ECONNREFUSED in codes:
            return cls(address, "refused", "connection refused")
        if errno.ETIMEDOUT in codes:
            return cls(address, "timeout", "timed out")
        reason = next((e.strerror for e in leaves if isinstance(e, OSError) and e.strerror), None)
        return cls(address, "unreachable", (reason or str(error) or "unreachable").lower())


def _os_errors(error: BaseException | None) -> list[BaseException]:
    """The OSErrors behind ``error``: trio wraps one per address tried in a group."""
    if error is None:
        return []
    found: list[BaseException] = [error]
    cause = error.__cause__
    if isinstance(cause, BaseExceptionGroup):
        for inner in cause.exceptions:
            found.extend(_os_errors(inner))
    elif cause is not None:
        found.extend(_os_errors(cause))
    return found


def register_secret(secret: str) -> None:
    """Never print ``secret`` (the password), whatever message it ends up in."""
    if len(secret) >= 3:  # scrubbing "a" out of every message would garble them
        _SECRETS.add(secret)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def classify(error: BaseException, target: str, *, connected: bool) -> CliError:
    """The exit code and one-line message for a runtime exception.

    ``target`` is the redacted URL; ``connected`` tells whether the runtime had been READY
    (a connection lost during the handshake is a handshake problem, later it is a network one).
    """
    if isinstance(error, CliError):
        return error
    if isinstance(error, TcpConnectError):
        return _connect_error(error, target)
    if isinstance(error, AuthenticationError):
        return CliError(
            ExitCode.AUTH,
            f"authentication rejected by {target} (-ERR {error.reason or 'invalid'}) "
            "— check the password (or user@domain) in --url / ESL_TRIO_URL",
        )
    if isinstance(error, UnknownEventNameError):
        return CliError(ExitCode.USAGE, str(error))
    if isinstance(error, LocalProtocolError):
        return CliError(ExitCode.USAGE, f"invalid command: {error}")
    if isinstance(error, HandshakeError | ProtocolError):
        return CliError(
            ExitCode.PROTOCOL,
            f"handshake with {target} failed: {error} — is this a FreeSWITCH event socket "
            "port, and does its apply-inbound-acl allow this host?",
        )
    return _after_connect(error, target, connected=connected)


def _after_connect(error: BaseException, target: str, *, connected: bool) -> CliError:
    if isinstance(error, CommandTimeoutError):
        return _timeout(error, target)
    if isinstance(error, ConnectError):
        return CliError(ExitCode.UNREACHABLE, f"{redact(str(error))} {CHECK_URL}")
    if isinstance(error, ConnectionLostError | NotReadyError):
        if not connected:
            return CliError(
                ExitCode.PROTOCOL,
                f"{target} closed the connection during the handshake ({error}) — is this a "
                "FreeSWITCH event socket port, and does its ACL allow this host?",
            )
        return CliError(ExitCode.UNREACHABLE, f"connection to {target} lost: {error}")
    if isinstance(error, CommandError):
        return CliError(ExitCode.FAILED, f"{error.command} failed: {error.reply_text.strip()}")
    if isinstance(error, BackpressureError | DrainError | EslError):
        return CliError(ExitCode.FAILED, str(error))
    return CliError(
        ExitCode.FAILED,
        f"unexpected error: {type(error).__name__}: {error} (set ESL_TRIO_DEBUG=1 for details)",
    )


def _connect_error(error: TcpConnectError, target: str) -> CliError:
    hints = {
        "refused": "is FreeSWITCH running and mod_event_socket listening?",
        "dns": "check the host name",  # + CHECK_URL
        "timeout": "is the host reachable and the port open?",
        "unreachable": "check the network and the address",
    }
    return CliError(
        ExitCode.UNREACHABLE,
        f"cannot connect to {target}: {error.detail} — {hints[error.kind]} {CHECK_URL}",
    )


def _timeout(error: CommandTimeoutError, target: str) -> CliError:
    if error.command == "connect":
        return CliError(
            ExitCode.UNREACHABLE,
            f"cannot connect to {target}: no answer within {error.timeout:g} s — is the host "
            f"reachable and the port open? {CHECK_URL}",
        )
    if error.command == "handshake":
        return CliError(
            ExitCode.PROTOCOL,
            f"connected to {target} but got no FreeSWITCH greeting within {error.timeout:g} s "
            "— is this a FreeSWITCH event socket port?",
        )
    return CliError(ExitCode.FAILED, f"{error} — try a larger --timeout")


_RECORD_CODES = {
    "AuthenticationError": ExitCode.AUTH,
    "HandshakeError": ExitCode.PROTOCOL,
    "RemoteProtocolError": ExitCode.PROTOCOL,
    "TruncatedFrameError": ExitCode.PROTOCOL,
}


def classify_record(type_name: str, message: str, target: str) -> CliError:
    """For a runtime that stopped for good: health only keeps the error's type and text."""
    code = _RECORD_CODES.get(type_name, ExitCode.UNREACHABLE)
    if code is ExitCode.AUTH:
        hint = "check the password (or user@domain) in --url / ESL_TRIO_URL"
    elif code is ExitCode.PROTOCOL:
        hint = "is this still a FreeSWITCH event socket?"
    else:
        hint = "is FreeSWITCH running?"
    return CliError(code, f"gave up on {target}: {message} — {hint}")
