"""Where to connect (``--url`` or the environment) and how: one runtime per command.

The password is registered for redaction as soon as it is read, and the connection is shown
everywhere as ``esl://***@host:port``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from .._config import RuntimeConfig
from .._errors import ConnectError
from .._runtime import EslRuntime, open_esl_runtime
from .._state import RuntimeState
from .._transport import Connector, tcp_connector
from ..protocol import EslError
from ._errors import CliError, ExitCode, TcpConnectError, classify, classify_record, redact
from ._errors import register_secret as register_secret

__all__ = ["Target", "connected", "display_url", "target_from_args"]


def display_url(config: RuntimeConfig) -> str:
    """``esl://***@host:port``: safe to print."""
    return f"esl://***@{config.address}"


@attrs.frozen
class Target:
    """The resolved connection settings of one command."""

    config: RuntimeConfig

    @property
    def display(self) -> str:
        return display_url(self.config)

    def with_overrides(self, **changes: Any) -> Target:
        return Target(attrs.evolve(self.config, **changes))


def target_from_args(args: argparse.Namespace) -> Target:
    """``--url``, else ``ESL_TRIO_URL`` (or ``ESL_TRIO_HOST``/``_PORT``/``_PASSWORD``/``_USER``)."""
    url: str | None = getattr(args, "url", None)
    env_password = os.environ.get("ESL_TRIO_PASSWORD")
    if env_password:
        register_secret(env_password)
    try:
        config = RuntimeConfig.from_url(url) if url else RuntimeConfig.from_env()
    except (ValueError, TypeError) as exc:
        source = "--url" if url else "ESL_TRIO_URL / ESL_TRIO_* variables"
        raise CliError(
            ExitCode.USAGE,
            f"invalid {source}: {redact(str(exc))} — expected esl://[user@domain:]password@host"
            "[:port], e.g. esl://ClueCon@127.0.0.1:8021",
        ) from None
    register_secret(config.password)
    timeout: float = getattr(args, "connect_timeout", 10.0)
    config = attrs.evolve(config, timeouts=attrs.evolve(config.timeouts, handshake=timeout))
    return Target(config)


def classifying_connector(config: RuntimeConfig) -> Connector:
    """TCP with the failure's cause kept (refused, unknown host, …) for a precise message."""
    inner = tcp_connector(config)

    async def connect() -> trio.abc.Stream:
        try:
            return await inner()
        except ConnectError as exc:
            raise TcpConnectError.from_os_error(config.address, exc.__cause__) from exc

    return connect


@asynccontextmanager
async def connected(target: Target) -> AsyncIterator[EslRuntime]:
    """``open_esl_runtime`` whose failures come out as :class:`CliError`.

    A runtime that stops for good while the block runs (credentials changed on a reconnect,
    say) cancels the block and raises its error.
    """
    ready = False
    try:
        async with open_esl_runtime(
            target.config, connector=classifying_connector(target.config)
        ) as rt:
            ready = True
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_fail_when_stopped, rt, target)
                yield rt
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise _one(group, target, connected=ready) from None
    except EslError as exc:
        raise classify(exc, target.display, connected=ready) from exc


async def _fail_when_stopped(rt: EslRuntime, target: Target) -> None:
    await rt.wait_state(RuntimeState.FAILED)
    record = rt.health().last_error
    if record is None:
        raise CliError(ExitCode.UNREACHABLE, f"gave up on {target.display}")
    raise classify_record(record.type, redact(record.message), target.display)


def _one(
    group: BaseExceptionGroup[BaseException], target: Target, *, connected: bool
) -> BaseException:
    """The exception to raise for a group from the block (the body's, or the watcher's)."""
    real = [e for e in _leaves(group) if not isinstance(e, trio.Cancelled)]
    if not real:
        return group
    if isinstance(real[0], EslError):
        return classify(real[0], target.display, connected=connected)
    return real[0]


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out
