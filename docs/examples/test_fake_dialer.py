"""Testing an outbound-socket application with the fake dialer.

In outbound mode FreeSWITCH connects to *your* server for each call (dialplan
``socket 127.0.0.1:8084 async full``). The ``fake_dialer`` fixture plays FreeSWITCH's side.

Run: .venv/bin/pytest docs/examples/test_fake_dialer.py -q
"""

import functools
from urllib.parse import unquote

import trio

from esl_trio.protocol import Event, Frame, FrameParser, MyEvents, SendMsg, classify
from esl_trio.testing import FakeDialer

# -- the code under test: a tiny outbound application -----------------------------------------


async def handle_call(stream: trio.abc.Stream) -> str:
    """Answer, play a prompt, return the first digit the caller presses, hang up."""
    parser = FrameParser()

    async def next_frame() -> Frame:
        while (frame := parser.next_frame()) is None:
            parser.feed(await stream.receive_some(65536))
        return frame

    await stream.send_all(b"connect\n\n")
    channel = await next_frame()  # the channel's data, in one header block
    uuid = unquote(channel.headers.get("Unique-ID") or "")
    await stream.send_all(MyEvents(uuid).to_bytes())
    await stream.send_all(SendMsg.execute(uuid, "answer").to_bytes())
    await stream.send_all(SendMsg.execute(uuid, "playback", "ivr/ivr-welcome.wav").to_bytes())
    while True:
        message = classify(await next_frame())
        if isinstance(message, Event) and message.name == "DTMF":
            digit = message.headers.get("DTMF-Digit") or ""
            break
    hangup = SendMsg(uuid, [("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING")])
    await stream.send_all(hangup.to_bytes())
    return digit


# -- tests ----------------------------------------------------------------------------------


async def test_caller_presses_a_digit(
    fake_dialer: FakeDialer, autojump_clock: trio.abc.Clock
) -> None:
    fake_dialer.app_durations["playback"] = 2.0  # virtual seconds
    call, stream = await fake_dialer.dial_memory(variables={"caller_id_number": "1000"})

    async def caller() -> None:
        await call.wait_command(lambda c: c.header("execute-app-name") == "playback")
        call.send_dtmf("7")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        assert await handle_call(stream) == "7"
    await call.wait_closed()
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert [name for name, _ in call.applications] == ["answer", "playback"]


async def test_over_tcp(fake_dialer: FakeDialer) -> None:
    digits: list[str] = []

    async def server(stream: trio.SocketStream) -> None:
        digits.append(await handle_call(stream))

    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, server, 0, host="127.0.0.1")
        (listener,) = await nursery.start(serve)
        port = listener.socket.getsockname()[1]
        call = await fake_dialer.dial(("127.0.0.1", port))
        await call.wait_command(lambda c: c.header("execute-app-name") == "playback")
        call.send_dtmf("5")
        with trio.fail_after(10):
            await call.wait_closed()
        nursery.cancel_scope.cancel()
    assert digits == ["5"]
