"""``demo``: the runtime against a simulated FreeSWITCH on loopback, narrated step by step.

Real TCP, real runtime: api, bgapi with its job completion, live events from generated calls,
a server restart with the reconnect and the restored subscriptions, then the health summary.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import trio

from .._config import RetryPolicy, RuntimeConfig, SubscriptionConfig
from .._health import HealthSnapshot
from .._hub import EventReceiver
from .._receivers import StreamGap
from .._runtime import EslRuntime
from .._state import RuntimeState
from ..protocol import Event
from ._connect import Target, connected
from ._errors import CliError, ExitCode
from ._output import gap_line, readable_event

if TYPE_CHECKING:
    from ..testing import SimulatedPbx

__all__ = ["cmd_demo"]

DEMO_EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")
CALLS_PER_SECOND = 4.0
HOLD_TIME = 1.0
DEMO_FILTER = ("Call-Direction", "outbound")  # the A leg of each two-leg loopback call
ORIGINATE_ARGS = "{origination_caller_id_number=1000}loopback/9664 &park"
EVENTS_SHOWN = 12
LIVE_SECONDS = 3.0


class Narrator:
    """Numbered steps and indented details, stamped with the seconds since the start."""

    def __init__(self) -> None:
        self.started = trio.current_time()
        self.number = 0

    def step(self, text: str) -> None:
        self.number += 1
        self._print(f"{self.number}. {text}")

    def detail(self, text: str) -> None:
        self._print(f"     {text}")

    def elapsed(self) -> float:
        return trio.current_time() - self.started

    def _print(self, text: str) -> None:
        print(f"[{self.elapsed():5.2f}s] {text}", flush=True)


async def cmd_demo(args: argparse.Namespace) -> int:
    from ..testing import open_simulated_pbx  # the test helpers load only here

    print(
        "esl-trio demo: the runtime against a simulated FreeSWITCH on loopback "
        f"(seed {args.seed})\n",
        flush=True,
    )
    say = Narrator()
    try:
        with trio.fail_after(args.deadline):
            async with open_simulated_pbx(seed=args.seed, hold_time=HOLD_TIME) as pbx:
                await _run(pbx, say)
    except trio.TooSlowError:
        raise CliError(
            ExitCode.FAILED, f"the demo did not finish within {args.deadline:g} s"
        ) from None
    print(f"\nDone in {say.elapsed():.1f} s. Next, against a real switch:", flush=True)
    print("  esl-trio --url esl://ClueCon@HOST:8021 events CHANNEL_ANSWER", flush=True)
    return ExitCode.OK


async def _run(pbx: SimulatedPbx, say: Narrator) -> None:
    port = await pbx.serve_tcp()
    url = f"esl://ClueCon@127.0.0.1:{port}"
    say.step(f"Simulated FreeSWITCH listening on {url}")
    config = RuntimeConfig.from_url(
        url,
        retry=RetryPolicy(initial_delay=0.2, max_delay=1.0),
        subscriptions=SubscriptionConfig(events=DEMO_EVENTS, filters=[DEMO_FILTER]),
    )
    async with connected(Target(config)) as rt:
        health = rt.health()
        say.step(f"Connected over TCP: state {health.state.value}, generation {health.generation}")
        say.detail(f"subscribed to {', '.join(DEMO_EVENTS)} (json)")
        say.detail(f"filter {DEMO_FILTER[0]} {DEMO_FILTER[1]}: the A leg of each call only")
        async with rt.events.receiver(*DEMO_EVENTS, max_buffer=10_000) as events:
            await _api(rt, say)
            await _bgapi(rt, say)
            await _live_events(pbx, events, say)
            await _restart(pbx, rt, events, say)
        _summary(rt.health(), pbx, say)
        pbx.stop_call_generator()


async def _api(rt: EslRuntime, say: Narrator) -> None:
    say.step("api status  (request/reply, output verbatim)")
    reply = await rt.api("status")
    for line in reply.text.splitlines()[:2]:
        say.detail(f"| {line}")
    channels = await rt.api("show", "channels")
    total = next((ln for ln in reversed(channels.text.splitlines()) if ln.strip()), "")
    say.detail(f"api show channels -> {total.strip()}")


async def _bgapi(rt: EslRuntime, say: Narrator) -> None:
    say.step(f"bgapi originate {ORIGINATE_ARGS}  (a background job: answered in ~0.5 s)")
    start = trio.current_time()
    job = await rt.bgapi("originate", ORIGINATE_ARGS)
    say.detail(f"job {job.job_uuid[:8]}… accepted in {_ms(start)}")
    done = await job.wait()
    result = done.result.strip().splitlines()
    say.detail(f"job completed in {_ms(start)} (BACKGROUND_JOB): {result[0] if result else ''}")


async def _live_events(pbx: SimulatedPbx, events: EventReceiver, say: Narrator) -> None:
    say.step(f"Live events: generating {CALLS_PER_SECOND:g} calls/s, each held {HOLD_TIME:g} s")
    pbx.start_call_generator(CALLS_PER_SECOND, HOLD_TIME)
    shown = 0
    with trio.move_on_after(LIVE_SECONDS):
        async for item in events:
            if shown < EVENTS_SHOWN or isinstance(item, StreamGap):
                _show(item, say)
            shown += 1
    if shown > EVENTS_SHOWN:
        say.detail(f"… and {shown - EVENTS_SHOWN} more in {LIVE_SECONDS:g} s")


async def _restart(pbx: SimulatedPbx, rt: EslRuntime, events: EventReceiver, say: Narrator) -> None:
    say.step("Restarting the simulated FreeSWITCH: every connection is dropped")
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pbx.restart)
        await rt.wait_state(RuntimeState.RECONNECTING)
        say.detail("state -> reconnecting  (new commands are refused meanwhile)")
        await rt.wait_state(RuntimeState.READY)
    health = rt.health()
    if health.last_disconnect is not None:
        say.detail(f"lost because: {health.last_disconnect.message}")
    say.detail(
        f"state -> ready  (generation {health.generation}, reconnect "
        f"#{health.reconnect.reconnects}, back after {_ms(start)})"
    )
    await _first_event_after(pbx, events, health.generation, say)


async def _first_event_after(
    pbx: SimulatedPbx, events: EventReceiver, generation: int, say: Narrator
) -> None:
    """Skip what was buffered before the restart; show the gap and the first new event."""
    for attempt in range(2):
        with trio.move_on_after(3.0):
            async for item in events:
                if isinstance(item, StreamGap):
                    say.detail(gap_line(item))
                elif item.envelope is not None and item.envelope.generation >= generation:
                    say.detail(_line(item, say))
                    say.detail("a new-connection event: subscription and filter were restored")
                    return
        if attempt == 0:  # no generated call in time: place one ourselves
            pbx.originate(destination="9664", caller="1001")
    raise CliError(ExitCode.FAILED, "no event arrived after the restart")


def _summary(health: HealthSnapshot, pbx: SimulatedPbx, say: Narrator) -> None:
    say.step("Health summary (rt.health())")
    say.detail(
        f"state {health.state.value}, generation {health.generation}, "
        f"reconnects {health.reconnect.reconnects}"
    )
    say.detail(
        f"events received {health.events_received}, dropped {health.events_dropped}, "
        f"undecodable {health.events_undecodable}"
    )
    say.detail(
        f"jobs completed {health.jobs_completed}, timed out {health.jobs_timed_out}, "
        f"pending {health.pending_jobs}"
    )
    stats = pbx.stats
    say.detail(
        f"PBX side: {stats.calls_started} calls started, {stats.calls_completed} completed, "
        f"{stats.events_emitted} events emitted"
    )


def _show(item: Event | StreamGap, say: Narrator) -> None:
    say.detail(gap_line(item) if isinstance(item, StreamGap) else _line(item, say))


def _line(event: Event, say: Narrator) -> str:
    return readable_event(event, clock=False)


def _ms(start: float) -> str:
    return f"{(trio.current_time() - start) * 1000:.0f} ms"
