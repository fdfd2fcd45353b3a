"""A long-running esl-trio service, ready for systemd (see docs/howto-systemd.md).

Run: ESL_TRIO_URL=esl://ClueCon@127.0.0.1:8021 .venv/bin/python docs/examples/service.py
(no PBX? start docs/examples/fake_server.py and use the URL it prints)

- Configuration from the environment (ESL_TRIO_URL), never from the command line.
- SIGTERM (systemctl stop) and SIGINT (Ctrl+C) stop it gracefully: accepted work drains,
  `exit` is sent, the socket is closed, exit status 0.
- If the runtime stops for good, or the first connection fails, it exits with status 1, so
  that systemd restarts it (Restart=on-failure); on rejected credentials it exits with 78
  (EX_CONFIG), which the unit file tells systemd not to restart.
"""

import logging
import signal
import sys

import trio

from esl_trio import (
    AuthenticationError,
    EslError,
    EslRuntime,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import SubscriptionConfig
from esl_trio.errors import HandshakeError

log = logging.getLogger("cdr-service")
EX_CONFIG = 78


async def record_hangups(rt: EslRuntime) -> None:
    """The service's real work: here, log every hangup."""
    async with rt.events.receiver("CHANNEL_HANGUP_COMPLETE", max_buffer=10_000) as hangups:
        async for item in hangups:
            if isinstance(item, StreamGap):
                log.warning("lost events (%s, %d dropped)", item.reason.value, item.dropped)
                continue
            log.info("hangup %s %s", item.unique_id, item.get("Hangup-Cause", ""))


async def report_health(rt: EslRuntime, every: float = 60) -> None:
    while True:
        health = rt.health()
        log.info(
            "health state=%s live=%s events=%d dropped=%d reconnects=%d",
            health.state.value,
            health.live,
            health.events_received,
            health.events_dropped,
            health.reconnect.reconnects,
        )
        await trio.sleep(every)


async def main() -> int:
    config = RuntimeConfig.from_env(
        subscriptions=SubscriptionConfig(events=["CHANNEL_HANGUP_COMPLETE"]),
    )
    exit_status = 0
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        try:
            async with open_esl_runtime(config) as rt, trio.open_nursery() as nursery:
                log.info("connected to %s", config.address)

                async def stop_on_signal() -> None:
                    async for signum in signals:
                        log.info("%s: draining and closing", signal.Signals(signum).name)
                        nursery.cancel_scope.cancel()

                async def stop_on_failure() -> None:
                    nonlocal exit_status
                    await rt.wait_state(RuntimeState.FAILED)
                    health = rt.health()
                    log.error(
                        "stopped for good: %s (%s)",
                        health.reconnect.stop_reason,
                        health.last_error,
                    )
                    exit_status = 1
                    nursery.cancel_scope.cancel()

                nursery.start_soon(stop_on_signal)
                nursery.start_soon(stop_on_failure)
                nursery.start_soon(report_health, rt)
                nursery.start_soon(record_hangups, rt)
        except (AuthenticationError, HandshakeError) as exc:
            log.error("%s: fix the configuration", exc)  # noqa: TRY400 -- one line, no traceback
            return EX_CONFIG
        except EslError as exc:  # the first connection failed: let systemd retry later
            log.error("cannot connect: %s", exc)  # noqa: TRY400
            return 1
    log.info("closed")
    return exit_status


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(trio.run(main))
