"""A fake FreeSWITCH on a loopback TCP port, to try programs without a PBX.

Run: .venv/bin/python docs/examples/fake_server.py [PORT]      (default: a free port)

It prints the ESL_TRIO_URL to use, fires HEARTBEAT every 20 s like FreeSWITCH, and a short
call (CHANNEL_ANSWER, then CHANNEL_HANGUP_COMPLETE) every 2 s. Stop it with Ctrl+C.
"""

import contextlib
import itertools
import sys

import trio

from esl_trio.testing import open_fake_freeswitch


async def main(port: int) -> None:
    async with open_fake_freeswitch("ClueCon", heartbeat_interval=20) as fs:
        bound = await fs.serve_tcp(port=port)
        print(f"ESL_TRIO_URL=esl://ClueCon@127.0.0.1:{bound}", flush=True)
        for n in itertools.count(1):
            await trio.sleep(2)
            call = f"call-{n}"
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": call})
            fs.emit(
                "CHANNEL_HANGUP_COMPLETE", {"Unique-ID": call, "Hangup-Cause": "NORMAL_CLEARING"}
            )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
