"""How the runtime obtains a byte stream: a *connector* is ``async () -> trio.abc.Stream``.

The default opens TCP to the configured host. Tests inject a connector that returns memory
streams (``esl_trio.testing``); TLS or a proxy are a connector away.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import trio

from ._config import RuntimeConfig
from ._errors import ConnectError

__all__ = ["Connector", "tcp_connector"]

Connector = Callable[[], Awaitable[trio.abc.Stream]]


def tcp_connector(config: RuntimeConfig) -> Connector:
    """A connector for ``config.host:config.port`` with TCP_NODELAY and keepalive."""

    async def connect() -> trio.abc.Stream:
        try:
            stream = await trio.open_tcp_stream(config.host, config.port)
        except OSError as exc:
            raise ConnectError(f"cannot connect to {config.address}: {exc}") from exc
        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return stream

    return connect
