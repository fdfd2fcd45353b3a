"""The first-connection tutorial, as one program.

Run against your FreeSWITCH:  ESL_TRIO_URL=esl://ClueCon@127.0.0.1:8021 \\
                              .venv/bin/python docs/examples/first_connection.py
Run with no PBX:              .venv/bin/python docs/examples/first_connection.py
(without ESL_TRIO_URL it starts the fake FreeSWITCH on a loopback TCP port and uses that)
"""

import os

import trio

from esl_trio import RuntimeConfig, StreamGap, open_esl_runtime
from esl_trio.protocol import CustomEvent
from esl_trio.testing import open_fake_freeswitch

SUBCLASS = "tutorial::hello"


async def run(config: RuntimeConfig) -> None:
    print("connecting to", config.address)  # host:port, never the password
    async with open_esl_runtime(config) as rt:
        # Step 3: one api command. The reply is FreeSWITCH's output, verbatim.
        reply = await rt.api("status")
        print("status:", reply.text.splitlines()[0])

        # Step 4: a background job. bgapi returns once FreeSWITCH accepted it.
        job = await rt.bgapi("version")
        done = await job.wait()
        print("version:", done.result.strip())

        # Step 5: events. Subscribe, open a receiver, then make something happen.
        await rt.subscriptions.subscribe_custom(SUBCLASS)
        async with rt.events.receiver(subclasses=[SUBCLASS]) as hellos:
            uuid = await rt.sendevent(
                "CUSTOM", {"Event-Subclass": SUBCLASS, "Greeting": "hello from esl-trio"}
            )
            print("fired event", uuid)
            with trio.fail_after(5):
                item = await hellos.receive()
            assert not isinstance(item, StreamGap)
            assert isinstance(item, CustomEvent)
            print("received:", item.name, item.subclass, item.get("Greeting"))

        # Step 6: health.
        health = rt.health()
        print(
            "health:", health.state.value, "live:", health.live, "events:", health.events_received
        )
    # Step 7: the block has drained, sent `exit` and closed the socket.
    print("closed:", rt.state.value)


async def main() -> None:
    if "ESL_TRIO_URL" in os.environ:
        await run(RuntimeConfig.from_env())
        return
    async with open_fake_freeswitch("ClueCon") as fs:
        port = await fs.serve_tcp()  # a real TCP listener on 127.0.0.1
        await run(RuntimeConfig(host="127.0.0.1", port=port, password="ClueCon"))  # noqa: S106


trio.run(main)
