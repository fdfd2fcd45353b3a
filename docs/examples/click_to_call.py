"""Click-to-call: ring the agent, then the customer, bridge the two legs.

Run: .venv/bin/python docs/examples/click_to_call.py

Both calls are scopes: whatever happens (the customer is busy, the agent hangs up, Ctrl-C),
leaving the blocks hangs up what is still up.
"""

import trio
import trio.testing

from esl_trio import EslRuntime, OriginateError, RuntimeConfig, open_esl_runtime
from esl_trio.config import HeartbeatConfig
from esl_trio.testing import open_simulated_pbx


async def click_to_call(rt: EslRuntime, agent: str, customer: str) -> str:
    """Connect ``agent`` with ``customer``; returns how the conversation ended."""
    caller_id = {"origination_caller_id_number": "5551000"}
    async with rt.originate(agent, variables=caller_id, timeout=20) as agent_leg:
        await agent_leg.wait_answered()
        await agent_leg.playback("ivr/ivr-please_hold.wav")
        try:
            async with rt.originate(customer, variables=caller_id, timeout=30) as customer_leg:
                await customer_leg.wait_answered()
                await agent_leg.bridge(customer_leg)
                print(f"t={trio.current_time():5.2f}  bridged")
                return (await customer_leg.wait_hangup()).cause
        except OriginateError as failed:
            await agent_leg.playback("ivr/ivr-call_cannot_be_completed_as_dialed.wav")
            return f"customer not reached: {failed.cause}"


async def main() -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600) as pbx:
        config = RuntimeConfig(host="pbx", heartbeat=HeartbeatConfig.disabled())
        async with open_esl_runtime(config, connector=pbx.connector) as rt:
            print(await click_to_call(rt, "loopback/1000", "loopback/busy"))
            async with trio.open_nursery() as nursery:

                async def customer_hangs_up() -> None:
                    await trio.sleep(30)
                    for uuid in list(pbx.calls):
                        pbx.hangup(uuid)
                        break

                nursery.start_soon(customer_hangs_up)
                print(await click_to_call(rt, "loopback/1000", "loopback/5551234"))
            print(f"t={trio.current_time():5.2f}  calls up: {len(pbx.calls)}")


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
