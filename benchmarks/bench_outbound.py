"""Outbound mode: calls/s the outbound server takes, and memory per open call.

Run from the repo root::

    .venv/bin/python benchmarks/bench_outbound.py [--calls M] [--concurrency N]
        [--hold K] [--repeat R]

FreeSWITCH's side is the fake dialer (``esl_trio.testing.open_fake_dialer``) in a **separate
process** (this file with ``--dial``), dialling over TCP on 127.0.0.1: it takes commands on
stdin (``calls PORT N M``: M calls, N in flight at once; ``hold PORT K`` / ``release``) and
answers on stdout when done. Each call goes through what a real one does: ``connect`` and the
channel data, ``myevents``, ``linger``, ``sendmsg`` execute ``answer`` and ``playback`` (each
answered by CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE events), ``sendmsg`` hangup and
its CHANNEL_HANGUP, then the server closes the socket. The dialer checks every call (both
applications ran, hung up NORMAL_CLEARING); a run with a wrong call stops the script.

Two servers, in this process, against the same dialer process in the same run:

* esl-trio: ``open_outbound_server(handler)``, the handler ``await call.answer();
  await call.playback(TONE)`` and return (the server hangs up);
* baseline: a minimal hand-written trio server doing the same conversation: one task per
  connection, ``receive_some`` into a bytearray, frames split at the blank line and by
  Content-Length, the events matched with ``bytes.find`` (no percent-decoding, no
  validation, no deadlines, no state).

A second dialer process (``--dial-canned``) plays the same conversation from recorded bytes
(fixture 30's connect reply, fixture 07's event bodies, the call's uuids substituted) for a
second calls/s line: it costs far less per call than the fake dialer, so that line shows the
servers' own ceiling rather than the dialer's.

Measures (best of ``--repeat`` for the rates):

1. ``calls/s``: M calls, N in flight, timed from the ``calls`` command to the dialer's
   ``done`` (every call closed);
2. ``bytes/open call``: K calls held open (the handler waits in ``call.wait_hangup()``; the
   baseline reads events until CHANNEL_HANGUP), as the tracemalloc growth of this process from
   before the calls to when all K handlers are waiting, ÷ K; and the RSS growth, in a pass
   without tracemalloc, run first (before the rate runs), so that memory freed by earlier
   measures does not hide growth.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
try:
    import esl_trio  # noqa: F401
except ImportError:  # run from a checkout without an editable install
    sys.path.insert(0, str(ROOT))

from esl_trio import OutboundCall, open_outbound_server  # noqa: E402
from esl_trio.testing import FakeOutboundCall, open_fake_dialer  # noqa: E402

TONE = "tone_stream://%(100,0,440)"
EXPECTED_APPS = [("answer", ""), ("playback", TONE)]


# -- the dialer process ------------------------------------------------------------------------


async def _dial_one(
    dialer: Any, port: int, limit: trio.Semaphore, wrong: list[FakeOutboundCall]
) -> None:
    async with limit:
        call = await dialer.dial(("127.0.0.1", port))
        await call.wait_closed()
    if call.applications != EXPECTED_APPS or call.hangup_cause != "NORMAL_CLEARING":
        wrong.append(call)


async def _commands() -> AsyncIterator[list[str]]:
    """The words of each stdin line, until stdin closes (a dialer process's input)."""
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    buffer = b""
    while True:
        while b"\n" not in buffer:
            data = await stdin.receive_some()
            if not data:
                return
            buffer += data
        line, _, buffer = buffer.partition(b"\n")
        yield line.decode().split()


async def dialer_main() -> None:
    """``--dial``: one command per stdin line, one answer line each on stdout."""
    held: list[FakeOutboundCall] = []
    async with open_fake_dialer() as dialer:
        async for words in _commands():
            if words[0] == "calls":
                port, concurrency, count = map(int, words[1:])
                limit, wrong = trio.Semaphore(concurrency), list[FakeOutboundCall]()
                async with trio.open_nursery() as nursery:
                    for _ in range(count):
                        nursery.start_soon(_dial_one, dialer, port, limit, wrong)
                if wrong:
                    call = wrong[0]
                    print(f"wrong {len(wrong)} {call.applications} {call.hangup_cause}", flush=True)
                else:
                    print("done", flush=True)
                dialer.calls.clear()
            elif words[0] == "hold":
                port, count = map(int, words[1:])
                held = [await dialer.dial(("127.0.0.1", port)) for _ in range(count)]
                print("held", flush=True)
            elif words[0] == "release":
                for call in held:
                    call.hangup("NORMAL_CLEARING")
                for call in held:
                    await call.wait_closed()
                held = []
                dialer.calls.clear()
                print("released", flush=True)


# -- the canned dialer: recorded bytes, a few substitutions, no encoding ----------------------

FIXTURES = ROOT / "tests" / "fixtures" / "freeswitch-1.11"
_RECORDED_UUID = "74bfaba6-c80f-4938-ac25-144cf48ff82f"  # fixture 30's channel


def _recorded_body(name: str) -> str:
    """The body of a recorded event frame (fixture 07), its Unique-ID made a placeholder."""
    raw = (FIXTURES / name).read_bytes().decode()
    _, _, body = raw.partition("\n\n")
    line = next(x for x in body.splitlines() if x.startswith("Unique-ID: "))
    return body.replace(line.split(": ", 1)[1], "{uuid}")


def _event(body: str) -> bytes:
    data = body.encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(data), data)


