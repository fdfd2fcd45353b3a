"""What open calls cost the event path: events/s with 0 and with 1 000 open call scopes.

Run from the repo root::

    .venv/bin/python benchmarks/bench_calls.py [--events N] [--calls N] [--repeat R]

In one process: a simulated PBX (``esl_trio.testing``) and a runtime connected to it. The
events are the recorded ``07-channel_execute-event-plain.raw`` (FreeSWITCH 1.11), encoded
once into frames and written raw by the fake (so its own encoding costs nothing), and read by
one receiver for every event. With calls open, every event belongs to one of them
(round-robin), so it also goes through the Unique-ID index into that call (state, variables,
completion lookup) — the ratio of the two rates is the figure. Memory per open call is the
tracemalloc delta of opening the scopes (``rt.attach``: Call, index entry, its uuid_dump),
divided by their number.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import tracemalloc
import uuid
from pathlib import Path

import trio

from esl_trio import EslRuntime, RuntimeConfig, open_esl_runtime
from esl_trio.config import HeartbeatConfig, SubscriptionConfig
from esl_trio.protocol import EventFormat
from esl_trio.protocol.server import event_frame
from esl_trio.testing import SimulatedPbx, open_simulated_pbx

FIXTURE = Path(__file__).parent.parent / "tests/fixtures/freeswitch-1.11"
CHUNK = 256


def recorded_headers() -> list[tuple[str, str]]:
    raw = (FIXTURE / "07-channel_execute-event-plain.raw").read_bytes()
    body = raw.split(b"\n\n", 1)[1]
    pairs = []
    for line in body.decode().split("\n"):
        if ": " in line:
            name, value = line.split(": ", 1)
            pairs.append((name, value))
    return pairs


def frames(count: int, uuids: list[str]) -> list[bytes]:
    """``count`` frames; Unique-ID cycles through ``uuids`` (values are already encoded)."""
    base = recorded_headers()
    built = []
    for index in range(count):
        target = uuids[index % len(uuids)]
        headers = [(n, target if n == "Unique-ID" else v) for n, v in base]
        built.append(event_frame(EventFormat.PLAIN, headers))
    return built


async def blast(rt: EslRuntime, pbx: SimulatedPbx, payload: list[bytes]) -> float:
    """Seconds from the first write to the last event read."""
    async with rt.events.receiver(max_buffer=len(payload) + 10) as receiver:
        start = time.perf_counter()
        seen = 0
        for at in range(0, len(payload), CHUNK):
            pbx.fs.send_raw(b"".join(payload[at : at + CHUNK]))
            await trio.lowlevel.checkpoint()
        while seen < len(payload):
            await receiver.receive()
            seen += 1
        return time.perf_counter() - start


async def best_rate(rt: EslRuntime, pbx: SimulatedPbx, payload: list[bytes], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        best = max(best, len(payload) / await blast(rt, pbx, payload))
    return best


async def measure(events: int, calls: int, repeat: int) -> dict[str, float]:
    config = RuntimeConfig(
        host="pbx",
        heartbeat=HeartbeatConfig.disabled(),
        subscriptions=SubscriptionConfig(format="plain"),
    )
    results: dict[str, float] = {}
    async with (
        open_simulated_pbx(heartbeat_interval=None, hold_time=1e9) as pbx,
        open_esl_runtime(config, connector=pbx.connector) as rt,
    ):
        strangers = [str(uuid.uuid4()) for _ in range(1000)]
        idle = frames(events, strangers)
        await blast(rt, pbx, idle[: events // 10])  # warm-up
        results["events_per_s_0_calls"] = await best_rate(rt, pbx, idle, repeat)
        legs = [pbx.originate("9664") for _ in range(calls)]
        await trio.sleep(1.0)  # answered (real time; the PBX's own timeline)
        async with contextlib.AsyncExitStack() as stack:
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            opened = [await stack.enter_async_context(rt.attach(leg)) for leg in legs]
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
            results["bytes_per_open_call"] = grown / max(calls, 1)
            busy = frames(events, [call.uuid for call in opened])
            results[f"events_per_s_{calls}_calls"] = await best_rate(rt, pbx, busy, repeat)
    results["ratio"] = results[f"events_per_s_{calls}_calls"] / results["events_per_s_0_calls"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = trio.run(measure, args.events, args.calls, args.repeat)
    for name, value in results.items():
        print(f"{name:>28}: {value:,.3f}" if name == "ratio" else f"{name:>28}: {value:,.0f}")


if __name__ == "__main__":
    main()
