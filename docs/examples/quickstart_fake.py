"""The quickstart against the fake FreeSWITCH: no PBX, no network, runs in well under a second.

Run: .venv/bin/python docs/examples/quickstart_fake.py
"""

import trio

from esl_trio import RuntimeConfig, RuntimeState, StreamGap, open_esl_runtime
from esl_trio.config import SubscriptionConfig
from esl_trio.protocol import ChannelEvent
from esl_trio.testing import open_fake_freeswitch


async def main() -> None:
    config = RuntimeConfig(
        host="fake",  # not used: the connector below replaces TCP
        password="ClueCon",  # noqa: S106 -- FreeSWITCH's well-known default
        subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER"]),
    )
    async with open_fake_freeswitch("ClueCon") as fs:
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            # api: the output, verbatim
            reply = await rt.api("status")
            print("status:", reply.text.splitlines()[0])

            # bgapi: returns once accepted; wait() gives the BACKGROUND_JOB event
            job = await rt.bgapi("version")
            done = await job.wait()
            print("job", job.job_uuid[:8], "->", done.result.strip())

            # events: open a receiver, then something happens on the switch
            async with rt.events.receiver("CHANNEL_ANSWER", max_buffer=100) as answers:
                fs.emit("CHANNEL_ANSWER", {"Unique-ID": "call-1", "Caller-Caller-ID-Number": "1"})
                with trio.fail_after(1):
                    item = await answers.receive()
                assert not isinstance(item, StreamGap)
                assert isinstance(item, ChannelEvent)
                print("answered:", item.unique_id, "from", item.caller_id_number)
                print("envelope:", item.envelope)

            health = rt.health()
            print("health:", health.state.value, health.live, health.events_received)
        # leaving the block drained, sent `exit` and closed the connection
        print("after the block:", rt.state.value)
        assert rt.state is RuntimeState.CLOSED


trio.run(main)
