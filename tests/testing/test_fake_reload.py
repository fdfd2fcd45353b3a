"""``reload mod_event_socket`` on the fake, byte for byte as a real FreeSWITCH 1.11 did it.

Fixture ``35-bgapi-reload-event-socket.raw`` holds the bytes a live run reported: mod_event_socket
rewrites the command to ``api bgapi reload mod_event_socket``, so the answer is mod_commands'
api/response ``+OK Job-UUID: <its own uuid>``; then the unload kills every listener with the
shutdown notice and closes it, and the reloaded module accepts new connections.
"""

from __future__ import annotations

import re

import pytest

from esl_trio import (
    CommandTimeoutError,
    ConnectionLostError,
    RuntimeConfig,
    RuntimeState,
    open_esl_runtime,
)
from esl_trio.config import HeartbeatConfig, RetryPolicy, SubscriptionConfig, Timeouts
from esl_trio.protocol import Api, ApiReply, BgApi, DisconnectNotice, FilterAdd, HeartbeatEvent
from esl_trio.testing import SHUTDOWN_NOTICE, UserCredentials, open_fake_freeswitch
from tests._fixtures import raw
from tests.testing._raw_client import Closed, RawClient, connect

FIXTURE = raw("35-bgapi-reload-event-socket.raw")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def with_job_uuid(data: bytes, job_uuid: str) -> bytes:
    """The fixture with its (recorded) Job-UUID replaced by the one the fake generated."""
    (recorded,) = _UUID.findall(data)
    return data.replace(recorded, job_uuid.encode())


async def test_issue8_item18_reload_bytes_match_the_live_fixture():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        client_job = "11111111-2222-4333-8444-555555555555"
        await client.send(BgApi("reload", "mod_event_socket", job_uuid=client_job))
        received = await client.read_all()
        (job_uuid,) = fs.event_socket_reloads
        assert job_uuid != client_job  # mod_commands' bgapi picks its own id
        assert received == with_job_uuid(FIXTURE, job_uuid)


async def test_issue8_item18_reload_kills_every_listener_and_accepts_reconnects():
    async with open_fake_freeswitch() as fs:
        old_core = fs.core_uuid
        other = await connect(fs, events="plain ALL")
        client = await connect(fs)
        reply = await client.command(BgApi("reload", "mod_event_socket"))
        assert isinstance(reply, ApiReply)
        assert reply.body.startswith(b"+OK Job-UUID: ")
        for listener in (client, other):
            messages = await listener.expect_close()
            (notice,) = [m for m in messages if isinstance(m, DisconnectNotice)]
            assert notice.body == SHUTDOWN_NOTICE
        with pytest.raises(Closed):
            await other.next()
        assert all(conn.close_reason == "mod_event_socket reload" for conn in fs.all_connections)
        # The module is back at once; the core did not restart.
        fresh = await connect(fs, events="plain BACKGROUND_JOB")
        assert fs.core_uuid == old_core
        assert await fresh.api("echo back") == b"back"
        await fresh.expect_nothing(0.5)  # the reload job's completion fired to no one


@pytest.mark.parametrize(
    "line",
    [b"api reload mod_event_socket\n\n", b"bgapi RELOAD Mod_Event_Socket\n\n"],
)
async def test_issue8_item18_any_line_with_reload_and_mod_event_socket_is_the_reload(line):
    """``switch_stristr`` on the whole line, as mod_event_socket does."""
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        await client.send_raw(line)
        received = await client.read_all()
        assert received == with_job_uuid(FIXTURE, fs.event_socket_reloads[0])


async def test_issue8_item18_other_commands_are_untouched():
    async with open_fake_freeswitch() as fs:
        client = await connect(fs)
        assert await client.api("echo reload") == b"reload"
        assert (await client.command(FilterAdd("Event-Name", "HEARTBEAT"))).ok
        assert isinstance(await client.command(Api("status")), ApiReply)
        assert fs.event_socket_reloads == []


async def test_issue8_item18_reload_needs_bgapi_rights():
    users = {"ops@default": UserCredentials("pw", allowed_api=("status",))}
    async with open_fake_freeswitch(users=users) as fs:
        limited = RawClient(await fs.connect())
        await limited.next()
        assert await limited.text(b"userauth ops@default:pw\n\n") == "+OK accepted"
        assert await limited.text(b"bgapi reload mod_event_socket\n\n") == "-ERR permission denied"
        assert fs.event_socket_reloads == []


async def test_issue8_item18_runtime_recovers_from_a_reload_on_the_fake(autojump_clock):
    """The live scenario (tests/live) against the fake: accepted, killed, back, working."""
    config = RuntimeConfig(
        host="fake",
        heartbeat=HeartbeatConfig.disabled(),
        retry=RetryPolicy(initial_delay=1, max_delay=5),
        subscriptions=SubscriptionConfig(events=["HEARTBEAT"]),
        timeouts=Timeouts(bgapi_completion=20),
    )
    async with (
        open_fake_freeswitch() as fs,
        open_esl_runtime(config, connector=fs.connector) as rt,
    ):
        job = await rt.bgapi("reload", "mod_event_socket")
        await rt.wait_state(RuntimeState.RECONNECTING)
        await rt.wait_state(RuntimeState.READY)
        assert rt.health().generation == 2
        assert fs.connection(1).close_reason == "mod_event_socket reload"
        assert (await rt.api("echo", "back")).body == b"back"
        assert (await (await rt.bgapi("echo", "job")).wait()).result == "job"
        with pytest.raises((ConnectionLostError, CommandTimeoutError)):
            await job.wait()
        async with rt.events.receiver("HEARTBEAT") as beats:
            fs.emit_heartbeat()
            assert isinstance(await beats.receive(), HeartbeatEvent)
