"""Originate a call with bgapi and follow it through its events until hangup.

Run: .venv/bin/python docs/examples/originate_and_track.py

The PBX is the fake FreeSWITCH with a scripted `originate` (ring 2 s, answer) and
`uuid_kill`; the clock is virtual, so the 10-second call takes no real time. Against a real
FreeSWITCH, only `simulate_pbx` goes away.
"""

import uuid

import trio
import trio.testing

from esl_trio import (
    CommandTimeoutError,
    ConnectionLostError,
    EslRuntime,
    EventReceiver,
    HeartbeatConfig,
    RuntimeConfig,
    StreamGap,
    SubscriptionConfig,
    open_esl_runtime,
)
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch

CALL_EVENTS = ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]


class CallFailed(Exception):
    pass


async def originate(rt: EslRuntime, destination: str, app: str = "&park") -> str:
    """Start a call; return its UUID once FreeSWITCH answered the originate."""
    call_uuid = str(uuid.uuid4())  # chosen here, so we can recognise its events at once
    try:
        job = await rt.bgapi("originate", f"{{origination_uuid={call_uuid}}}{destination} {app}")
    except (ConnectionLostError, CommandTimeoutError):
        # The command may have reached FreeSWITCH: ask before dialling again.
        if (await rt.api("uuid_exists", call_uuid)).text.strip() == "true":
            return call_uuid
        raise
    done = await job.wait()  # CommandTimeoutError after Timeouts.bgapi_completion
    if not done.ok:
        raise CallFailed(done.result.strip())  # e.g. "-ERR NO_ANSWER"
    return call_uuid


async def follow(rt: EslRuntime, events: EventReceiver, call_uuid: str) -> str:
    """Print this call's events; return the hangup cause."""
    async for item in events:
        if isinstance(item, StreamGap):
            # Events were lost (overflow or reconnect): ask FreeSWITCH for the truth.
            if (await rt.api("uuid_exists", call_uuid)).text.strip() != "true":
                return "UNKNOWN (ended while we were not looking)"
            continue
        if item.unique_id != call_uuid:
            continue  # another call
        received = item.envelope.received_at if item.envelope else trio.current_time()
        print(f"t={received:5.2f}  {item.name} (received)")
        if item.name == "CHANNEL_HANGUP_COMPLETE":
            return item.get("Hangup-Cause", "")
    return "UNKNOWN (receiver closed)"


async def call_and_hang_up(rt: EslRuntime) -> None:
    # Open the receiver *before* the originate: no event of the call can be missed.
    async with rt.events.receiver(*CALL_EVENTS, max_buffer=10_000) as events:
        call_uuid = await originate(rt, "sofia/gateway/carrier/15551234567")
        print(f"t={trio.current_time():5.2f}  answered: {call_uuid}")
        async with trio.open_nursery() as nursery:

            async def hang_up_later() -> None:
                await trio.sleep(10)
                await rt.api("uuid_kill", f"{call_uuid} NORMAL_CLEARING")

            nursery.start_soon(hang_up_later)
            cause = await follow(rt, events, call_uuid)
        print(f"t={trio.current_time():5.2f}  hangup cause: {cause}")


def simulate_pbx(fs: FakeFreeSwitch) -> None:
    """Teach the fake FreeSWITCH just enough of `originate` and `uuid_kill`."""

    async def originate(args: str) -> str:
        call_uuid = args.split("origination_uuid=", 1)[1].split("}", 1)[0]
        fs.channels.add(call_uuid)
        fs.emit("CHANNEL_CREATE", {"Unique-ID": call_uuid})
        await trio.sleep(2)  # ringing
        fs.emit("CHANNEL_ANSWER", {"Unique-ID": call_uuid})
        return f"+OK {call_uuid}\n"

    def uuid_kill(args: str) -> str:
        call_uuid, _, cause = args.partition(" ")
        fs.channels.discard(call_uuid)
        fs.emit("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": call_uuid, "Hangup-Cause": cause})
        return "+OK\n"

    fs.api_handlers["originate"] = originate
    fs.api_handlers["uuid_kill"] = uuid_kill


async def main() -> None:
    config = RuntimeConfig(
        host="fake",
        heartbeat=HeartbeatConfig.disabled(),
        subscriptions=SubscriptionConfig(events=CALL_EVENTS),
    )
    async with open_fake_freeswitch() as fs:
        simulate_pbx(fs)
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            await call_and_hang_up(rt)


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
