"""``serve-outbound module:function``: run an outbound handler until SIGINT/SIGTERM, then drain.

FreeSWITCH's dialplan ``socket <host>:<port> async full`` connects here for every call; each
call runs ``handler(call)`` (an :class:`~esl_trio.OutboundCall`) in its own scope. The first
SIGINT or SIGTERM stops taking calls and drains: running handlers get ``--drain-timeout``
seconds, then are cancelled and their calls hung up; the command then prints the stats and
exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import trio

from .._outbound_config import OutboundConfig
from .._outbound_server import OutboundHandler, OutboundServer, OutboundStats, open_outbound_server
from ._commands import note
from ._errors import CliError, ExitCode

__all__ = ["cmd_serve_outbound", "load_handler", "stats_line"]

_SPEC_HINT = "give it as module:function, e.g. myapp.calls:handle"


def load_handler(spec: str) -> OutboundHandler:
    """Import ``module:function`` (the function may be a dotted attribute path) and check that
    it is an async callable. Raises :class:`CliError` with what went wrong and what to do."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(ExitCode.USAGE, f"handler {spec!r} is not module:function — {_SPEC_HINT}")
    _add_working_directory()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):  # the module itself
            raise CliError(
                ExitCode.USAGE,
                f"cannot import {module_name!r}: no module named {exc.name!r} — is it on "
                "PYTHONPATH (or in the current directory)?",
            ) from exc
        raise _import_failed(module_name, exc) from exc  # something it imports is missing
    except Exception as exc:
        raise _import_failed(module_name, exc) from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CliError(
                ExitCode.USAGE, f"module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not _is_async_callable(target):
        kind = type(target).__name__
        raise CliError(
            ExitCode.USAGE,
            f"{spec} is not an async function ({kind}) — the handler must be "
            "`async def handle(call)`",
        )
    handler: OutboundHandler = target
    return handler


def _import_failed(module_name: str, exc: BaseException) -> CliError:
    return CliError(
        ExitCode.FAILED,
        f"importing {module_name!r} failed: {type(exc).__name__}: {exc} "
        "(set ESL_TRIO_DEBUG=1 for the traceback)",
    )


def _is_async_callable(target: object) -> bool:
    if isinstance(target, type):  # a class: calling it builds an object, not a coroutine
        return False
    if inspect.iscoroutinefunction(target):  # functions, methods, partials of them
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - an object with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def _add_working_directory() -> None:
    """Like ``python -m``: modules in the current directory can be named (the installed
    ``esl-trio`` script starts with its own directory on ``sys.path`` instead)."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options = {
        "max_calls": args.max_calls,
        "hangup_grace": args.hangup_grace,
        "drain_timeout": args.drain_timeout,
    }
    given = {name: value for name, value in options.items() if value is not None}
    try:
        attrs.evolve(OutboundConfig(), **given)  # validated here, not inside the server
    except ValueError as exc:
        raise CliError(ExitCode.USAGE, str(exc).replace("_", "-")) from None
    return given


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def stats_line(stats: OutboundStats) -> str:
    """``stats: accepted=3 completed=2 failed=1 ...``: every counter, key=value."""
    fields = attrs.asdict(stats)
    return "stats: " + " ".join(f"{name}={value}" for name, value in fields.items())


class _OneLine(logging.Formatter):
    """``esl-trio: ERROR <message> (RuntimeError: why)``: the traceback of a handler's
    exception only with ``ESL_TRIO_DEBUG``, as for every failure of the command line."""

    def __init__(self) -> None:
        super().__init__("esl-trio: %(levelname)s %(message)s")
        self.debug = bool(os.environ.get("ESL_TRIO_DEBUG"))

    def format(self, record: logging.LogRecord) -> str:
        if self.debug or not record.exc_info:
            return super().format(record)
        error = record.exc_info[1]
        record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return f"{super().format(record)} ({type(error).__name__}: {error})"


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    """The server's warnings (refused calls, a handler's exception) on stderr while serving."""
    logger = logging.getLogger("esl_trio")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


async def cmd_serve_outbound(args: argparse.Namespace) -> int:
    handler = load_handler(args.handler_spec)
    options = _options(args)
    drain = options.get("drain_timeout", OutboundConfig().drain_timeout)
    stop = trio.Event()
    server: OutboundServer | None = None
    # Our own signal receiver, the newest one: it takes SIGINT/SIGTERM from the app's watcher
    # (which would cancel the command) while we serve and drain.
    with (
        _log_to_stderr(),
        trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, signals, stop, lambda: server, drain)
            try:
                async with _listening(handler, args.host, args.port, options) as server:
                    print(f"listening on {address(args.host, server.port)}", flush=True)
                    note(f"serving outbound calls with {args.handler_spec}; Ctrl-C to stop")
                    # Leave the block (do not cancel it): leaving drains the running calls,
                    # a cancellation would reach their handlers at once.
                    await stop.wait()
            finally:
                if server is not None:
                    print(stats_line(server.stats()), flush=True)
            nursery.cancel_scope.cancel()
    note("stopped")
    return ExitCode.OK


@contextlib.asynccontextmanager
async def _listening(
    handler: OutboundHandler, host: str, port: int, options: dict[str, Any]
) -> AsyncIterator[OutboundServer]:
    entered = False
    try:
        async with open_outbound_server(handler, host=host, port=port, **options) as server:
            entered = True
            yield server
    except OSError as exc:
        if entered:
            raise
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else str(exc)
        raise CliError(
            ExitCode.FAILED,
            f"cannot listen on {address(host, port)}: {reason} — pick another --port "
            "(0: any free port)",
        ) from None


async def _watch_signals(
    signals: AsyncIterator[int],
    stop: trio.Event,
    current: Callable[[], OutboundServer | None],
    drain: float,
) -> None:
    """The first signal drains; a second one cuts the drain short (the calls still running
    are hung up now)."""
    async for signum in signals:
        server = current()
        running = server.active_calls if server is not None else 0
        name = signal.Signals(signum).name
        if not stop.is_set():
            note(
                f"{name}: no new calls; draining {running} running call(s) "
                f"(up to {drain:g} s, then they are hung up)"
            )
            stop.set()
        elif server is not None:
            note(f"{name}: cutting the drain short; hanging up {running} call(s)")
            await server.aclose(drain_timeout=0)
