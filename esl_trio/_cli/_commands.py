"""``api``, ``bgapi``, ``events`` and ``health``: one runtime each, then exit."""

from __future__ import annotations

import argparse
import json
import sys

import attrs
import trio

from .._config import RetryPolicy, SubscriptionConfig
from .._hub import EventReceiver
from .._receivers import StreamGap
from .._runtime import EslRuntime
from .._state import StateChange, Transition
from ._connect import Target, connected, target_from_args
from ._errors import CliError, ExitCode, redact
from ._output import Printer

__all__ = ["cmd_api", "cmd_bgapi", "cmd_events", "cmd_health", "note", "split_command"]

#: Reconnects of the long-running commands: quick first retry, never more than 5 s apart.
FOLLOW_RETRY = RetryPolicy(initial_delay=0.5, max_delay=5.0, jitter=0.2)
_FAILURE_PREFIXES = ("-ERR", "-USAGE")


def note(message: str) -> None:
    """A status line for people, on stderr (stdout stays clean for pipes)."""
    print(f"esl-trio: {redact(message)}", file=sys.stderr, flush=True)


def split_command(words: list[str]) -> tuple[str, str]:
    """``["show", "channels"]`` or ``["show channels"]`` -> ``("show", "channels")``."""
    command, _, args = " ".join(words).strip().partition(" ")
    if not command:
        raise CliError(ExitCode.USAGE, "no command given, e.g.: esl-trio api status")
    return command, args.strip()


def _emit_output(text: str) -> ExitCode:
    """Print command output verbatim (plus a final newline if it lacks one)."""
    sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    return ExitCode.FAILED if text.lstrip().startswith(_FAILURE_PREFIXES) else ExitCode.OK


async def cmd_api(args: argparse.Namespace) -> int:
    command, rest = split_command(args.command)
    target = target_from_args(args)
    timeouts = attrs.evolve(target.config.timeouts, api=args.timeout)
    async with connected(target.with_overrides(timeouts=timeouts)) as rt:
        reply = await rt.api(command, rest)
    return _emit_output(reply.text)


async def cmd_bgapi(args: argparse.Namespace) -> int:
    command, rest = split_command(args.command)
    target = target_from_args(args)
    timeouts = attrs.evolve(target.config.timeouts, bgapi_completion=args.timeout)
    async with connected(target.with_overrides(timeouts=timeouts)) as rt:
        job = await rt.bgapi(command, rest)
        if sys.stderr.isatty():
            note(f"job {job.job_uuid} accepted; waiting for it to complete")
        done = await job.wait()
    return _emit_output(done.result)


async def cmd_health(args: argparse.Namespace) -> int:
    async with connected(target_from_args(args)) as rt:
        snapshot = rt.health()
    print(json.dumps(snapshot.to_dict(), default=str, indent=2), flush=True)
    return ExitCode.OK


def subscription_for(names: list[str], args: argparse.Namespace) -> SubscriptionConfig:
    """Event names (``a::b`` is a CUSTOM subclass); none or ``ALL`` subscribes to everything."""
    custom = [n for n in names if "::" in n]
    upper = [n.upper() for n in names if "::" not in n]
    if custom:  # "CUSTOM a::b" means those subclasses, not every CUSTOM event
        upper = [n for n in upper if n != "CUSTOM"]
    everything = "ALL" in upper or not (upper or custom)
    return SubscriptionConfig(
        events=() if everything else upper,
        all=everything,
        custom=custom,
        filters=[tuple(f) for f in args.filter or ()],
        format=getattr(args, "format", "json"),
    )


def open_receiver(rt: EslRuntime, sub: SubscriptionConfig, max_buffer: int) -> EventReceiver:
    if sub.all:
        return rt.events.receiver(max_buffer=max_buffer)
    return rt.events.receiver(*sub.events, subclasses=sub.custom, max_buffer=max_buffer)


async def cmd_events(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise CliError(ExitCode.USAGE, "--count must be at least 1")
    sub = subscription_for(args.names, args)
    target = target_from_args(args).with_overrides(subscriptions=sub, retry=FOLLOW_RETRY)
    printer = Printer(json_lines={"json": True, "text": False}.get(args.output))
    if not args.quiet and sys.stderr.isatty():
        note(f"connecting to {target.display} ...")
    async with connected(target) as rt, trio.open_nursery() as nursery:
        if not args.quiet:
            nursery.start_soon(report_reconnects, rt, target)
        async with open_receiver(rt, sub, args.buffer) as receiver:
            await stream_events(receiver, printer, args.count)
        nursery.cancel_scope.cancel()
    return ExitCode.OK


async def stream_events(receiver: EventReceiver, printer: Printer, limit: int | None) -> None:
    """Print events and gaps until ``limit`` events (forever without one)."""
    seen = 0
    async for item in receiver:
        if isinstance(item, StreamGap):
            printer.gap(item)
        else:
            printer.event(item)
            seen += 1
            if limit is not None and seen >= limit:
                break
        if receiver.statistics().buffered == 0:  # flush per burst, not per line
            printer.flush()
    printer.flush()


async def report_reconnects(rt: EslRuntime, target: Target) -> None:
    """Tell the user (on stderr) when the connection drops, each retry, and when it is back."""
    async with rt.state_changes() as changes:
        async for change in changes:
            if not isinstance(change, StateChange):
                continue  # a dropped transition: the next one still says where we are
            if change.transition is Transition.LOST:
                reason = f" ({change.error})" if change.error else ""
                note(f"connection to {target.display} lost{reason}; reconnecting")
            elif change.transition is Transition.BACK_OFF and change.delay is not None:
                note(f"attempt {change.attempt} in {change.delay:.1f} s")
            elif change.transition is Transition.READY:
                note(f"reconnected to {target.display} (generation {rt.health().generation})")
