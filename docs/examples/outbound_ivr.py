"""An outbound IVR: FreeSWITCH connects to our server for each call; the handler is the call.

Run: .venv/bin/python docs/examples/outbound_ivr.py

FreeSWITCH's side is the fake dialer of esl_trio.testing, over in-memory streams on a virtual
clock. Against a real FreeSWITCH, serve the same handler on TCP with ``serve_outbound(ivr)``
(127.0.0.1:8084) and send calls to it from the dialplan:

    <action application="socket" data="127.0.0.1:8084 async full"/>
"""

import trio
import trio.testing

from esl_trio import OutboundCall, open_outbound_server
from esl_trio.testing import FakeOutboundCall, open_fake_dialer

MENU = {"1": "sales", "2": "support"}


def at(text: str) -> None:
    print(f"t={trio.current_time():4.1f}  {text}")


async def menu(call: OutboundCall) -> str | None:
    """The welcome prompt, then the first valid digit within 5 s (pressed during the prompt
    too: the receiver is open before the prompt starts)."""
    async with call.dtmf() as digits:
        await call.playback("ivr/ivr-welcome.wav")
        with trio.move_on_after(5):
            async for digit in digits:
                if isinstance(digit, str) and digit in MENU:
                    return MENU[digit]
    return None


async def ivr(call: OutboundCall) -> None:
    """The handler: one call, in the call's own scope."""
    at(f"{call.uuid}: call for {call.channel_data.destination_number}")
    await call.answer()
    choice = await menu(call)
    if choice is None:
        await call.playback("ivr/ivr-call_cannot_be_completed_as_dialed.wav")
        return  # leaving the handler hangs the call up (NORMAL_CLEARING)
    await call.set("ivr_choice", choice)
    await call.resume()  # when the handler returns, the dialplan goes on after `socket`
    at(f"{call.uuid}: chose {choice}; back to the dialplan")


async def wait_for_prompt(fake: FakeOutboundCall) -> None:
    await fake.wait_command(lambda c: c.header("execute-app-name") == "playback")


async def report(fake: FakeOutboundCall) -> None:
    await fake.wait_closed()
    outcome = fake.hangup_cause or "the channel is up, back in the dialplan"
    at(f"{fake.uuid}: socket closed; {outcome}")


async def main() -> None:
    async with (
        open_fake_dialer() as dialer,
        open_outbound_server(ivr, listen=False) as server,  # listen=False: memory streams
        trio.open_nursery() as nursery,
    ):
        dialer.app_durations["playback"] = 2.0  # virtual seconds per prompt
        calls = []
        for uuid in ("call-1", "call-2", "call-3"):
            fake, stream = await dialer.dial_memory(uuid=uuid)
            server.serve_stream(stream)  # what the TCP listener does for each socket
            nursery.start_soon(report, fake)
            calls.append(fake)
        chooser, _silent, leaver = calls  # call-2 presses nothing: its menu times out

        await wait_for_prompt(chooser)
        chooser.send_dtmf("92")  # 9 is not on the menu; 2 is
        await wait_for_prompt(leaver)
        leaver.hangup()  # hangs up during the prompt: the handler's playback raises
    # Leaving the server block drained it: every handler had finished.
    print("applications of call-1:", chooser.applications)
    print(server.stats())


trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
