"""Opt-in tests against a real FreeSWITCH.

Skipped unless ``ESL_TRIO_LIVE_URL=esl://password@host:port`` is set. They run the same
scenarios as the fake-server suite: connect, api status, bgapi status with its completion, a
HEARTBEAT subscription, and a clean exit.
"""

from __future__ import annotations

import os

import pytest
import trio

from esl_trio import (
    HeartbeatEvent,
    RuntimeConfig,
    RuntimeState,
    open_esl_runtime,
)

LIVE_URL = os.environ.get("ESL_TRIO_LIVE_URL")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not LIVE_URL, reason="set ESL_TRIO_LIVE_URL=esl://pw@host:port to run"),
]


def live_config() -> RuntimeConfig:
    assert LIVE_URL is not None
    return RuntimeConfig.from_url(LIVE_URL)


async def test_connect_api_bgapi_and_exit() -> None:
    async with open_esl_runtime(live_config()) as rt:
        assert rt.state is RuntimeState.READY
        status = await rt.api("status")
        assert b"FreeSWITCH" in status.body
        job = await rt.bgapi("status")
        with trio.fail_after(30):
            done = await job.wait()
        assert done.job_uuid == job.job_uuid and "FreeSWITCH" in done.result
    assert rt.state is RuntimeState.CLOSED


async def test_heartbeat_subscription() -> None:
    """HEARTBEAT fires every 20 s by default (B-EVN-3): wait up to 25 s."""
    async with open_esl_runtime(live_config()) as rt:
        await rt.subscriptions.subscribe("HEARTBEAT")
        async with rt.events.receiver("HEARTBEAT") as beats:
            with trio.fail_after(25):
                event = await beats.receive()
        assert isinstance(event, HeartbeatEvent)
        assert event.core_uuid


async def test_server_side_kill_reconnect_restore_and_work() -> None:
    """Kill our socket from the server (``reload mod_event_socket``); watch recovery."""
    from esl_trio import RetryPolicy, SubscriptionConfig

    config = live_config()
    config = type(config)(
        host=config.host,
        port=config.port,
        password=config.password,
        user=config.user,
        retry=RetryPolicy(initial_delay=1, max_delay=5),
        subscriptions=SubscriptionConfig(events=["HEARTBEAT", "CHANNEL_CREATE"]),
    )
    async with open_esl_runtime(config) as rt:
        with trio.move_on_after(5):  # the reload takes our connection down with it
            await rt.bgapi("reload", "mod_event_socket")
        with trio.fail_after(60):
            await rt.wait_state(RuntimeState.RECONNECTING)
            await rt.wait_state(RuntimeState.READY)
        assert rt.health().generation >= 2
        assert b"FreeSWITCH" in (await rt.api("status")).body
        job = await rt.bgapi("status")
        with trio.fail_after(30):
            await job.wait()
        async with rt.events.receiver("HEARTBEAT") as beats:
            with trio.fail_after(25):
                event = await beats.receive()
        assert isinstance(event, HeartbeatEvent)  # restored subscription delivers
