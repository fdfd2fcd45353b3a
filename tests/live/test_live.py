"""Opt-in tests against a real FreeSWITCH.

Skipped unless ``ESL_TRIO_LIVE_URL=esl://password@host:port`` is set. They run the same
scenarios as the fake-server suite: connect, api status, bgapi status with its completion, a
HEARTBEAT subscription, a clean exit, and recovery after the server kills every listener
(``reload mod_event_socket``). Each expectation comes from recorded FreeSWITCH bytes
(``tests/fixtures/freeswitch-1.11``) and FreeSWITCH's source, not from what the client does.
"""

from __future__ import annotations

import attrs
import pytest
import trio

from esl_trio import (
    CommandTimeoutError,
    ConnectionLostError,
    RuntimeState,
    open_esl_runtime,
)
from esl_trio.config import RetryPolicy, SubscriptionConfig, Timeouts
from esl_trio.protocol import HeartbeatEvent

from ._live import LIVE, live_config

pytestmark = LIVE


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
    """``bgapi reload mod_event_socket`` kills our socket from the server; watch recovery.

    What FreeSWITCH 1.11 does (fixture ``35-bgapi-reload-event-socket.raw`` and
    mod_event_socket.c): ``parse_command`` rewrites any line containing ``reload`` and
    ``mod_event_socket`` to ``api bgapi reload mod_event_socket``, so the answer is an
    api/response ``+OK Job-UUID: <id>`` from mod_commands' ``bgapi`` (its own id, not ours): the
    job is accepted. Its thread then reloads the module: the unload (``kill_all_listeners``)
    writes ``The system is being shut down.`` to every listener and closes it; the module
    loads again and accepts connections. The job's BACKGROUND_JOB fires when the reload
    returns, to the listeners of the reloaded module: none yet, since we reconnect only after
    the retry delay. So the job never completes for us: it fails (ConnectionLostError, or
    CommandTimeoutError at its completion deadline), it never gives a result.
    """
    config = attrs.evolve(
        live_config(),
        retry=RetryPolicy(initial_delay=1, max_delay=5),
        subscriptions=SubscriptionConfig(events=["HEARTBEAT", "CHANNEL_CREATE"]),
        timeouts=Timeouts(bgapi_completion=20),
    )
    async with open_esl_runtime(config) as rt:
        with trio.fail_after(10):
            job = await rt.bgapi("reload", "mod_event_socket")  # accepted, then the kill
        with trio.fail_after(60):
            # The notice and the close follow the acceptance at once; the retry waits 1 s.
            await rt.wait_state(RuntimeState.RECONNECTING)
            await rt.wait_state(RuntimeState.READY)
        assert rt.health().generation >= 2  # a first retry may find the module still loading
        assert b"FreeSWITCH" in (await rt.api("status")).body
        after = await rt.bgapi("status")
        with trio.fail_after(30):
            assert "FreeSWITCH" in (await after.wait()).result
        with trio.fail_after(60), pytest.raises((ConnectionLostError, CommandTimeoutError)):
            await job.wait()  # the reload's own completion reached no listener
        async with rt.events.receiver("HEARTBEAT") as beats:
            with trio.fail_after(25):
                event = await beats.receive()
        assert isinstance(event, HeartbeatEvent)  # the restored subscription delivers
