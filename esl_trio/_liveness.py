"""Liveness: is anything still arriving on the connection? (B-HB-*)

One rule, used by the liveness task and by ``rt.health().live``: a connection is live while a
complete inbound frame arrived within the last ``interval``. After one silent interval the
task sends one probe (``api status``) when the bus is idle; after a second one it reports the
connection dead, and the supervisor recycles it (never a drain: the peer is gone).
"""

from __future__ import annotations

import contextlib
import logging

import trio

from ._config import HeartbeatConfig
from ._connection import Connection, ConnectionEnded
from ._errors import ConnectionLostError
from .protocol import Api

__all__ = ["is_live", "run_liveness"]

log = logging.getLogger("esl_trio")


def is_live(last_activity: float, interval: float, now: float) -> bool:
    """The liveness rule: a complete frame arrived less than ``interval`` seconds ago."""
    return now < last_activity + interval


async def run_liveness(conn: Connection, config: HeartbeatConfig) -> None:
    """Two-strike liveness: probe after one silent interval, report death after two."""
    interval = config.interval
    async with trio.open_nursery() as nursery:
        while True:
            await trio.sleep_until(conn.last_activity + interval)
            if is_live(conn.last_activity, interval, trio.current_time()):
                continue
            if conn.commands_in_flight == 0 and conn.commands_queued == 0:
                log.info("esl-trio: no traffic for %g s: probing with api status", interval)
                nursery.start_soon(_probe, conn, interval, name="esl-trio liveness probe")
            await trio.sleep_until(conn.last_activity + 2 * interval)
            if not is_live(conn.last_activity, 2 * interval, trio.current_time()):
                log.warning("esl-trio: no traffic for %g s: the connection is dead", 2 * interval)
                conn.report(
                    ConnectionEnded(ConnectionLostError("liveness window expired", written=True))
                )
                return


async def _probe(conn: Connection, interval: float) -> None:
    # A failed probe ends the connection by itself (timeout → recycle); nothing to do here.
    with contextlib.suppress(Exception):
        await conn.request(Api("status"), interval)
