"""``watch``: a live runtime's health, refreshed every ``--interval`` seconds."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import trio

from .._hub import EventReceiver
from .._receivers import Overflow, StreamGap
from .._runtime import EslRuntime
from ._commands import FOLLOW_RETRY, report_reconnects, subscription_for
from ._connect import Target, connected, target_from_args
from ._errors import CliError, ExitCode
from ._output import health_line, health_view

__all__ = ["cmd_watch"]

_CLEAR = "\x1b[H\x1b[2J"


class _Tally:
    """Events seen since the last refresh, by name (for the "top events" line)."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    async def count(self, receiver: EventReceiver) -> None:
        async for item in receiver:
            if not isinstance(item, StreamGap):
                self.names[item.name or "?"] += 1

    def take_top(self, n: int = 4) -> str:
        top = ", ".join(f"{name} {count}" for name, count in self.names.most_common(n))
        self.names.clear()
        return top


async def cmd_watch(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise CliError(ExitCode.USAGE, "--interval must be positive")
    sub = subscription_for(args.names, args)
    target = target_from_args(args).with_overrides(subscriptions=sub, retry=FOLLOW_RETRY)
    async with connected(target) as rt, trio.open_nursery() as nursery:
        tally = _Tally()
        receiver = rt.events.receiver(max_buffer=10_000, overflow=Overflow.DROP_OLDEST)
        nursery.start_soon(tally.count, receiver)
        if not sys.stdout.isatty():
            nursery.start_soon(report_reconnects, rt, target)
        await _refresh(rt, target, tally, args)
        nursery.cancel_scope.cancel()  # ends the count; closing the receiver first would fail it
    return ExitCode.OK


async def _refresh(rt: EslRuntime, target: Target, tally: _Tally, args: argparse.Namespace) -> None:
    tty = sys.stdout.isatty()
    last_count, last_time = rt.health().events_received, trio.current_time()
    done = 0
    while args.iterations is None or done < args.iterations:
        if done:
            await trio.sleep(args.interval)
        health, now = rt.health(), trio.current_time()
        elapsed = now - last_time
        rate = (health.events_received - last_count) / elapsed if elapsed > 0 else 0.0
        last_count, last_time = health.events_received, now
        if tty:
            lines = health_view(health, rate, tally.take_top(), target.display)
            sys.stdout.write(_CLEAR + "\n".join(lines) + "\n")
        else:
            sys.stdout.write(health_line(health, rate) + "\n")
        sys.stdout.flush()
        done += 1
