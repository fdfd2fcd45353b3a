"""Backpressure and the shutdown drain, on trio's virtual clock.

Run: .venv/bin/python docs/examples/drain_timeline.py

Part 1: with max_inflight=2 and two api calls waiting for their replies, a third call is
refused at once with BackpressureError; nothing is queued or written.

Part 2: leaving the block with drain_timeout=3 while an api call (answered after 1 s) and a
bgapi job (never completed) are pending: new work is refused with DrainError, the api call
settles normally, the job is cut at the 3 s deadline with DrainError, `exit` is sent, the
runtime is CLOSED, and it never reconnects.
"""

import trio
import trio.testing

from esl_trio import (
    BackgroundJob,
    BackpressureError,
    DrainError,
    EslRuntime,
    RuntimeConfig,
    RuntimeState,
    open_esl_runtime,
)
from esl_trio.config import BackpressureConfig, HeartbeatConfig
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch

START = 0.0


def log(message: str) -> None:
    print(f"t={trio.current_time() - START:5.2f}  {message}")


async def call(rt: EslRuntime, text: str) -> None:
    try:
        reply = await rt.api("echo", text)
        log(f"api echo {text!r} -> {reply.text!r}")
    except DrainError as exc:
        log(f"api echo {text!r} -> DrainError: {exc}")


async def wait_job(job: BackgroundJob) -> None:
    try:
        await job.wait()
    except DrainError as exc:
        log(f"job.wait() -> DrainError: {exc}")


async def backpressure(fs: FakeFreeSwitch, config: RuntimeConfig) -> None:
    limited = RuntimeConfig(
        host=config.host,
        heartbeat=config.heartbeat,
        backpressure=BackpressureConfig(max_inflight=2),
    )
    async with (
        open_esl_runtime(limited, connector=fs.connector) as rt,
        trio.open_nursery() as nursery,
    ):
        fs.hold_replies()
        nursery.start_soon(rt.api, "echo", "a")
        nursery.start_soon(rt.api, "echo", "b")
        await fs.wait_command("api echo b")
        health = rt.health()
        log(f"in flight: {health.inflight_commands}, overloaded: {health.overloaded}")
        try:
            await rt.api("echo", "c")
        except BackpressureError as exc:
            log(f"api echo 'c' -> BackpressureError: {exc}")
        fs.release_replies()  # a and b complete; the block exits


async def drain(fs: FakeFreeSwitch, config: RuntimeConfig) -> None:
    global START
    fs.auto_complete_jobs = False  # the job will never complete by itself
    async with trio.open_nursery() as nursery:
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            job = await rt.bgapi("originate", "loopback/9664 &park")
            nursery.start_soon(wait_job, job)
            fs.reply_delay = 1.0  # the next reply takes 1 s
            nursery.start_soon(call, rt, "settles")
            await fs.wait_command("api echo settles")
            START = trio.current_time()

            async def during_drain() -> None:
                await rt.wait_state(RuntimeState.DRAINING)
                log("DRAINING")
                try:
                    await rt.api("status")
                except DrainError as exc:
                    log(f"new api call -> DrainError: {exc}")

            nursery.start_soon(during_drain)
            log("leaving the async with block")
        stop_reason = rt.health().reconnect.stop_reason
        log(f"block exited; state={rt.state.value}, stop_reason={stop_reason}")
    last = fs.commands[-1][1]
    print("last command FreeSWITCH received:", last.describe())  # type: ignore[union-attr]
    await trio.sleep(60)
    print("connections opened in total:", len(fs.all_connections))


async def main() -> None:
    config = RuntimeConfig(
        host="fake",
        heartbeat=HeartbeatConfig.disabled(),
        backpressure=BackpressureConfig(drain_timeout=3),
    )
    async with open_fake_freeswitch() as fs:
        print("-- backpressure")
        await backpressure(fs, config)
    async with open_fake_freeswitch() as fs:
        print("-- drain")
        await drain(fs, config)


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
