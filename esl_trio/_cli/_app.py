"""``main()``: parse, run one sub-command under ``trio.run``, map every outcome to an exit code.

Ctrl-C and SIGTERM cancel the command (structured shutdown: the runtime drains and closes)
and exit with 128 + the signal number. No traceback reaches the user unless
``ESL_TRIO_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence

import trio

from .._util import unwrap_group
from ._errors import CliError, ExitCode, classify, redact
from ._parser import build_parser

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], Awaitable[int]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``esl-trio`` command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors (argparse printed them)
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    handler: Handler | None = args.handler
    if handler is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    return execute(handler, args)


def execute(handler: Handler, args: argparse.Namespace) -> int:
    try:
        return trio.run(_guarded, handler, args)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `esl-trio events | head`: the reader left; not an error
        _silence_stdout()
        return ExitCode.OK
    except CliError as exc:
        _report(exc, exc)
        return exc.code
    except Exception as exc:
        error = classify(exc, "FreeSWITCH", connected=True)
        _report(error, exc)
        return error.code


async def _guarded(handler: Handler, args: argparse.Namespace) -> int:
    """Run ``handler`` until it returns or a signal cancels it."""
    received: list[int] = []
    codes: list[int] = []  # stays empty when a signal cancelled the handler
    try:
        async with trio.open_nursery() as nursery:
            # Started (not start_soon): the watcher is in place before the command runs, so a
            # command that opens its own signal receiver (serve-outbound drains on a signal)
            # has the newer one, which takes the signals while it is open.
            await nursery.start(_watch_signals, nursery.cancel_scope, received)
            codes.append(await handler(args))
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None
    if not codes:
        return 128 + (received[0] if received else signal.SIGINT)
    return int(codes[0])


async def _watch_signals(
    scope: trio.CancelScope,
    received: list[int],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            received.append(signum)
            scope.cancel()
            return


def _report(error: CliError, cause: BaseException) -> None:
    if os.environ.get("ESL_TRIO_DEBUG"):
        traceback.print_exception(cause)
    print(f"esl-trio: {redact(error.message)}", file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
