"""Testing an outbound-socket handler with the fake dialer.

In outbound mode FreeSWITCH connects to *your* server for each call (dialplan
``socket 127.0.0.1:8084 async full``). Here the server is esl-trio's own
``open_outbound_server``; the ``fake_dialer`` fixture plays FreeSWITCH's side.

Run: .venv/bin/pytest docs/examples/test_fake_dialer.py -q
"""

from collections.abc import AsyncIterator

import pytest
import trio

from esl_trio import OutboundCall, open_outbound_server
from esl_trio.outbound import OutboundServer
from esl_trio.testing import FakeDialer, FakeOutboundCall

# -- the code under test: a one-question IVR --------------------------------------------------

MENU = {"1": "sales", "2": "support"}


async def ivr(call: OutboundCall) -> None:
    """Ask for a department; send the caller back to the dialplan with ``ivr_choice`` set,
    or hang up (by returning) when no valid digit came within 5 s."""
    await call.answer()
    choice = None
    async with call.dtmf() as digits:
        await call.playback("ivr/ivr-welcome.wav")
        with trio.move_on_after(5):
            async for digit in digits:
                if isinstance(digit, str) and digit in MENU:
                    choice = MENU[digit]
                    break
    if choice is None:
        return  # leaving the handler hangs the call up (NORMAL_CLEARING)
    await call.set("ivr_choice", choice)
    await call.resume()  # the dialplan goes on after `socket`


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[OutboundServer]:
    """The handler served over memory streams (listen=False): no port, virtual time works."""
    async with open_outbound_server(ivr, listen=False) as running:
        yield running


async def dial(fake_dialer: FakeDialer, server: OutboundServer) -> FakeOutboundCall:
    """One call: the fake dials, the server takes the other end of the stream."""
    call, stream = await fake_dialer.dial_memory()
    server.serve_stream(stream)
    return call


async def wait_for_prompt(call: FakeOutboundCall) -> None:
    await call.wait_command(lambda c: c.header("execute-app-name") == "playback")


# -- tests ----------------------------------------------------------------------------------


async def test_a_choice_goes_back_to_the_dialplan(
    fake_dialer: FakeDialer, server: OutboundServer, autojump_clock: trio.abc.Clock
) -> None:
    fake_dialer.app_durations["playback"] = 2.0  # virtual seconds
    call = await dial(fake_dialer, server)
    await wait_for_prompt(call)
    call.send_dtmf("92")  # during the prompt; 9 is not on the menu
    await call.wait_closed()
    assert ("set", "ivr_choice=support") in call.applications
    assert any(c.verb == "resume" for c in call.commands)
    assert call.hangup_cause is None  # not hung up: the dialplan has the channel
    assert trio.current_time() == 2.0  # the prompt played to its end, then the choice counted
    assert server.stats().completed == 1


async def test_no_choice_hangs_up_after_the_timeout(
    fake_dialer: FakeDialer, server: OutboundServer, autojump_clock: trio.abc.Clock
) -> None:
    fake_dialer.app_durations["playback"] = 2.0
    call = await dial(fake_dialer, server)
    await call.wait_closed()
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert trio.current_time() == 2.0 + 5.0  # the prompt, then the menu's 5 s
    assert not any(name == "set" for name, _ in call.applications)


async def test_a_caller_hanging_up_is_no_handler_error(
    fake_dialer: FakeDialer, server: OutboundServer, autojump_clock: trio.abc.Clock
) -> None:
    fake_dialer.app_durations["playback"] = 2.0
    call = await dial(fake_dialer, server)
    await wait_for_prompt(call)
    call.hangup("NORMAL_CLEARING")  # the caller gives up during the prompt
    await call.wait_closed()
    # Either the prompt had started (it completes, the digits loop ends with the hangup and
    # the handler returns) or not (it never runs: playback raises CallEndedError, which the
    # server counts as hung_up). Nothing failed either way.
    stats = server.stats()
    assert (stats.completed + stats.hung_up, stats.failed, stats.active) == (1, 0, 0)
    assert trio.current_time() < 1  # at once: no menu timeout, no grace


async def test_over_tcp(fake_dialer: FakeDialer) -> None:
    """The same handler on a real port (port=0: any free one), as FreeSWITCH reaches it."""
    async with open_outbound_server(ivr, port=0) as tcp_server:
        call = await fake_dialer.dial(("127.0.0.1", tcp_server.port))
        await wait_for_prompt(call)
        call.send_dtmf("1")
        with trio.fail_after(10):
            await call.wait_closed()
    assert ("set", "ivr_choice=sales") in call.applications
    assert tcp_server.stats().completed == 1
