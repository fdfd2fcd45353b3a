"""Micro benchmark: one receiver's hand-off cost, against trio's memory channel in the same run.

Run: .venv/bin/python benchmarks/bench_receivers.py [--items N] [--repeat R]

A producer task offers ``--batch`` items synchronously (as the socket reader does with one
read's worth of events), then yields; one consumer (or ``--consumers`` of them) reads with
``async for``. The baseline does the same with ``trio.open_memory_channel`` and
``send_nowait``. Reported: items/s, best of ``--repeat``, and the ratio to the baseline, so
machines and runs compare by ratio, not by absolute numbers.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esl_trio._receivers import Feed, Overflow, Receiver, open_receiver


async def _run_receiver(items: int, batch: int, consumers: int) -> float:
    pair: tuple[Receiver[int], Feed[int]] = open_receiver(
        "bench", items + 1, Overflow.DROP_NEWEST, lambda f: None
    )
    receiver, feed = pair
    got = [0]

    async def consume() -> None:
        async for _ in receiver:
            got[0] += 1

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(consumers):
            nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        start = time.perf_counter()
        for first in range(0, items, batch):
            for item in range(first, min(first + batch, items)):
                feed.offer(item, 1)
            await trio.lowlevel.checkpoint()
        feed.close()
    assert got[0] == items, got
    return time.perf_counter() - start


async def _run_memory_channel(items: int, batch: int, consumers: int) -> float:
    send, receive = trio.open_memory_channel[int](math.inf)
    got = [0]

    async def consume() -> None:
        async for _ in receive:
            got[0] += 1

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(consumers):
            nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        start = time.perf_counter()
        for first in range(0, items, batch):
            for item in range(first, min(first + batch, items)):
                send.send_nowait(item)
            await trio.lowlevel.checkpoint()
        await send.aclose()
    assert got[0] == items, got
    return time.perf_counter() - start


def _best(run: Callable[[int, int, int], Awaitable[float]], args: argparse.Namespace) -> float:
    times = [trio.run(run, args.items, args.batch, args.consumers) for _ in range(args.repeat)]
    return float(args.items) / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = _best(_run_memory_channel, args)
    ours = _best(_run_receiver, args)
    print(f"{args.items:,} items, batches of {args.batch}, {args.consumers} consumer(s)")
    print(f"trio memory channel  {base:12,.0f} items/s  1.00x")
    print(f"esl_trio Receiver    {ours:12,.0f} items/s  {ours / base:.2f}x")


if __name__ == "__main__":
    main()
