"""A call tracker that notices lost events and resynchronises (StreamGap + `show channels`).

Run: .venv/bin/python docs/examples/no_event_loss.py

The receiver is deliberately tiny (max_buffer=5) and the consumer slow, so a burst of 30
events overflows it. The tracker sees the StreamGap, asks FreeSWITCH for the current
channels, and ends up with the right answer anyway.

The receiver uses Overflow.DROP_OLDEST: its gap marker goes to the front of the buffer at
once. With the default DROP_NEWEST the marker would wait for the next event that gets in,
and after a burst at the end of the day, that may be a long wait.
"""

import trio
import trio.testing

from esl_trio import EslRuntime, Overflow, RuntimeConfig, StreamGap, open_esl_runtime
from esl_trio.config import HeartbeatConfig, SubscriptionConfig
from esl_trio.runtime import EventReceiver
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch

EVENTS = ["CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE"]


class CallTracker:
    def __init__(self, rt: EslRuntime) -> None:
        self.rt = rt
        self.channels: set[str] = set()
        self.resyncs = 0

    async def run(self, events: EventReceiver) -> None:
        async for item in events:
            if isinstance(item, StreamGap):
                await self.resync(item)
                continue
            if item.name == "CHANNEL_CREATE":
                self.channels.add(item.unique_id or "")
            else:
                self.channels.discard(item.unique_id or "")
            await trio.sleep(0.01)  # a slow consumer: 10 ms per event

    async def resync(self, gap: StreamGap) -> None:
        """Events were lost: replace what we derived from them with FreeSWITCH's view."""
        self.resyncs += 1
        output = (await self.rt.api("show", "channels")).text
        # CSV: a header line, one line per channel (uuid first), a blank line, "N total."
        rows = [line for line in output.splitlines()[1:] if line and "total." not in line]
        self.channels = {row.split(",", 1)[0] for row in rows}
        print(f"gap ({gap.reason.value}, {gap.dropped} dropped): resynced, {len(self.channels)} up")


def burst(fs: FakeFreeSwitch) -> None:
    """20 calls start, 10 of them end, all at once."""
    for n in range(20):
        fs.channels.add(f"call-{n}")
        fs.emit("CHANNEL_CREATE", {"Unique-ID": f"call-{n}"})
    for n in range(10):
        fs.channels.discard(f"call-{n}")
        fs.emit("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": f"call-{n}"})


async def main() -> None:
    config = RuntimeConfig(
        host="fake",
        heartbeat=HeartbeatConfig.disabled(),
        subscriptions=SubscriptionConfig(events=EVENTS),
    )
    async with (
        open_fake_freeswitch() as fs,
        open_esl_runtime(config, connector=fs.connector) as rt,
        rt.events.receiver(*EVENTS, max_buffer=5, overflow=Overflow.DROP_OLDEST) as events,
        trio.open_nursery() as nursery,
    ):
        tracker = CallTracker(rt)
        nursery.start_soon(tracker.run, events)
        burst(fs)
        await rt.api("status")  # a round trip: the whole burst has been routed
        await trio.sleep(1)  # let the slow consumer catch up
        stats = events.statistics()
        print(f"receiver: delivered={stats.delivered} dropped={stats.dropped} gaps={stats.gaps}")
        print(f"health: events_dropped={rt.health().events_dropped}")
        print(f"tracker: {len(tracker.channels)} channels up, {tracker.resyncs} resync(s)")
        assert tracker.channels == fs.channels
        nursery.cancel_scope.cancel()


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
