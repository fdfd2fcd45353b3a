"""Record what the runtime sends and receives to a JSON-lines file (replay capture).

Run: .venv/bin/python docs/examples/replay_capture.py [OUTPUT]   (default: incident.jsonl)

"Production" is simulated by the fake FreeSWITCH here; in a real service you add the same
JsonLinesSink to your RuntimeConfig. docs/examples/incident.jsonl was written by this script,
and docs/examples/test_replay_incident.py turns it back into a test.
"""

import sys
from pathlib import Path

import trio

from esl_trio import RuntimeConfig, open_esl_runtime
from esl_trio.config import ReplayConfig, SubscriptionConfig
from esl_trio.replay import JsonLinesSink, load_capture
from esl_trio.testing import open_fake_freeswitch

CALL_EVENTS = ["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]


async def record(path: Path) -> None:
    async with open_fake_freeswitch() as fs:
        # What made this an "incident": an unusual version string, and a hangup whose
        # answer event was never seen.
        fs.api_handlers["version"] = lambda args: (
            "FreeSWITCH Version 1.10.12-release~64bit (-release 64bit)\n"
        )
        with JsonLinesSink(path) as sink:
            config = RuntimeConfig(
                host="pbx-1",
                subscriptions=SubscriptionConfig(events=CALL_EVENTS),
                replay=ReplayConfig(sinks=[sink]),
            )
            async with open_esl_runtime(config, connector=fs.connector) as rt:
                await rt.api("version")
                job = await rt.bgapi("status")
                await job.wait()
                fs.emit("CHANNEL_ANSWER", {"Unique-ID": "call-1"})
                fs.emit("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": "call-1"})
                fs.emit("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": "call-0"})
                await rt.api("show", "channels")  # a round trip: every event was read


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "incident.jsonl")
    path.unlink(missing_ok=True)  # JsonLinesSink appends to an existing file
    trio.run(record, path)
    for artifact in load_capture(path):
        keys = ", ".join(artifact.payload)
        print(f"{artifact.sequence:3} gen={artifact.generation} {artifact.name:<16} {{{keys}}}")


if __name__ == "__main__":
    main()
