"""``fake-server``: the simulated PBX on a TCP port, for other tools and other languages' tests."""

from __future__ import annotations

import argparse
import errno
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ._commands import note
from ._errors import CliError, ExitCode, register_secret

__all__ = ["SIMULATE_KEYS", "cmd_fake_server", "listen_url", "parse_simulate"]

#: ``--simulate`` keys, their types, and the short spellings accepted for them.
SIMULATE_KEYS: dict[str, type[float] | type[int]] = {
    "calls_per_second": float,
    "hold_time": float,
    "seed": int,
    "heartbeat_interval": float,
}
_ALIASES = {"cps": "calls_per_second", "hold": "hold_time", "heartbeat": "heartbeat_interval"}
DEFAULT_PASSWORD = "ClueCon"  # noqa: S105 -- FreeSWITCH's well-known default


def parse_simulate(specs: list[str]) -> dict[str, Any]:
    """``["calls_per_second=2,hold_time=5", "seed=1"]`` -> keyword arguments."""
    options: dict[str, Any] = {}
    for spec in specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            key = _ALIASES.get(key.strip(), key.strip())
            if not sep or key not in SIMULATE_KEYS:
                known = ", ".join(SIMULATE_KEYS)
                raise CliError(ExitCode.USAGE, f"--simulate: bad item {item!r} (keys: {known})")
            options[key] = _number(key, value.strip())
    return options


def _number(key: str, value: str) -> float | int:
    try:
        number = SIMULATE_KEYS[key](value)
    except ValueError:
        raise CliError(ExitCode.USAGE, f"--simulate: {key} needs a number, got {value!r}") from None
    if number < 0:
        raise CliError(ExitCode.USAGE, f"--simulate: {key} must not be negative")
    return number


def listen_url(host: str, port: int, password: str) -> str:
    """The URL clients should use; the password only when it is FreeSWITCH's default."""
    shown = host if ":" not in host else f"[{host}]"
    secret = password if password == DEFAULT_PASSWORD else "***"
    return f"esl://{secret}@{shown}:{port}"


async def cmd_fake_server(args: argparse.Namespace) -> int:
    from ..testing import open_simulated_pbx  # the test helpers load only here

    options = parse_simulate(args.simulate or [])
    settings = ", ".join(f"{k}={v:g}" for k, v in options.items()) or "no call generator"
    if options.get("heartbeat_interval") == 0:
        options["heartbeat_interval"] = None  # 0: no HEARTBEAT events
    if args.password != DEFAULT_PASSWORD:
        register_secret(args.password)
    async with open_simulated_pbx(password=args.password, **options) as pbx:
        port = await _serve(pbx.serve_tcp, args.host, args.port)
        print(f"listening on {listen_url(args.host, port, args.password)}", flush=True)
        note(f"simulated FreeSWITCH running ({settings}); Ctrl-C to stop")
        try:
            await trio.sleep_forever()
        finally:
            stats = pbx.stats
            note(
                f"stopped: {stats.calls_started} calls started, "
                f"{stats.events_emitted} events emitted"
            )


async def _serve(serve_tcp: Callable[..., Awaitable[int]], host: str, port: int) -> int:
    try:
        return await serve_tcp(host=host, port=port)
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else str(exc)
        raise CliError(
            ExitCode.FAILED,
            f"cannot listen on {host}:{port}: {reason} — pick another --port (0: any free port)",
        ) from None
