"""Take over parked calls: watch CHANNEL_PARK, attach, greet, and hand each one on.

Run: .venv/bin/python docs/examples/parked_calls.py

One task per parked call here is the application's choice (each runs a little script); the
runtime itself adds none.
"""

import trio
import trio.testing

from esl_trio import EslRuntime, RuntimeConfig, open_esl_runtime
from esl_trio.config import HeartbeatConfig, SubscriptionConfig
from esl_trio.protocol import ChannelEvent
from esl_trio.testing import open_simulated_pbx


async def take_over(rt: EslRuntime, uuid: str, caller: str) -> None:
    async with rt.attach(uuid, hangup_on_exit=True) as call:
        print(f"t={trio.current_time():5.2f}  took over the call from {caller}")
        await call.playback("ivr/ivr-welcome.wav")
        await call.set("handled_by", "esl-trio")


async def main() -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600) as pbx:
        config = RuntimeConfig(
            host="pbx",
            heartbeat=HeartbeatConfig.disabled(),
            subscriptions=SubscriptionConfig(events=["CHANNEL_PARK"]),
        )
        async with (
            open_esl_runtime(config, connector=pbx.connector) as rt,
            rt.events.receiver("CHANNEL_PARK") as parks,
            trio.open_nursery() as nursery,
        ):
            for caller in ("1001", "1002"):
                pbx.originate("9664", caller=caller)
            taken = set()
            async for park in parks:
                if not isinstance(park, ChannelEvent) or park.unique_id is None:
                    continue  # a StreamGap: a reconnect; the next parks still come
                if park.call_direction == "outbound" and park.unique_id not in taken:
                    taken.add(park.unique_id)  # the A legs: the callers' side
                    caller = park.get("Caller-Orig-Caller-ID-Number") or "?"
                    nursery.start_soon(take_over, rt, park.unique_id, caller)
                if len(taken) == 2:
                    break
        print(f"t={trio.current_time():5.2f}  calls up: {len(pbx.calls)}")


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
