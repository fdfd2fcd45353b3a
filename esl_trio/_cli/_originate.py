"""``originate``: place one call, print what happens to it, exit with its outcome.

Exit codes: 0 answered (whatever ended it afterwards), 1 not answered (the cause, e.g.
USER_BUSY, is printed on stderr), 3 connection lost and the channel gone when we came back
(``ENDED_WHILE_DISCONNECTED``), the usual 2/4/5/130 otherwise. Ctrl-C hangs the call up first.
"""

from __future__ import annotations

import argparse

import trio

from .._call import Call
from .._call_values import ENDED_WHILE_DISCONNECTED, OriginateError
from .._receivers import Receiver, StreamGap
from ..protocol import Event
from ._commands import FOLLOW_RETRY, note
from ._connect import connected, target_from_args
from ._errors import CliError, ExitCode
from ._output import Printer

__all__ = ["add_originate", "cmd_originate"]


def add_originate(parser: argparse.ArgumentParser) -> None:
    """The options of ``esl-trio originate`` (the parser module registers the command)."""
    parser.add_argument("destination", metavar="DEST", help="dial string, e.g. loopback/9664")
    parser.add_argument("--app", default="park", help="application once answered (park)")
    parser.add_argument("--app-arg", default="", metavar="ARG", help="its argument")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="ring time (60)")
    parser.add_argument("--follow", action="store_true", help="print the call's events")
    parser.add_argument(
        "--output", choices=["auto", "json", "text"], default="auto",
        help="json lines, readable text, or auto: text on a terminal (default)",
    )  # fmt: skip


async def cmd_originate(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise CliError(ExitCode.USAGE, "--timeout must be positive")
    printer = Printer(json_lines={"json": True, "text": False}.get(args.output))
    target = target_from_args(args).with_overrides(retry=FOLLOW_RETRY)
    async with connected(target) as rt:
        try:
            async with rt.originate(
                args.destination, app=args.app, app_arg=args.app_arg, timeout=args.timeout
            ) as call:
                return await _follow(call, printer, follow=args.follow)
        except OriginateError as failed:
            note(f"call not answered: {failed.cause}")
            code = ExitCode.UNREACHABLE if failed.while_disconnected else ExitCode.FAILED
            return int(code)


async def _follow(call: Call, printer: Printer, *, follow: bool) -> int:
    """Print events (``--follow``) until the channel is gone; the exit code of the outcome."""
    events = call.events(max_buffer=10_000) if follow else None  # before anything happens
    try:
        await call.wait_answered()
    except OriginateError:
        if events is not None:
            events.close()
            await _print_events(events, printer)  # what happened before it failed
        raise
    note(f"call {call.uuid} answered")
    async with trio.open_nursery() as nursery:
        if events is not None:
            nursery.start_soon(_print_events, events, printer)
        outcome = await call.wait_hangup()
    note(f"call {call.uuid} ended: {outcome.cause}")
    if outcome.cause == ENDED_WHILE_DISCONNECTED:
        return int(ExitCode.UNREACHABLE)
    return int(ExitCode.OK)


async def _print_events(events: Receiver[Event], printer: Printer) -> None:
    async for item in events:  # ends with the channel (CHANNEL_DESTROY) or the scope
        if isinstance(item, StreamGap):
            printer.gap(item)
        else:
            printer.event(item)
        if events.statistics().buffered == 0:
            printer.flush()
    printer.flush()
