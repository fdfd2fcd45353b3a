"""Issue 11 item 10: calls against a real FreeSWITCH 1.11 (opt-in, like test_live.py).

Skipped unless ``ESL_TRIO_LIVE_URL=esl://password@host:port`` is set. They use the default
dialplan's extensions through mod_loopback (9196: echo, 9664: music on hold). Facts relied on,
from FreeSWITCH's source and the recorded traffic in tests/fixtures/freeswitch-1.11:

* ``sendmsg``'s ``Event-UUID`` is set as ``app_uuid`` (switch_ivr_parse_event) and reported as
  ``Application-UUID`` in CHANNEL_EXECUTE_COMPLETE (switch_core_session_exec);
* ``uuid_send_dtmf`` sends digits out of a channel; on a loopback pair they arrive on the other
  leg (``other_loopback_leg_uuid``), which fires the DTMF event there;
* ``originate`` with ``&park`` parks the A leg (CHANNEL_PARK, ``Call-Direction: outbound``).
"""

from __future__ import annotations

import pytest
import trio

from esl_trio import OriginateError, StreamGap, open_esl_runtime
from esl_trio.protocol import ChannelEvent

from ._live import LIVE, live_config

pytestmark = LIVE


async def test_issue11_item10_originate_playback_dtmf_hangup() -> None:
    async with open_esl_runtime(live_config()) as rt:
        with trio.fail_after(30):
            async with rt.originate("loopback/9196/default", variables={"x": "1"}) as call:
                await call.wait_answered()
                assert call.variables.get("x") == "1"
                done = await call.execute("playback", "tone_stream://%(300,0,440)")
                assert done["Application"] == "playback"
                assert done["Unique-ID"] == call.uuid
                other = await call.getvar("other_loopback_leg_uuid")
                assert other
                async with call.dtmf() as digits:
                    await rt.api("uuid_send_dtmf", f"{other} 5")  # arrives on our leg
                    digit = await digits.receive()
                    while isinstance(digit, StreamGap):
                        digit = await digits.receive()
                assert digit == "5"
                outcome = await call.hangup()
                assert outcome.cause == "NORMAL_CLEARING"
            exists = await rt.api("uuid_exists", call.uuid)
            assert exists.text.strip() == "false"


async def test_issue11_item10_failed_originate_carries_the_cause() -> None:
    async with open_esl_runtime(live_config()) as rt:
        with trio.fail_after(30), pytest.raises(OriginateError) as caught:
            async with rt.originate("error/user_busy") as call:
                await call.wait_answered()
        assert caught.value.cause == "USER_BUSY"


async def test_issue11_item10_bridge_two_legs() -> None:
    async with open_esl_runtime(live_config()) as rt:
        with trio.fail_after(30):
            async with rt.originate("loopback/9664") as one, rt.originate("loopback/9664") as two:
                await one.wait_answered()
                await two.wait_answered()
                async with one.events("CHANNEL_BRIDGE") as bridges:
                    await one.bridge(two)
                    bridged = await bridges.receive()
                assert isinstance(bridged, ChannelEvent)
                assert bridged.other_leg_unique_id == two.uuid
                await two.hangup()
                await one.wait_hangup()  # the bridge ends with its other leg


async def test_issue11_item10_attach_to_a_parked_call() -> None:
    async with open_esl_runtime(live_config()) as rt:
        await rt.subscriptions.subscribe("CHANNEL_PARK")
        with trio.fail_after(30):
            async with rt.events.receiver("CHANNEL_PARK") as parks:
                job = await rt.bgapi("originate", "loopback/9664 &park")
                while True:
                    park = await parks.receive()
                    if isinstance(park, ChannelEvent) and park.call_direction == "outbound":
                        break
            await job.wait()
            assert park.unique_id is not None
            async with rt.attach(park.unique_id) as call:
                assert call.state.answer_state == "answered"
                await call.playback("tone_stream://%(100,0,440)")
            assert (await rt.api("uuid_exists", call.uuid)).text.strip() == "true"
            async with rt.attach(park.unique_id, hangup_on_exit=True):
                pass
            assert (await rt.api("uuid_exists", call.uuid)).text.strip() == "false"
