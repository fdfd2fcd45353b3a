"""Outbound handlers that ``esl-trio serve-outbound`` loads in the tests (``module:function``).

Each one leaves a trace FreeSWITCH's side can check (the applications it ran, its hangup), so a
test that loads the wrong handler, or none, fails.
"""

from __future__ import annotations

import functools

import trio

from esl_trio import OutboundCall

#: What the echo handler plays: a short tone, so a real FreeSWITCH finishes it quickly too.
TONE = "tone_stream://%(100,0,440)"


async def answer_and_play(call: OutboundCall) -> None:
    """Answer, play a tone, return (the server then hangs up with NORMAL_CLEARING)."""
    await call.answer()
    await call.playback(TONE)


async def hold(call: OutboundCall) -> None:
    """Answer, then stay until the far end hangs up (or the server's drain cancels us)."""
    await call.answer()
    await call.wait_hangup()


async def fail(call: OutboundCall) -> None:
    """Raise after answering: the server hangs the call up with its ``error_cause``."""
    await call.answer()
    raise RuntimeError("the example handler failed on purpose")


async def _play(call: OutboundCall, tone: str) -> None:
    await call.answer()
    await call.playback(tone)


#: A ``functools.partial`` of an async function is an async callable too.
play_low = functools.partial(_play, tone="tone_stream://%(100,0,220)")


class Handlers:
    """An object whose ``handle`` method is an async callable."""

    async def handle(self, call: OutboundCall) -> None:
        await answer_and_play(call)

    async def __call__(self, call: OutboundCall) -> None:
        await answer_and_play(call)


handlers = Handlers()


def not_async(call: OutboundCall) -> None:
    """A plain function: refused (it would never be awaited)."""


NOT_CALLABLE = 42


async def ignore_hangup(call: OutboundCall) -> None:
    """Keep running after the hangup: the server cancels it after ``hangup_grace``."""
    await call.answer()
    await call.wait_hangup()
    await trio.sleep_forever()
