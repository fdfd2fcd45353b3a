"""A connection loss and its recovery, as your code sees it, on trio's virtual clock.

Run: .venv/bin/python docs/examples/reconnect_timeline.py

At t=0 the fake FreeSWITCH drops the connection and refuses new ones for 6.5 s. With the
default RetryPolicy (1 s, doubling) the runtime tries at t=1, 3 and 7 s, and the third attempt
succeeds. A MockClock makes this instant and the times exact.
"""

import trio
import trio.testing

from esl_trio import (
    BackgroundJob,
    ConnectionLostError,
    EslRuntime,
    NotReadyError,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import HeartbeatConfig, RetryPolicy, SubscriptionConfig
from esl_trio.protocol import Event
from esl_trio.runtime import EventReceiver
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch


def log(start: float, message: str) -> None:
    print(f"t={trio.current_time() - start:5.2f}  {message}")


async def watch(rt: EslRuntime, start: float) -> None:
    """What a metrics scraper would see: rt.health(), printed whenever it changes."""
    last = None
    tick = 0
    await trio.sleep_until(start + 0.001)  # sample between the events, never at the same time
    while True:
        health = rt.health()
        status = health.reconnect
        now = (health.state, status.phase, status.attempt)
        if now != last:
            last = now
            line = f"{health.state.value:<12} {status.phase.value:<16} attempt={status.attempt}"
            if status.next_attempt_at is not None:
                due = status.next_attempt_at - start
                line += f" delay={status.delay:g} next_attempt_at=t+{due:g}"
            log(start, line)
        tick += 1
        await trio.sleep_until(start + 0.001 + tick * 0.005)


async def api_in_flight(rt: EslRuntime, start: float) -> None:
    try:
        await rt.api("status")
    except ConnectionLostError as exc:
        log(start, f"the api call in flight raised ConnectionLostError(written={exc.written})")


async def main() -> None:
    config = RuntimeConfig(
        host="fake",
        heartbeat=HeartbeatConfig.disabled(),  # this example is about the reconnect alone
        retry=RetryPolicy(),  # the defaults: 1 s, 2 s, 4 s, ... capped at 60 s, forever
        subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER"]),
    )
    async with open_fake_freeswitch() as fs:
        fs.auto_complete_jobs = False  # the job stays pending until complete_job()
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            job = await rt.bgapi("originate", "loopback/9664 &park")  # accepted on socket 1
            async with (
                rt.events.receiver("CHANNEL_ANSWER") as answers,
                trio.open_nursery() as nursery,
            ):
                fs.hold_replies()  # this reply will never come on this socket
                nursery.start_soon(api_in_flight, rt, trio.current_time())
                await fs.wait_command("api status")
                fs.release_replies()

                await outage(fs, rt, nursery, answers, job)
                nursery.cancel_scope.cancel()

            health = rt.health()
            print("health().reconnect:", health.reconnect)
            print("generation:", health.generation, "| last_error:", health.last_error)
            print("last_disconnect:", health.last_disconnect)


async def outage(
    fs: FakeFreeSwitch,
    rt: EslRuntime,
    nursery: trio.Nursery,
    answers: EventReceiver,
    job: BackgroundJob,
) -> None:
    start = trio.current_time()
    fs.refuse_connections = True
    await fs.drop_all()  # a crash or a cut cable: no notice
    log(start, "connection dropped; new connections refused for 6.5 s")
    nursery.start_soon(watch, rt, start)

    try:
        await rt.api("status")
    except NotReadyError as exc:
        log(start, f"a new api call raised NotReadyError: {exc}")

    await trio.sleep_until(start + 6.5)
    fs.refuse_connections = False
    fs.reply_delay = 0.05  # slow replies, so that the connecting/restoring phases show

    await rt.wait_state(RuntimeState.READY)
    log(start, "wait_state(READY) returned")
    fs.emit("CHANNEL_ANSWER", {"Unique-ID": "call-after"})
    fs.complete_job(job.job_uuid, "+OK 1b2c3d\n")
    done = await job.wait()
    assert done.envelope is not None  # set for every event the runtime delivers
    log(start, f"job accepted on generation 1 completed on generation {done.envelope.generation}")
    gap = await answers.receive()
    assert isinstance(gap, StreamGap)
    log(start, f"receiver: {gap}")
    after = await answers.receive()
    assert isinstance(after, Event)
    log(start, f"receiver: {after.unique_id}")
    await trio.sleep(0.01)  # let the watcher print the READY row


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
