"""Your first call: originate, play a tone, read a digit, hang up by leaving the block.

Run: .venv/bin/python docs/examples/first_call.py

The PBX is the simulated one from esl_trio.testing on a virtual clock; against a real
FreeSWITCH, replace it with ``RuntimeConfig.from_env()`` and no connector.
"""

import trio
import trio.testing

from esl_trio import RuntimeConfig, StreamGap, open_esl_runtime
from esl_trio.config import HeartbeatConfig
from esl_trio.testing import SimulatedPbx, open_simulated_pbx


async def first_call(pbx: SimulatedPbx) -> None:
    config = RuntimeConfig(host="pbx", heartbeat=HeartbeatConfig.disabled())
    async with open_esl_runtime(config, connector=pbx.connector) as rt:
        async with rt.originate("loopback/9196/default", variables={"x": "1"}) as call:
            await call.wait_answered()
            print(f"t={trio.current_time():4.2f}  answered {call.uuid[:8]}…")
            done = await call.execute("playback", "tone_stream://%(300,0,440)")
            print(f"t={trio.current_time():4.2f}  {done['Application']}: "
                  f"{done['Application-Response']}")  # fmt: skip
            async with call.dtmf() as digits:
                pbx.press(call.uuid, "7")  # in real life: the person on the phone
                async for digit in digits:
                    if not isinstance(digit, StreamGap):
                        print(f"t={trio.current_time():4.2f}  pressed {digit}")
                        break
        # Leaving the block hung the call up (normally, by exception or by cancellation).
        print(f"t={trio.current_time():4.2f}  left the block; calls up: {len(pbx.calls)}")


async def main() -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600) as pbx:
        await first_call(pbx)


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
