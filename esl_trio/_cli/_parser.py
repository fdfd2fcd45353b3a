"""The argument parser: one sub-command per task, connection options on each of them."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._version import __version__
from ..protocol import EventFormat
from ._commands import cmd_api, cmd_bgapi, cmd_events, cmd_health
from ._demo import cmd_demo
from ._originate import add_originate, cmd_originate
from ._outbound import cmd_serve_outbound
from ._server import DEFAULT_PASSWORD, cmd_fake_server
from ._watch import cmd_watch

__all__ = ["build_parser"]

_DESCRIPTION = """\
A command line for FreeSWITCH's inbound Event Socket, built on esl-trio (and, with
serve-outbound, a server for its outbound mode: the dialplan's `socket` application).

The connection comes from --url esl://[user@domain:]password@host[:port], else from
ESL_TRIO_URL (or ESL_TRIO_HOST / _PORT / _PASSWORD / _USER), else esl://ClueCon@127.0.0.1:8021.
Prefer the environment for real passwords: command lines are visible to other users.
"""

_EPILOG = """\
exit codes: 0 ok, 1 command failed (-ERR), 2 usage error, 3 cannot connect / connection lost,
4 authentication rejected, 5 handshake or protocol error, 130 interrupted (Ctrl-C;
serve-outbound drains its calls and exits 0).
Try it without a switch: esl-trio demo
"""


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


_seconds = _positive(float)
_count = _positive(int)


def _grace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On the top level the defaults apply; on sub-commands SUPPRESS keeps a value given
    # before the sub-command (``esl-trio --url X api status``) from being overwritten.
    default = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--url",
        default=default,
        help="esl://[user@domain:]password@host[:port] (default: $ESL_TRIO_URL)",
    )
    group.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=10.0 if top else argparse.SUPPRESS,
        metavar="S",
        help="TCP connect + greeting + auth deadline in seconds (default: 10)",
    )


def _event_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="event names (default: ALL); a::b subscribes to that CUSTOM subclass",
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in EventFormat],
        default="json",
        help="event encoding on the wire (default: json); output is decoded either way",
    )
    parser.add_argument(
        "--filter",
        nargs=2,
        action="append",
        metavar=("HEADER", "VALUE"),
        help="only events whose HEADER matches VALUE (FreeSWITCH filter; repeatable)",
    )


def _add(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: object,
    help_text: str,
    *,
    connects: bool = True,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    if connects:
        _connection_options(parser, top=False)
    return parser


def _command_words(parser: argparse.ArgumentParser, default_timeout: float, what: str) -> None:
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=default_timeout,
        metavar="S",
        help=f"seconds to wait for {what} (default: {default_timeout:g})",
    )
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="CMD [ARG ...]",
        help="the command and its arguments, passed on verbatim (put options before it)",
    )


def _add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = _add(sub, "demo", cmd_demo, "a guided tour against a simulated PBX", connects=False)
    demo.add_argument("--seed", type=int, default=7, help="simulation seed (default: 7)")
    demo.add_argument("--deadline", type=_seconds, default=25.0, help=argparse.SUPPRESS)

    api = _add(sub, "api", cmd_api, "run an api command and print its output")
    _command_words(api, 30.0, "the output")
    bgapi = _add(sub, "bgapi", cmd_bgapi, "run a bgapi job, wait for it, print its output")
    _command_words(bgapi, 120.0, "the job to complete")

    events = _add(sub, "events", cmd_events, "stream events (JSON lines when piped)")
    _event_options(events)
    events.add_argument("--count", type=int, metavar="N", help="stop after N events")
    events.add_argument(
        "--output",
        choices=["auto", "json", "text"],
        default="auto",
        help="json lines, readable text, or auto: text on a terminal (default)",
    )
    events.add_argument(
        "--buffer", type=_count, default=10_000, metavar="N", help="events buffered (10000)"
    )
    events.add_argument("--quiet", action="store_true", help="no reconnect notes on stderr")

    _add(sub, "health", cmd_health, "print one health snapshot as JSON")
    add_originate(_add(sub, "originate", cmd_originate, "place a call, follow it until hangup"))

    watch = _add(sub, "watch", cmd_watch, "a refreshing view of a live runtime's health")
    _event_options(watch)
    watch.add_argument("--interval", type=_seconds, default=1.0, metavar="S")
    watch.add_argument("--iterations", type=_count, metavar="N", help="stop after N refreshes")

    _add_fake_server(sub)
    _add_serve_outbound(sub)


def _add_fake_server(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = _add(
        sub,
        "fake-server",
        cmd_fake_server,
        "run the simulated PBX on a TCP port until Ctrl-C",
        connects=False,
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    server.add_argument("--port", type=int, default=8021, help="port; 0 picks a free one (8021)")
    server.add_argument("--password", default=DEFAULT_PASSWORD, help="auth password (ClueCon)")
    server.add_argument(
        "--simulate",
        action="append",
        metavar="K=V[,K=V]",
        help="calls_per_second, hold_time, seed, heartbeat_interval (0: none), e.g. "
        "calls_per_second=2,hold_time=5,seed=1",
    )


def _add_serve_outbound(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = _add(
        sub,
        "serve-outbound",
        cmd_serve_outbound,
        "serve FreeSWITCH's outbound socket connections with a handler until Ctrl-C",
        connects=False,
    )
    serve.add_argument(
        "handler_spec",
        metavar="MODULE:FUNCTION",
        help="the handler, `async def handle(call)`, e.g. myapp.calls:handle",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8084, help="port; 0 picks a free one (8084)")
    serve.add_argument(
        "--max-calls",
        type=_count,
        metavar="N",
        help="calls handled at once; more are refused with SWITCH_CONGESTION (1000)",
    )
    serve.add_argument(
        "--hangup-grace",
        type=_grace,
        metavar="S",
        help="seconds a handler still runs after its call hung up, before it is cancelled (5)",
    )
    serve.add_argument(
        "--drain-timeout",
        type=_seconds,
        metavar="S",
        help="seconds running calls get after Ctrl-C/SIGTERM before they are hung up (10)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esl-trio",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"esl-trio {__version__}")
    _connection_options(parser, top=True)
    parser.set_defaults(handler=None)
    _add_commands(parser.add_subparsers(title="commands", metavar="COMMAND"))
    return parser