def _app_event(template: str, channel: str, app: str, app_uuid: str) -> bytes:
    lines = []
    for line in template.replace("{uuid}", channel).split("\n"):
        if line.startswith("Application: "):
            line = f"Application: {app}"
        elif line.startswith("Application-UUID: "):
            line = f"Application-UUID: {app_uuid}"
        elif line.startswith("Application-Data: ") or line.startswith("Application-Response: "):
            continue
        lines.append(line)
    return _event("\n".join(lines))


class CannedFreeSwitch:
    """FreeSWITCH's side of the benchmark's conversation from recorded bytes, with just enough
    logic to follow it: far less CPU per call than the fake dialer, which builds and encodes
    every event. It checks what the fake checks (both applications, hung up NORMAL_CLEARING)."""

    def __init__(self) -> None:
        self.connect_reply = (FIXTURES / "30-outbound-connect-reply.raw").read_bytes().decode()
        self.execute = _recorded_body("07-channel_execute-event-plain.raw")
        self.complete = _recorded_body("07-channel_execute_complete-event-plain.raw")
        self.hangup = _recorded_body("07-channel_hangup-event-plain.raw")
        self.hangup_complete = _recorded_body("07-channel_hangup_complete-event-plain.raw")

    @staticmethod
    def _reply(text: str) -> bytes:
        return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()

    async def call(self, port: int) -> tuple[list[str], str]:
        channel = str(uuid.uuid4())
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        buffer = bytearray()
        apps: list[str] = []
        cause = ""
        try:
            while True:
                end = buffer.find(b"\n\n")
                if end < 0:
                    data = await stream.receive_some(65536)
                    if not data:
                        return apps, cause
                    buffer += data
                    continue
                block = buffer[:end].decode()
                del buffer[: end + 2]
                line, *header_lines = block.split("\n")
                headers = dict(h.split(": ", 1) for h in header_lines if ": " in h)
                out = self._answer(line, headers, channel, apps)
                if headers.get("call-command") == "hangup":
                    cause = headers.get("hangup-cause", "")
                await stream.send_all(out)
        finally:
            await trio.aclose_forcefully(stream)

    def _answer(self, line: str, headers: dict[str, str], channel: str, apps: list[str]) -> bytes:
        verb = line.split(" ", 1)[0]
        if verb == "connect":
            return self.connect_reply.replace(_RECORDED_UUID, channel).encode()
        if verb == "myevents":
            return self._reply("+OK Events Enabled")
        if verb == "linger":
            return self._reply("+OK will linger 30 seconds")
        if verb != "sendmsg":
            return self._reply("-ERR command not found")
        command = headers.get("call-command")
        if command == "execute":
            app, app_uuid = headers["execute-app-name"], headers.get("Event-UUID", "")
            apps.append(app)
            return b"".join(
                [
                    self._reply("+OK"),
                    _app_event(self.execute, channel, app, app_uuid),
                    _app_event(self.complete, channel, app, app_uuid),
                ]
            )
        if command == "hangup":
            notice = (
                f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
                "Content-Disposition: linger\nChannel-Name: loopback/9196-a\n"
                "Linger-Time: 30\nContent-Length: 0\n\n"
            )
            return b"".join(
                [
                    self._reply("+OK"),
                    _event(self.hangup.replace("{uuid}", channel)),
                    _event(self.hangup_complete.replace("{uuid}", channel)),
                    notice.encode(),
                ]
            )
        return self._reply("+OK")


