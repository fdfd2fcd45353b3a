"""End-to-end throughput of the esl-trio runtime against a loopback ESL server.

Run from the repo root::

    .venv/bin/python benchmarks/bench_runtime.py [--events N] [--api-calls N] [--jobs N]
        [--repeat R] [--formats plain,json] [--profile] [--check]

A loopback ESL server runs in a separate process (this file with ``--serve``; blocking sockets,
one thread per connection) and speaks real ESL with the frame builders of
:mod:`esl_trio.protocol.server`: ``auth/request``, ``+OK accepted``, ``+OK event listener
enabled <fmt>``, ``+OK filter added. [h]=[v]``, api/response, bgapi ``+OK Job-UUID`` followed by
a BACKGROUND_JOB event in the connection's format, ``+OK bye`` plus a disconnect notice. Three
``api`` commands of its own drive the benchmark, each answered before anything else is sent:

* ``api bench_blast N`` — then N CHANNEL_* event frames in 256-event ``sendall()`` writes (only
  to a connection subscribed to every CHANNEL_* name it sends, or to ALL);
* ``api bench_hold`` / ``api bench_release`` — withhold bgapi completions, then send them all.

The events are the recorded ``07-channel_*-event-plain.raw`` (FreeSWITCH 1.11), re-encoded with
``event_frame`` and varied per call (every uuid but Core-UUID is new for each call; 24 calls
interleaved), built once at server start-up into a pool that a blast cycles through.

Each measure runs the runtime, then a stdlib-socket baseline against the same server process:

1. events/s into one receiver whose consumer reads ``.name`` and ``.unique_id`` (baseline: the
   "minimal reader", blocking ``recv(262144)``, frames split by Content-Length, Event-Name and
   Unique-ID found with ``bytes.find``);
2. serial ``api status`` round trips/s (baseline: send ``api status``, read the reply, loop);
3. ``--jobs`` bgapi jobs pending at once (the server withholds completions): memory per pending
   job (tracemalloc in a separate pass; RSS delta), acceptance rate, then completions/s once the
   server releases them, until every ``job.wait()`` returned (baseline: pipelined windows of the
   same concurrency, a dict of pending Job-UUIDs).

Numbers are informational; ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import re
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
try:
    import esl_trio  # noqa: F401
except ImportError:  # run from a checkout without an editable install
    sys.path.insert(0, str(ROOT))

from esl_trio import (  # noqa: E402
    BackgroundJob,
    RuntimeConfig,
    StreamGap,
    open_esl_runtime,
)
from esl_trio.config import (  # noqa: E402
    BackpressureConfig,
    HeartbeatConfig,
    RetryPolicy,
    SubscriptionConfig,
    Timeouts,
)
from esl_trio.protocol import (  # noqa: E402
    CONNECTION_CLOSED,
    NEED_DATA,
    Api,
    Auth,
    BgApi,
    CommandReader,
    EventFormat,
    EventSubscribe,
    Exit,
    FilterAdd,
    FilterDelete,
    InvalidCommand,
    UnknownCommand,
    make_event,
)
from esl_trio.protocol.server import (  # noqa: E402
    api_response,
    auth_request,
    command_reply,
    disconnect_notice,
    event_frame,
)

HOST = "127.0.0.1"
PASSWORD = "ClueCon"
READ_SIZE = 256 * 1024
CHUNK_EVENTS = 256  # events per sendall() of a blast
CONCURRENT_CALLS = 24
SEED = 20241126
JOB_RESULT = b"+OK\n"
JOB_FORMAT = EventFormat.JSON  # the runtime's default format, used for the bgapi measure
UUID_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Pairs = list[tuple[str, str]]


# == inputs (the recorded traffic) ==============================================================


def fixtures_dir() -> Path:
    """The recorded traffic kept in the repository (``tests/fixtures/freeswitch-1.11``)."""
    return ROOT / "tests" / "fixtures" / "freeswitch-1.11"


def _split_frame(raw: bytes) -> tuple[bytes, bytes]:
    head, _, body = raw.partition(b"\n\n")
    return head, body


def load_event(path: Path) -> tuple[Pairs, bytes]:
    """A recorded plain event frame as (headers, body); must re-encode byte for byte."""
    raw = path.read_bytes()
    event = make_event(EventFormat.PLAIN, _split_frame(raw)[1])
    pairs, body = list(event.headers.items()), event.body
    if event_frame(EventFormat.PLAIN, pairs, body) != raw:
        sys.exit(f"{path.name}: decoded headers do not re-encode to the recorded bytes")
    return pairs, body


def channel_templates() -> list[tuple[Pairs, bytes]]:
    files = sorted(fixtures_dir().glob("07-channel_*-event-plain.raw"))
    if not files:
        sys.exit(f"no 07-channel_*-event-plain.raw fixtures in {fixtures_dir()}")
    templates = [load_event(path) for path in files]
    templates.sort(key=lambda t: int(dict(t[0])["Event-Sequence"]))
    return templates


# == the loopback server (child process) ========================================================


class EventPool:
    """Pre-encoded CHANNEL_* frames for each format, cut into ``CHUNK_EVENTS``-event writes."""

    def __init__(self, size: int, formats: list[EventFormat]) -> None:
        templates = channel_templates()
        core = dict(templates[0][0])["Core-UUID"]
        self.names = {dict(pairs)["Event-Name"] for pairs, _ in templates}
        per_template = [
            sorted({u for _, v in pairs for u in _UUID.findall(v)} - {core})
            for pairs, _ in templates
        ]
        rng = random.Random(SEED)
        order = _interleaved_calls(rng, len(templates), size)
        self.frames: dict[EventFormat, list[bytes]] = {}
        self.chunks: dict[EventFormat, list[bytes]] = {}
        for fmt in formats:
            encoded = [event_frame(fmt, pairs, body) for pairs, body in templates]
            frames = []
            for index, call_uuids in order:
                frame = encoded[index]
                for old in per_template[index]:
                    frame = frame.replace(old.encode(), call_uuids[old])
                frames.append(frame)
            self.frames[fmt] = frames
            self.chunks[fmt] = [
                b"".join(frames[i : i + CHUNK_EVENTS]) for i in range(0, size, CHUNK_EVENTS)
            ]
        self.size = size

    def blast(self, fmt: EventFormat, count: int) -> Iterator[bytes]:
        """The writes for ``count`` events (the pool repeats when ``count`` exceeds it)."""
        chunks, frames = self.chunks[fmt], self.frames[fmt]
        full, rest = divmod(count, CHUNK_EVENTS)
        for i in range(full):
            yield chunks[i % len(chunks)]
        if rest:
            yield b"".join(frames[:rest])


def _interleaved_calls(
    rng: random.Random, templates: int, size: int
) -> list[tuple[int, dict[str, bytes]]]:
    """(template index, per-call uuid map) for ``size`` events of interleaved calls."""
    active: list[list[Any]] = []  # [next template index, uuid map]
    out: list[tuple[int, dict[str, bytes]]] = []

    class _Fresh(dict[str, bytes]):
        def __missing__(self, key: str) -> bytes:
            value = self[key] = str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode()
            return value

    while len(out) < size:
        while len(active) < CONCURRENT_CALLS:
            active.append([0, _Fresh()])
        call = rng.choice(active)
        out.append((call[0], call[1]))
        call[0] += 1
        if call[0] == templates:
            active.remove(call)
    return out


class JobFrames:
    """BACKGROUND_JOB frames from the recorded one, Job-UUID swapped in, body ``+OK``."""

    def __init__(self) -> None:
        pairs, _ = load_event(fixtures_dir() / "05-background-job-event-plain.raw")
        self.pairs = pairs
        self.templates = {
            fmt: event_frame(fmt, self._with_uuid(UUID_PLACEHOLDER), JOB_RESULT)
            for fmt in EventFormat
        }

    def _with_uuid(self, job_uuid: str) -> Pairs:
        return [(n, job_uuid if n == "Job-UUID" else v) for n, v in self.pairs]

    def frame(self, fmt: EventFormat, job_uuid: str) -> bytes:
        if len(job_uuid) == len(UUID_PLACEHOLDER):
            return self.templates[fmt].replace(UUID_PLACEHOLDER.encode(), job_uuid.encode())
        return event_frame(fmt, self._with_uuid(job_uuid), JOB_RESULT)


class ServerConnection:
    """One client socket: reads commands, answers them in order."""

    def __init__(self, sock: socket.socket, pool: EventPool, jobs: JobFrames, status: bytes):
        self.sock = sock
        self.pool = pool
        self.jobs = jobs
        self.status = status
        self.reader = CommandReader()
        self.authenticated = False
        self.format = EventFormat.PLAIN
        self.subscribed: set[str] = set()
        self.hold = False
        self.held: list[str] = []
        self.out: list[bytes] = []

    def run(self) -> None:
        sock = self.sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(auth_request())
            while True:
                data = sock.recv(READ_SIZE)
                self.reader.receive_data(data)
                while (command := self.reader.next_command()) is not NEED_DATA:
                    if command is CONNECTION_CLOSED or not self.execute(command):
                        self.flush()
                        return
                self.flush()
        except OSError:
            pass  # the client went away
        finally:
            sock.close()

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(b"".join(self.out))
            self.out.clear()

    def wants(self, name: str) -> bool:
        return "ALL" in self.subscribed or name in self.subscribed

    def execute(self, command: object) -> bool:
        """Queue the reply; False when the connection ends after it."""
        out = self.out
        if isinstance(command, Exit):
            out += [command_reply("+OK bye"), disconnect_notice()]
            return False
        if isinstance(command, Auth):
            if command.password != PASSWORD:
                out += [command_reply("-ERR invalid"), disconnect_notice()]
                return False
            self.authenticated = True
            out.append(command_reply("+OK accepted"))
        elif not self.authenticated:
            out.append(command_reply("-ERR command not found"))
        elif isinstance(command, Api):
            self.api(command)
        elif isinstance(command, BgApi):
            job_uuid = command.job_uuid
            out.append(command_reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)]))
            if self.hold:
                self.held.append(job_uuid)
            elif self.wants("BACKGROUND_JOB"):
                out.append(self.jobs.frame(self.format, job_uuid))
        elif isinstance(command, EventSubscribe):
            self.format = command.format
            self.subscribed.update(n.upper() for n in command.names)
            out.append(command_reply(f"+OK event listener enabled {command.format.value}"))
        elif isinstance(command, FilterAdd):
            out.append(command_reply(f"+OK filter added. [{command.header}]=[{command.value}]"))
        elif isinstance(command, FilterDelete):
            value = command.value or ""
            out.append(command_reply(f"+OK filter deleted. [{command.header}]=[{value}]"))
        elif isinstance(command, InvalidCommand):
            out.append(command_reply(command.reply_text))
        elif isinstance(command, UnknownCommand):
            out.append(command_reply("-ERR command not found"))
        else:
            out.append(command_reply("+OK"))
        return True

    def api(self, command: Api) -> None:
        out = self.out
        if command.command == "status":
            out.append(self.status)
        elif command.command == "bench_blast":
            missing = self.pool.names - self.subscribed
            if "ALL" not in self.subscribed and missing:
                out.append(api_response(f"-ERR not subscribed to {sorted(missing)}\n"))
                return
            out.append(api_response(JOB_RESULT))
            self.flush()  # the reply first, then the events
            for chunk in self.pool.blast(self.format, int(command.args)):
                self.sock.sendall(chunk)
        elif command.command == "bench_hold":
            self.hold = True
            out.append(api_response(JOB_RESULT))
        elif command.command == "bench_release":
            out.append(api_response(JOB_RESULT))
            self.flush()
            held, self.held, self.hold = self.held, [], False
            if self.wants("BACKGROUND_JOB"):
                frames = [self.jobs.frame(self.format, job_uuid) for job_uuid in held]
                for i in range(0, len(frames), CHUNK_EVENTS):
                    self.sock.sendall(b"".join(frames[i : i + CHUNK_EVENTS]))
        else:
            text = f"-ERR {command.command} Command not found!\n"
            out.append(api_response(text))


def serve(pool_size: int, formats: list[EventFormat]) -> None:
    """The child process: build the pool, print the port, serve until stdin closes."""
    pool = EventPool(pool_size, formats)
    jobs = JobFrames()
    status = (fixtures_dir() / "02-api-status-reply.raw").read_bytes()
    listener = socket.create_server((HOST, 0))
    print(listener.getsockname()[1], flush=True)

    def watchdog() -> None:  # the parent died or is done: exit whatever we are doing
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    while True:
        sock, _ = listener.accept()
        handler = ServerConnection(sock, pool, jobs, status)
        threading.Thread(target=handler.run, daemon=True).start()


class Server:
    """Starts ``--serve`` in a child process; always terminates it on exit."""

    def __init__(self, pool_size: int, formats: list[EventFormat]) -> None:
        self.pool_size = pool_size
        self.formats = formats
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> Server:
        formats = ",".join(f.value for f in self.formats)
        argv = [sys.executable, __file__, "--serve", "--pool", str(self.pool_size)]
        self.proc = subprocess.Popen(
            [*argv, "--formats", formats],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches only the parent, which ends the child
        )
        assert self.proc.stdout is not None
        try:
            line = self.proc.stdout.readline()
        except BaseException:
            self.close()
            raise
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the benchmark server did not start (said {line!r})")
        self.port = int(line)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


# == the stdlib baseline client =================================================================


class BlockingClient:
    """A blocking-socket ESL client: the baseline (framing by Content-Length, bytes.find)."""

    def __init__(self, port: int, fmt: EventFormat, events: list[str]) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0
        self.read_frame()  # auth/request
        self.command(f"auth {PASSWORD}")
        if events:
            self.command(f"event {fmt.value} {' '.join(events)}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"exit\n\n")
        self.sock.close()

    def command(self, line: str) -> bytes:
        self.sock.sendall(line.encode() + b"\n\n")
        head, body = self.read_frame()
        if b"-ERR" in head or body.startswith(b"-ERR"):
            raise RuntimeError(f"{line.split()[0]} failed: {head!r} {body!r}")
        return body

    def read_frame(self) -> tuple[bytes, bytes]:
        """The next frame's header block and body."""
        buf, pos = self.buf, self.pos
        while True:
            end = buf.find(b"\n\n", pos)
            if end >= 0:
                at = buf.find(b"Content-Length: ", pos, end)
                length = 0 if at < 0 else int(buf[at + 16 : buf.find(b"\n", at, end + 1)])
                stop = end + 2 + length
                if stop <= len(buf):
                    self.buf, self.pos = buf, stop
                    return buf[pos:end], buf[end + 2 : stop]
            data = self.sock.recv(READ_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection")
            buf, pos = buf[pos:] + data, 0


_FIELDS = {
    EventFormat.PLAIN: (b"Event-Name: ", b"\nUnique-ID: ", b"\n"),
    EventFormat.JSON: (b'"Event-Name":"', b'"Unique-ID":"', b'"'),
}


def baseline_events(port: int, fmt: EventFormat, count: int, names: list[str]) -> float:
    """Seconds from ``api bench_blast`` to the last event read by the minimal reader."""
    client = BlockingClient(port, fmt, names)
    name_key, uid_key, stop = _FIELDS[fmt]
    name_skip, uid_skip = len(name_key), len(uid_key)
    seen = bad = 0
    try:
        started = time.perf_counter()
        client.command(f"api bench_blast {count}")
        read_frame = client.read_frame
        while seen < count:
            _, body = read_frame()
            at = body.find(name_key) + name_skip
            name = body[at : body.find(stop, at)].decode()
            at = body.find(uid_key)
            unique_id = body[at + uid_skip : body.find(stop, at + uid_skip)].decode()
            if at < 0 or not name.startswith("CHANNEL_") or len(unique_id) != 36:
                bad += 1
            seen += 1
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    if bad:
        sys.exit(f"baseline: {bad} events without a CHANNEL_* name or Unique-ID")
    return elapsed


def baseline_api(port: int, calls: int) -> float:
    client = BlockingClient(port, EventFormat.PLAIN, [])
    send, read_frame, request = client.sock.sendall, client.read_frame, b"api status\n\n"
    try:
        started = time.perf_counter()
        for _ in range(calls):
            send(request)
            read_frame()
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return elapsed


def baseline_api_pipelined(port: int, calls: int, window: int) -> float:
    """Windows of ``window`` api commands written at once, then their replies read."""
    client = BlockingClient(port, EventFormat.PLAIN, [])
    batch = b"api status\n\n" * window
    try:
        started = time.perf_counter()
        for _ in range(calls // window):
            client.sock.sendall(batch)
            for _ in range(window):
                client.read_frame()
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return elapsed


def baseline_bgapi(port: int, jobs: int, window: int, trace: bool) -> dict[str, float]:
    """Pipelined windows of ``window`` bgapi commands; completions matched in a dict."""
    client = BlockingClient(port, JOB_FORMAT, ["BACKGROUND_JOB"])
    key = b'"Job-UUID":"' if JOB_FORMAT is EventFormat.JSON else b"\nJob-UUID: "
    end = b'"' if JOB_FORMAT is EventFormat.JSON else b"\n"
    pending: dict[str, list[Any]] = {}
    try:
        client.command("api bench_hold")
        memory = _MemoryProbe(trace)
        started = time.perf_counter()
        sent = 0
        while sent < jobs:
            batch = [str(uuid.uuid4()) for _ in range(min(window, jobs - sent))]
            client.sock.sendall(
                b"".join(b"bgapi status\nJob-UUID: %s\n\n" % u.encode() for u in batch)
            )
            for job_uuid in batch:
                head, _ = client.read_frame()
                if b"+OK Job-UUID" not in head:
                    sys.exit(f"baseline bgapi refused: {head!r}")
                pending[job_uuid] = ["status", None]
            sent += len(batch)
        accepted = time.perf_counter() - started
        result = memory.measure(jobs)
        started = time.perf_counter()
        client.command("api bench_release")
        done = 0
        while done < jobs:
            _, body = client.read_frame()
            at = body.find(key) + len(key)
            pending.pop(body[at : body.find(end, at)].decode())[1] = body
            done += 1
        completed = time.perf_counter() - started
    finally:
        client.close()
    return {**result, "accept": jobs / accepted, "complete": jobs / completed}


class _MemoryProbe:
    """tracemalloc (when ``trace``) and RSS, from construction to :meth:`measure`."""

    def __init__(self, trace: bool) -> None:
        gc.collect()
        self.trace = trace
        if trace:
            tracemalloc.start()
        self.traced = tracemalloc.get_traced_memory()[0] if trace else 0
        self.rss = rss_bytes()

    def measure(self, jobs: int) -> dict[str, float]:
        gc.collect()
        out = {"rss": (rss_bytes() - self.rss) / jobs}
        if self.trace:
            out["traced"] = (tracemalloc.get_traced_memory()[0] - self.traced) / jobs
            tracemalloc.stop()
        return out


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best we have
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


# == the esl-trio side ==========================================================================


def runtime_config(
    port: int, fmt: EventFormat, events: list[str], max_inflight: int = 1000
) -> RuntimeConfig:
    return RuntimeConfig(
        host=HOST,
        port=port,
        password=PASSWORD,
        retry=RetryPolicy.disabled(),
        heartbeat=HeartbeatConfig.disabled(),
        backpressure=BackpressureConfig(max_inflight=max_inflight),
        subscriptions=SubscriptionConfig(events=events, format=fmt),
        timeouts=Timeouts(bgapi_completion=600.0, command=60.0, api=60.0),
    )


async def esl_events(port: int, fmt: EventFormat, count: int, names: list[str]) -> dict[str, Any]:
    """Seconds from ``api bench_blast`` to the consumer's last event; drops and gaps."""
    async with open_esl_runtime(runtime_config(port, fmt, names)) as rt:
        seen = gaps = bad = 0
        finished = 0.0
        async with rt.events.receiver(*names, max_buffer=count) as receiver:

            async def consume(cancel: trio.CancelScope) -> None:
                nonlocal seen, gaps, bad, finished
                async for item in receiver:
                    if isinstance(item, StreamGap):
                        gaps += 1
                        continue
                    name, unique_id = item.name, item.unique_id
                    if unique_id is None or not name.startswith("CHANNEL_"):
                        bad += 1
                    seen += 1
                    if seen == count:
                        break
                finished = time.perf_counter()
                cancel.cancel()

            async def watch(cancel: trio.CancelScope) -> None:
                # With drops the consumer never sees `count` events: stop once all arrived.
                nonlocal finished
                while True:
                    await trio.sleep(0.2)
                    stats = receiver.statistics()
                    if stats.dropped and stats.delivered + stats.dropped >= count:
                        await trio.sleep(0.2)
                        finished = time.perf_counter()
                        cancel.cancel()

            with trio.fail_after(60 + count / 1000):
                async with trio.open_nursery() as nursery:
                    started = time.perf_counter()
                    reply = await rt.api("bench_blast", str(count))
                    if reply.is_error:
                        sys.exit(f"bench_blast refused: {reply.text.strip()}")
                    nursery.start_soon(consume, nursery.cancel_scope)
                    nursery.start_soon(watch, nursery.cancel_scope)
            # Before the receiver closes: health() only sums the receivers still open.
            dropped = rt.health().events_dropped
    if bad:
        sys.exit(f"esl-trio: {bad} events without a CHANNEL_* name or Unique-ID")
    return {
        "seconds": finished - started,
        "seen": seen,
        "dropped": dropped,
        "gaps": gaps,
    }


async def esl_api(port: int, calls: int) -> float:
    async with open_esl_runtime(runtime_config(port, EventFormat.PLAIN, [])) as rt:
        reply = await rt.api("status")
        if not reply.text.startswith("UP "):
            sys.exit(f"unexpected api status reply: {reply.text[:60]!r}")
        api = rt.api
        started = time.perf_counter()
        for _ in range(calls):
            await api("status")
        return time.perf_counter() - started


async def esl_api_concurrent(port: int, calls: int, callers: int) -> float:
    """``callers`` tasks each running serial api calls: the writer coalesces their commands."""
    async with open_esl_runtime(runtime_config(port, EventFormat.PLAIN, [])) as rt:
        await rt.api("status")
        api = rt.api
        each = calls // callers

        async def caller() -> None:
            for _ in range(each):
                await api("status")

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(callers):
                nursery.start_soon(caller)
        return time.perf_counter() - started


async def esl_bgapi(port: int, jobs: int, tasks: int, trace: bool) -> dict[str, float]:
    config = runtime_config(port, JOB_FORMAT, [], max_inflight=jobs + 100)
    async with open_esl_runtime(config) as rt:
        await rt.api("bench_hold")
        shares = [jobs // tasks + (i < jobs % tasks) for i in range(tasks)]
        handles: list[BackgroundJob] = []

        async def start(count: int) -> None:
            for _ in range(count):
                handles.append(await rt.bgapi("status"))

        memory = _MemoryProbe(trace)
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for share in shares:
                nursery.start_soon(start, share)
        accepted = time.perf_counter() - started
        result = memory.measure(jobs)
        if rt.health().pending_jobs != jobs:
            sys.exit(f"esl-trio: {rt.health().pending_jobs} jobs pending, expected {jobs}")
        ok = 0

        async def wait(chunk: list[BackgroundJob]) -> None:
            nonlocal ok
            for job in chunk:
                event = await job.wait()  # (not `ok += await ...`: that reads `ok` first)
                ok += event.result == "+OK\n"

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for i in range(tasks):
                nursery.start_soon(wait, handles[i::tasks])
            await rt.api("bench_release")
        completed = time.perf_counter() - started
    if ok != jobs:
        sys.exit(f"esl-trio: {ok} of {jobs} jobs completed with +OK")
    return {**result, "accept": jobs / accepted, "complete": jobs / completed}


# == harness ====================================================================================


def rss_probe(side: str, port: int, jobs: int, tasks: int) -> float:
    """RSS growth per pending job, measured by a fresh process of this file."""
    argv = [sys.executable, __file__, "--rss-probe", side, "--port", str(port)]
    argv += ["--jobs", str(jobs), "--tasks", str(tasks)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return float(done.stdout.split()[-1])


def run_trio(fn: Callable[..., Any], *args: Any) -> Any:
    return trio.run(fn, *args)


def profiled(label: str, fn: Callable[..., Any], *args: Any, top: int = 14) -> None:
    """Run one esl-trio measure under cProfile and print where the time goes."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        run_trio(fn, *args)
    finally:
        profile.disable()
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    print(f"\n-- profile: {label} (cProfile, sorted by own time) --")
    print("\n".join(lines[1:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per blast")
    parser.add_argument("--api-calls", type=int, default=20_000, help="serial api calls")
    parser.add_argument("--jobs", type=int, default=10_000, help="bgapi jobs pending at once")
    parser.add_argument("--tasks", type=int, default=8, help="tasks starting bgapi jobs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (best kept)")
    parser.add_argument("--formats", default="plain,json", help="event formats to measure")
    parser.add_argument("--pool", type=int, default=20_000, help="distinct events in the pool")
    parser.add_argument("--profile", action="store_true", help="also profile each measure")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rss-probe", choices=["esl", "base"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    formats = [EventFormat(f.strip()) for f in args.formats.split(",") if f.strip()]
    if args.serve:
        serve(args.pool, formats)
        return 0
    if args.rss_probe:  # one bgapi pass in a fresh process: RSS growth not hidden by reuse
        if args.rss_probe == "esl":
            result = run_trio(esl_bgapi, args.port, args.jobs, args.tasks, False)
        else:
            result = baseline_bgapi(args.port, args.jobs, args.tasks, False)
        print(result["rss"])
        return 0
    if min(args.events, args.api_calls, args.jobs, args.tasks, args.repeat, args.pool) < 1:
        parser.error("sizes must be at least 1")
    if EventFormat.XML in formats:
        parser.error("the events measure supports plain and json")

    print(f"Python {platform.python_version()} ({platform.python_implementation()})")
    print(f"{platform.platform()} | {os.cpu_count()} CPUs | server in a separate process")
    pool = -(-min(args.pool, args.events) // CHUNK_EVENTS) * CHUNK_EVENTS
    rows: list[tuple[str, str, str, str, str, str]] = []
    notes: list[str] = []
    failures: list[str] = []

    def row(measure: str, ours: float, base: float, fmt: str, target: str, ok: bool | None):
        ratio = f"{ours / base:.2f}x" if base else "-"
        verdict = "info" if ok is None else ("PASS" if ok else "FAIL")
        if ok is False:
            failures.append(measure)
        rows.append((measure, fmt.format(ours), fmt.format(base), ratio, target, verdict))

    started = time.perf_counter()
    with Server(pool, formats) as server:
        port = server.port
        names = sorted({dict(pairs)["Event-Name"] for pairs, _ in channel_templates()})
        print(
            f"server on {HOST}:{port}, pool of {pool} events per format (started in "
            f"{time.perf_counter() - started:.1f} s)"
        )

        # 3. bgapi jobs pending, then completed.
        runs = [run_trio(esl_bgapi, port, args.jobs, args.tasks, False) for _ in range(args.repeat)]
        traced = run_trio(esl_bgapi, port, args.jobs, args.tasks, True)
        base_runs = [baseline_bgapi(port, args.jobs, args.tasks, False) for _ in range(args.repeat)]
        base_traced = baseline_bgapi(port, args.jobs, args.tasks, True)
        jobs = f"{args.jobs:,}"
        row(
            f"bgapi accepted/s ({jobs}, {args.tasks} tasks)",
            max(r["accept"] for r in runs),
            max(r["accept"] for r in base_runs),
            "{:,.0f}",
            "",
            None,
        )
        row(
            "bytes/pending job, tracemalloc",
            traced["traced"],
            base_traced["traced"],
            "{:,.0f}",
            "",
            None,
        )
        row(
            "bytes/pending job, RSS (fresh process)",
            rss_probe("esl", port, args.jobs, args.tasks),
            rss_probe("base", port, args.jobs, args.tasks),
            "{:,.0f}",
            "",
            None,
        )
        row(
            f"bgapi completions/s ({jobs} released)",
            max(r["complete"] for r in runs),
            max(r["complete"] for r in base_runs),
            "{:,.0f}",
            "",
            None,
        )

        # 2. serial api round trips.
        ours = min(run_trio(esl_api, port, args.api_calls) for _ in range(args.repeat))
        base = min(baseline_api(port, args.api_calls) for _ in range(args.repeat))
        rate = args.api_calls / ours
        row(
            "api round trips/s (serial)",
            rate,
            args.api_calls / base,
            "{:,.0f}",
            ">=12,000/s",
            rate >= 12_000,
        )

        # 2b. api round trips with 100 concurrent callers (pipelined by the writer task).
        callers = 100
        calls = max(args.api_calls // callers, 1) * callers
        ours = min(run_trio(esl_api_concurrent, port, calls, callers) for _ in range(args.repeat))
        base = min(baseline_api_pipelined(port, calls, callers) for _ in range(args.repeat))
        row(
            f"api round trips/s ({callers} concurrent)",
            calls / ours,
            calls / base,
            "{:,.0f}",
            "",
            None,
        )

        # 1. events into one receiver.
        for fmt in formats:
            results = [
                run_trio(esl_events, port, fmt, args.events, names) for _ in range(args.repeat)
            ]
            clean = [r for r in results if not r["dropped"]]
            base = min(baseline_events(port, fmt, args.events, names) for _ in range(args.repeat))
            best = min(clean or results, key=lambda r: r["seconds"])
            rate = args.events / best["seconds"]
            label = f"events/s {fmt.value}, 1 receiver"
            if not clean:
                label += " (INVALID: drops)"
            row(
                label,
                rate,
                args.events / base,
                "{:,.0f}",
                ">=50,000/s",
                bool(clean) and rate >= 50_000,
            )
            dropped = [r["dropped"] for r in results]
            notes.append(
                f"{fmt.value}: events dropped per run {dropped}, gaps "
                f"{[r['gaps'] for r in results]}"
            )

        if args.profile:
            profiled("bgapi", esl_bgapi, port, args.jobs, args.tasks, False)
            profiled("api", esl_api, port, args.api_calls)
            for fmt in formats:
                profiled(f"events {fmt.value}", esl_events, port, fmt, args.events, names)

    print(
        f"\n{'measure':<40} {'esl-trio':>10} {'baseline':>10} {'ratio':>7}  {'target':<11} verdict"
    )
    for measure, ours_s, base_s, ratio, target, verdict in rows:
        print(f"{measure:<40} {ours_s:>10} {base_s:>10} {ratio:>7}  {target:<11} {verdict}")
    print()
    for note in notes:
        print(note)
    print(
        f"best of {args.repeat}; {args.events:,} events per blast, {args.api_calls:,} api calls, "
        f"{args.jobs:,} jobs; total {time.perf_counter() - started:.0f} s"
    )
    if failures:
        print("targets missed: " + "; ".join(failures))
    return 1 if failures and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
