"""An IVR menu with play_and_get_digits: ask, collect, route, retry once on bad input.

Run: .venv/bin/python docs/examples/ivr_menu.py
"""

import trio
import trio.testing

from esl_trio import Call, RuntimeConfig, open_esl_runtime
from esl_trio.config import HeartbeatConfig
from esl_trio.testing import SimulatedPbx, open_simulated_pbx

MENU = {"1": "sales", "2": "support"}


async def menu(call: Call) -> str | None:
    """The department the caller chose, or None after two tries without a valid choice."""
    for _ in range(2):
        digits = await call.play_and_get_digits(
            "ivr/ivr-welcome.wav",
            max_digits=1,
            timeout=5.0,
            invalid="ivr/ivr-that_was_an_invalid_entry.wav",
            regexp="[12]",
        )
        if digits in MENU:
            return MENU[digits]
        await call.playback("ivr/ivr-please_try_again.wav")
    return None


async def caller(pbx: SimulatedPbx, uuid: str) -> None:
    """The simulated person: presses 9 (invalid), then 2."""
    await trio.sleep(1.5)
    pbx.press(uuid, "9")
    await trio.sleep(8)
    pbx.press(uuid, "2")


async def main() -> None:
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600) as pbx:
        config = RuntimeConfig(host="pbx", heartbeat=HeartbeatConfig.disabled())
        async with (
            open_esl_runtime(config, connector=pbx.connector) as rt,
            rt.originate("loopback/5000") as call,
            trio.open_nursery() as nursery,
        ):
            await call.wait_answered()
            nursery.start_soon(caller, pbx, call.uuid)
            choice = await menu(call)
            print(f"t={trio.current_time():5.2f}  caller chose: {choice}")
            if choice is not None:
                await call.transfer(choice, context="default")


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