async def _canned_one(
    canned: CannedFreeSwitch, port: int, limit: trio.Semaphore, wrong: list[str]
) -> None:
    async with limit:
        apps, cause = await canned.call(port)
    if apps != [app for app, _ in EXPECTED_APPS] or cause != "NORMAL_CLEARING":
        wrong.append(f"{apps} {cause}")


async def canned_dialer_main() -> None:
    """``--dial-canned``: the ``calls`` command only (the rate measure)."""
    canned = CannedFreeSwitch()
    async for words in _commands():
        port, concurrency, count = map(int, words[1:])
        limit, wrong = trio.Semaphore(concurrency), list[str]()
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(_canned_one, canned, port, limit, wrong)
        print(f"wrong {len(wrong)} {wrong[0]}" if wrong else "done", flush=True)


class Dialer:
    """The dialer process, seen from here."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""

    async def ask(self, line: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        await self.process.stdin.send_all(line.encode() + b"\n")
        while b"\n" not in self._buffer:
            data = await self.process.stdout.receive_some()
            if not data:
                raise RuntimeError("the dialer process ended")
            self._buffer += data
        answer, _, self._buffer = self._buffer.partition(b"\n")
        text = answer.decode()
        if text.startswith("wrong"):
            raise RuntimeError(f"the dialer saw wrong calls: {text}")
        return text


@asynccontextmanager
async def dialer_process(flag: str = "--dial") -> Any:
    process = await trio.lowlevel.open_process(
        [sys.executable, __file__, flag], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        yield Dialer(process)
    finally:
        assert process.stdin is not None
        with trio.CancelScope(shield=True):
            await process.stdin.aclose()
            with trio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


# -- the servers -------------------------------------------------------------------------------


class Holding:
    """Handlers waiting in the hold measure."""

    def __init__(self) -> None:
        self.count = 0
        self.mode = "play"


def esl_trio_server(holding: Holding) -> AbstractAsyncContextManager[int]:
    async def handle(call: OutboundCall) -> None:
        await call.answer()
        if holding.mode == "hold":
            holding.count += 1
            try:
                await call.wait_hangup()
            finally:
                holding.count -= 1
            return
        await call.playback(TONE)

    @asynccontextmanager
    async def serve() -> Any:
        async with open_outbound_server(handle, port=0, max_calls=100_000) as server:
            yield server.port

    return serve()


class _Frames:
    """The baseline's reading: a bytearray, frames split at ``\\n\\n`` and Content-Length."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError
        self.buffer += data

    async def frame(self) -> tuple[bytes, bytes]:
        while (end := self.buffer.find(b"\n\n")) < 0:
            await self._fill()
        head = bytes(self.buffer[:end])
        at = head.find(b"Content-Length: ")
        length = int(head[at + 16 :].split(b"\n", 1)[0]) if at >= 0 else 0
        while len(self.buffer) < end + 2 + length:
            await self._fill()
        body = bytes(self.buffer[end + 2 : end + 2 + length])
        del self.buffer[: end + 2 + length]
        return head, body

    async def reply(self) -> bytes:
        while True:
            head, _ = await self.frame()
            if b"command/reply" in head:
                return head

    async def event(self, *needles: bytes) -> None:
        while True:
            head, body = await self.frame()
            if b"text/event-plain" in head and all(n in body for n in needles):
                return


def baseline_server(holding: Holding) -> AbstractAsyncContextManager[int]:
    async def conversation(stream: trio.SocketStream) -> None:
        frames = _Frames(stream)
        try:
            await stream.send_all(b"connect\n\n")
            await frames.reply()
            await stream.send_all(b"myevents\n\n")
            await frames.reply()
            await stream.send_all(b"linger 30\n\n")
            await frames.reply()
            apps = [("answer", "")] if holding.mode == "hold" else EXPECTED_APPS
            for app, arg in apps:
                event_uuid = str(uuid.uuid4())
                command = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
                if arg:
                    command += f"execute-app-arg: {arg}\n"
                command += f"event-lock: true\nEvent-UUID: {event_uuid}\n\n"
                await stream.send_all(command.encode())
                await frames.reply()
                await frames.event(
                    b"Event-Name: CHANNEL_EXECUTE_COMPLETE\n",
                    f"Application-UUID: {event_uuid}\n".encode(),
                )
            if holding.mode == "hold":
                holding.count += 1
                try:
                    await frames.event(b"Event-Name: CHANNEL_HANGUP\n")
                finally:
                    holding.count -= 1
                return
            await stream.send_all(
                b"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n"
            )
            await frames.reply()
            await frames.event(b"Event-Name: CHANNEL_HANGUP\n")
        except (EOFError, trio.BrokenResourceError):
            pass
        finally:
            await trio.aclose_forcefully(stream)

    @asynccontextmanager
    async def serve() -> Any:
        async with trio.open_nursery() as nursery:
            serve_tcp = functools.partial(trio.serve_tcp, conversation, 0, host="127.0.0.1")
            listeners = await nursery.start(serve_tcp)
            yield listeners[0].socket.getsockname()[1]
            nursery.cancel_scope.cancel()

    return serve()


