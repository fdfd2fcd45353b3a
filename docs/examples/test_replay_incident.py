"""A captured incident, replayed as a regression test against the fake FreeSWITCH.

Run: .venv/bin/pytest docs/examples/test_replay_incident.py -p esl_trio.testing.pytest_plugin -q

incident.jsonl (next to this file) was recorded by replay_capture.py with a JsonLinesSink.
ReplayScript answers the recorded api commands with the recorded outputs and writes the
recorded events to the client byte for byte, in their original order.
"""

from pathlib import Path

import trio

from esl_trio import EslRuntime, RuntimeConfig, StreamGap, open_esl_runtime
from esl_trio.config import HeartbeatConfig
from esl_trio.protocol import Event
from esl_trio.replay import load_capture
from esl_trio.testing import FakeFreeSwitch, ReplayScript

CAPTURE = Path(__file__).with_name("incident.jsonl")
CONFIG = RuntimeConfig(host="replay", heartbeat=HeartbeatConfig.disabled())

# -- the code under test: your application ------------------------------------------------


def parse_version(text: str) -> tuple[int, int, int]:
    """'FreeSWITCH Version 1.10.12-release~64bit ...' -> (1, 10, 12)."""
    number = text.split("Version", 1)[1].split()[0]
    major, minor, patch = number.split("-")[0].split("~")[0].split(".")[:3]
    return int(major), int(minor), int(patch)


class CallTracker:
    """Active calls, from CHANNEL_ANSWER / CHANNEL_HANGUP_COMPLETE."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.unknown_hangups: list[str] = []

    def feed(self, event: Event) -> None:
        uuid = event.unique_id or ""
        if event.name == "CHANNEL_ANSWER":
            self.active.add(uuid)
        elif uuid in self.active:
            self.active.discard(uuid)
        else:
            self.unknown_hangups.append(uuid)  # the incident: this used to raise KeyError


# -- the tests ------------------------------------------------------------------------------


def test_the_capture_is_what_we_think() -> None:
    names = [artifact.name for artifact in load_capture(CAPTURE)]
    assert names.count("event.raw") == 4  # the job's BACKGROUND_JOB and three call events
    script = ReplayScript.from_file(CAPTURE)
    assert ("version", "") in script.api_outputs


async def test_version_from_the_incident(fake_freeswitch: FakeFreeSwitch) -> None:
    ReplayScript.from_file(CAPTURE).install(fake_freeswitch)
    async with open_esl_runtime(CONFIG, connector=fake_freeswitch.connector) as rt:
        reply = await rt.api("version")
    assert parse_version(reply.text) == (1, 10, 12)


async def track(
    rt: EslRuntime,
    tracker: CallTracker,
    count: int,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with rt.events.receiver("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE") as events:
        task_status.started()  # the receiver exists: events can be written now
        async for item in events:
            assert not isinstance(item, StreamGap)
            tracker.feed(item)
            count -= 1
            if count == 0:
                return


async def test_events_from_the_incident(fake_freeswitch: FakeFreeSwitch) -> None:
    script = ReplayScript.from_file(CAPTURE)
    tracker = CallTracker()
    async with (
        open_esl_runtime(CONFIG, connector=fake_freeswitch.connector) as rt,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(track, rt, tracker, 3)
        assert script.play_events(fake_freeswitch) == 4
    assert tracker.active == set()
    assert tracker.unknown_hangups == ["call-0"]
