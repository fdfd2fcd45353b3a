"""The api commands the fake answers out of the box, and how their output is framed.

Handlers take the argument string and return ``str``, ``bytes`` or None, or an awaitable of
one (an ``async def`` handler can sleep to model a slow command: on its connection that stalls
every later reply and event, B-APIW-4). Output rules (B-APIW-2, B-BGW-4):

* unknown command: ``-ERR <cmd> Command not found!\\n``;
* None: ``Command returned no output!`` (no newline);
* empty output: ``-ERR no reply\\n`` for ``api``, an empty body for ``bgapi``.

The defaults imitate FreeSWITCH's output shapes (``status`` like the recorded fixture,
``module_exists`` answering ``true`` without newline, ``show channels`` ending in ``N total.``),
reading the fake's state (uptime on trio's clock, :attr:`FakeFreeSwitch.channels`, modules)
through :class:`ApiState`, so this module does not import the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Protocol, TypeAlias

import trio

__all__ = [
    "ApiHandler",
    "ApiOutput",
    "ApiState",
    "call_handler",
    "default_api_handlers",
    "frame_output",
    "unknown_command",
    "uptime_text",
]

ApiOutput: TypeAlias = str | bytes | None
ApiHandler: TypeAlias = Callable[[str], ApiOutput | Awaitable[ApiOutput]]

VERSION = "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"
_VERSION_LINE = "FreeSWITCH Version {v} (git cc93a68 2026-08-21 14:10:14Z 64bit)\n"
_NO_OUTPUT = b"Command returned no output!"
_CHANNEL_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,"
    "application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,"
    "write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,"
    "callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,"
    "initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"
)
_UNITS = {"us": 1e6, "ms": 1e3, "s": 1.0, "m": 1 / 60, "h": 1 / 3600, "d": 1 / 86400}


class ApiState(Protocol):
    """What the default handlers read from the fake (``FakeFreeSwitch`` satisfies it).

    Read at every call, not copied: a test that adds a channel or a module, or restarts the
    fake, changes what the next ``status`` / ``uuid_exists`` / ``module_exists`` answers.
    """

    @property
    def channels(self) -> Collection[str]: ...
    @property
    def modules(self) -> Collection[str]: ...
    @property
    def hostname(self) -> str: ...
    @property
    def sessions_since_startup(self) -> int: ...
    def uptime(self) -> float: ...


def frame_output(output: ApiOutput, *, background: bool) -> bytes:
    """A handler's result as the body FreeSWITCH would send (B-APIW-2, B-BGW-4)."""
    if output is None:
        return _NO_OUTPUT
    body = output.encode() if isinstance(output, str) else bytes(output)
    if not body and not background:
        return b"-ERR no reply\n"
    return body


def unknown_command(command: str) -> bytes:
    return f"-ERR {command} Command not found!\n".encode()


def uptime_text(seconds: float) -> str:
    micros = int(seconds * 1_000_000)
    parts = []
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        count, micros = divmod(micros, size * 1_000_000)
        parts.append(f"{count} {unit}")
    secs, micros = divmod(micros, 1_000_000)
    millis, micros = divmod(micros, 1000)
    parts += [f"{secs} seconds", f"{millis} milliseconds", f"{micros} microseconds"]
    return ", ".join(parts)


def default_api_handlers(fs: ApiState) -> dict[str, ApiHandler]:
    """Fresh default handlers bound to ``fs`` (a test may replace or delete any of them)."""

    def status(args: str) -> str:
        count = len(fs.channels)
        return (
            f"UP {uptime_text(fs.uptime())}\n"
            "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n"
            f"{fs.sessions_since_startup} session(s) since startup\n"
            f"{count} session(s) - peak {count}, last 5min {count} \n"
            "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
            "1000 session(s) max\n"
            "min idle cpu 0.00/100.00\n"
            "Current Stack Size/Max 240K/8192K\n"
        )

    def uptime(args: str) -> str:
        factor = _UNITS.get(args.strip() or "s", 1.0)
        return str(int(fs.uptime() * factor))

    def show(args: str) -> str:
        what = args.strip().split(" ")[0].lower()
        if what not in ("channels", "calls") or not fs.channels:
            return "\n0 total.\n"
        rows = [uuid + "," * _CHANNEL_COLUMNS.count(",") for uuid in sorted(fs.channels)]
        return "\n".join([_CHANNEL_COLUMNS, *rows, "", f"{len(rows)} total.", ""])

    return {
        "status": status,
        "uptime": uptime,
        "version": lambda args: _VERSION_LINE.format(v=VERSION),
        "echo": lambda args: args,
        "show": show,
        "module_exists": lambda args: "true" if args.strip() in fs.modules else "false",
        "hostname": lambda args: fs.hostname,
        "uuid_exists": lambda args: "true" if args.strip() in fs.channels else "false",
        "reloadxml": lambda args: "+OK [Success]\n",
    }


async def call_handler(handler: ApiHandler, args: str) -> ApiOutput:
    """Run a sync or async handler."""
    result = handler(args)
    if isinstance(result, str | bytes) or result is None:
        await trio.lowlevel.checkpoint()
        return result
    return await result
