"""Originate a call and follow it through its events until hangup, on the Call API.

Run: .venv/bin/python docs/examples/originate_and_track.py

The PBX is the simulated one (answer after 0.5 s); the clock is virtual, so the 10-second
call takes no real time. Against a real FreeSWITCH, only the PBX and the connector go away.
"""

import trio
import trio.testing

from esl_trio import (
    EslRuntime,
    OriginateError,
    Receiver,
    RuntimeConfig,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import HeartbeatConfig
from esl_trio.protocol import Event
from esl_trio.testing import open_simulated_pbx


async def follow(events: Receiver[Event]) -> None:
    """Print the call's events until the channel is gone (the receiver ends then)."""
    async with events:
        async for item in events:
            if isinstance(item, StreamGap):
                print(f"t={trio.current_time():5.2f}  (events lost: {item.reason.value})")
                continue
            print(f"t={trio.current_time():5.2f}  {item.name}")


async def call_and_hang_up(rt: EslRuntime, destination: str) -> None:
    try:
        async with rt.originate(destination, timeout=30) as call:
            # Opened before the answer, so none of the call's events is missed.
            events = call.events("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")
            await call.wait_answered()  # OriginateError: outside any nursery, not in a group
            print(f"t={trio.current_time():5.2f}  answered: {call.uuid}")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow, events)
                await trio.sleep(10)
                outcome = await call.hangup("NORMAL_CLEARING")
            print(f"t={trio.current_time():5.2f}  hangup cause: {outcome.cause}")
    except OriginateError as failed:
        print(f"t={trio.current_time():5.2f}  not answered: {failed.cause}")


async def main() -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600) as pbx:
        config = RuntimeConfig(host="pbx", heartbeat=HeartbeatConfig.disabled())
        async with open_esl_runtime(config, connector=pbx.connector) as rt:
            await call_and_hang_up(rt, "loopback/15551234567")
            await call_and_hang_up(rt, "loopback/busy")


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
