"""Two-strike liveness on a hung server, on trio's virtual clock.

Run: .venv/bin/python docs/examples/liveness_timeline.py

The fake FreeSWITCH goes silent at t=0: it keeps reading, but writes nothing (a hung peer,
or a NAT box that dropped the flow). With HeartbeatConfig(interval=5): at t=5 the runtime is
no longer "live" and sends one `api status` probe; at t=10 it declares the connection dead and
takes the reconnect path (RetryPolicy: first retry after 1 s).
"""

import trio
import trio.testing

from esl_trio import RuntimeConfig, RuntimeState, open_esl_runtime
from esl_trio.config import HeartbeatConfig
from esl_trio.testing import open_fake_freeswitch


async def main() -> None:
    config = RuntimeConfig(host="fake", heartbeat=HeartbeatConfig(interval=5))
    async with (
        open_fake_freeswitch() as fs,
        open_esl_runtime(config, connector=fs.connector) as rt,
    ):
        start = trio.current_time()

        def log(message: str) -> None:
            health = rt.health()
            print(
                f"t={trio.current_time() - start:5.2f}  state={health.state.value:<12} "
                f"live={health.live!s:<5}  {message}"
            )

        fs.silence()
        log("the server goes silent")
        await trio.sleep(4.9)
        log("still within one interval")
        await fs.wait_command("api status")
        log("first strike: one `api status` probe sent")
        await trio.sleep(0.01)
        log("degraded: not live, still READY")
        await rt.wait_state(RuntimeState.RECONNECTING)
        log("second strike: the connection is dead")
        fs.unsilence()
        await rt.wait_state(RuntimeState.READY)
        log(f"reconnected: generation {rt.health().generation}")
        print("last_disconnect:", rt.health().last_disconnect)


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