Server = Callable[[Holding], AbstractAsyncContextManager[int]]
SERVERS: dict[str, Server] = {"esl-trio": esl_trio_server, "baseline": baseline_server}


# -- the measures -------------------------------------------------------------------------------


async def calls_per_second(
    server: Server, dialer: Dialer, calls: int, concurrency: int, repeat: int
) -> float:
    best = 0.0
    async with server(Holding()) as port:
        await dialer.ask(f"calls {port} {concurrency} {max(calls // 10, 1)}")  # warm-up
        for _ in range(repeat):
            start = time.perf_counter()
            await dialer.ask(f"calls {port} {concurrency} {calls}")
            best = max(best, calls / (time.perf_counter() - start))
    return best


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def bytes_per_open_call(server: Server, dialer: Dialer, hold: int, *, traced: bool) -> float:
    holding = Holding()
    holding.mode = "hold"
    async with server(holding) as port:
        await dialer.ask(f"hold {port} 1")  # the server's first-call costs (imports, caches)
        await _until(lambda: holding.count == 1)
        await dialer.ask("release")
        await _until(lambda: holding.count == 0)
        gc.collect()
        if traced:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0] if traced else _rss()
        await dialer.ask(f"hold {port} {hold}")
        await _until(lambda: holding.count == hold)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] if traced else _rss()
        if traced:
            tracemalloc.stop()
        await dialer.ask("release")
        await _until(lambda: holding.count == 0)
    return (after - before) / hold


async def _until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(60):
        while not condition():  # noqa: ASYNC110 - counters of two servers, polled
            await trio.sleep(0.01)


async def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {name: {} for name in SERVERS}
    async with dialer_process() as dialer:
        for traced in (False, True):  # RSS first: before anything else grew the heap
            label = "bytes/open call, tracemalloc" if traced else "bytes/open call, RSS"
            for name, server in SERVERS.items():
                results[name][label] = await bytes_per_open_call(
                    server, dialer, args.hold, traced=traced
                )
        for name, server in SERVERS.items():
            rate = await calls_per_second(server, dialer, args.calls, args.concurrency, args.repeat)
            results[name][f"calls/s ({args.concurrency} in flight)"] = rate
    async with dialer_process("--dial-canned") as canned:
        for name, server in SERVERS.items():
            rate = await calls_per_second(server, canned, args.calls, args.concurrency, args.repeat)
            results[name][f"calls/s, canned dialer ({args.concurrency})"] = rate
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per timed run (1000)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight (50)")
    parser.add_argument("--hold", type=int, default=500, help="calls held open (500)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best (3)")
    parser.add_argument("--dial", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dial-canned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dial:
        trio.run(dialer_main)
        return
    if args.dial_canned:
        trio.run(canned_dialer_main)
        return
    started = time.perf_counter()
    results = trio.run(measure, args)
    print(f"Python {platform.python_version()} ({platform.python_implementation()})")
    print(f"{platform.platform()} | {os.cpu_count()} CPUs | dialer in a separate process")
    print()
    print(f"{'measure':<32} {'esl-trio':>10} {'baseline':>10} {'ratio':>7}")
    for label, value in results["esl-trio"].items():
        base = results["baseline"][label]
        ratio = f"{value / base:.2f}x" if base else "-"
        print(f"{label:<32} {value:>10,.0f} {base:>10,.0f} {ratio:>7}")
    print()
    print(
        f"best of {args.repeat}; {args.calls} calls per run, {args.concurrency} in flight; "
        f"{args.hold} calls held; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
