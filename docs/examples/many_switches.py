"""One runtime per FreeSWITCH, in one nursery, with one merged event stream.

Run: .venv/bin/python docs/examples/many_switches.py

Three fake switches on a virtual clock: pbx-a is up; pbx-b refuses connections for the first
5 s; pbx-c rejects the password. The service keeps serving the switches that work, keeps
retrying the others, and reports health per switch.
"""

import attrs
import trio
import trio.testing

from esl_trio import EslError, EslRuntime, RuntimeConfig, RuntimeState, StreamGap, open_esl_runtime
from esl_trio.config import HeartbeatConfig, RetryPolicy, SubscriptionConfig
from esl_trio.protocol import Event
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch

BASE = RuntimeConfig(
    host="unused",
    heartbeat=HeartbeatConfig.disabled(),  # on in production; off to keep the output short
    retry=RetryPolicy(retry_first_connect=True, max_delay=30),  # a switch may be down at start
    subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER"]),
)

Item = tuple[str, Event | StreamGap]


async def keep_switch(
    name: str,
    config: RuntimeConfig,
    fs: FakeFreeSwitch,
    runtimes: dict[str, EslRuntime],
    out: trio.MemorySendChannel[Item],
) -> None:
    """Serve one switch for ever: a new runtime whenever the previous one stopped for good."""
    while True:
        try:
            async with open_esl_runtime(config, connector=fs.connector) as rt:
                runtimes[name] = rt
                print(f"t={trio.current_time():5.1f}  {name}: READY")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(forward, name, rt, out)
                    await rt.wait_state(RuntimeState.FAILED)  # reconnects happen inside
                    nursery.cancel_scope.cancel()
                reason = rt.health().reconnect.stop_reason
                print(f"t={trio.current_time():5.1f}  {name}: stopped for good ({reason})")
        except EslError as exc:  # the first connection failed for good (e.g. bad password)
            print(f"t={trio.current_time():5.1f}  {name}: {type(exc).__name__}: {exc}")
        runtimes.pop(name, None)
        await trio.sleep(60)  # then try again with a fresh runtime


async def forward(name: str, rt: EslRuntime, out: trio.MemorySendChannel[Item]) -> None:
    async with rt.events.receiver("CHANNEL_ANSWER", max_buffer=10_000) as events:
        async for item in events:
            await out.send((name, item))  # a slow consumer fills this receiver, not the socket


async def consume(items: trio.MemoryReceiveChannel[Item]) -> None:
    async for name, item in items:
        if isinstance(item, StreamGap):
            print(f"t={trio.current_time():5.1f}  {name}: gap ({item.reason.value})")
        else:
            print(f"t={trio.current_time():5.1f}  {name}: {item.name} {item.unique_id}")


async def main() -> None:
    async with (
        open_fake_freeswitch() as pbx_a,
        open_fake_freeswitch() as pbx_b,
        open_fake_freeswitch(password="other") as pbx_c,  # noqa: S106
        trio.open_nursery() as nursery,
    ):
        switches = {"pbx-a": pbx_a, "pbx-b": pbx_b, "pbx-c": pbx_c}
        pbx_b.refuse_connections = True
        runtimes: dict[str, EslRuntime] = {}
        send, receive = trio.open_memory_channel[Item](1000)
        nursery.start_soon(consume, receive)
        for name, fs in switches.items():
            config = attrs.evolve(BASE, host=name)
            nursery.start_soon(keep_switch, name, config, fs, runtimes, send.clone())

        await trio.sleep(5)
        pbx_b.refuse_connections = False
        await trio.sleep(5)
        for name, fs in switches.items():
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": f"call-on-{name}"})
        await trio.sleep(1)

        for name in switches:
            rt = runtimes.get(name)
            state = rt.health().state.value if rt else "not connected"
            print(f"health  {name}: {state}")
        nursery.cancel_scope.cancel()


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
