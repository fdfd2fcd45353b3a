"""Soak: hundreds of thousands of events through forced reconnects, with api/bgapi traffic.

The issue's bar: bounded (< 60 s real time on 2 cores, in the suite), >= 200 000 events and
>= 100 forced reconnects with concurrent api/bgapi traffic; every event delivered or accounted
as a gap/drop, in order; open file descriptors and memory flat at the end.

How it is checked, on virtual time over the fake's in-memory streams (plus a loopback TCP
variant with the default connector, fewer events and 40 reconnects, for real sockets):

* every event carries ``Soak-Seq`` (1, 2, 3… across fake restarts). One batch in ten goes
  through the fake's ``emit``; the others are the same frame layout pre-encoded and queued with
  ``send_raw`` on the connections subscribed (see :class:`Source`; with every event through
  ``emit`` and tracemalloc on throughout, the run took 150 s). Either way the test knows which
  connection queued each event: an event must arrive on that connection (generation), an
  event queued nowhere must never arrive;
* a :class:`Ledger` follows each receiver's stream of events and :class:`StreamGap` markers as it
  is consumed (a large buffer, and a 64-item DROP_NEWEST one read slowly so it drops): sequence
  numbers strictly increase (order), overflow markers count their drops exactly, and events may
  go missing only across a generation change (a reconnect gap), never silently inside one
  connection. At the end ``received + dropped + lost in reconnect gaps == emitted`` for each
  receiver, and the marker counts equal the receiver's statistics;
* faults (drop, drop after flush, restart with/without notice, mid-frame cut, disconnect notice,
  garbage) hit while a batch is in flight; events keep being emitted while the link is down;
* every api/bgapi call ends in exactly one outcome: its own result (an echo of its token, so a
  crossed reply is caught) or a documented error. Anything else fails the test;
* resources: fds (``/proc/self/fd``), RSS and a census of esl_trio's live objects from the
  warm-up to the end; tracemalloc (which slows everything ~4x) over the last quarter only.

Known bugs, tolerated here and pinned strictly by the xfail tests at the end:

* events the new connection delivers while its subscriptions are being restored reach the
  receivers *before* the RECONNECT marker. The ledger counts those "late markers" (the loss is
  still visible through the envelope's generation) and requires the marker to follow within
  the new generation;
* with DROP_OLDEST, an overflow swallows a RECONNECT marker at the head of the buffer (so the
  soak's small receiver uses DROP_NEWEST).

Behaviour ids: B-RECON-*, B-LIM-2 (bounded receivers), B-EVS-1 (order), B-BG-8, G-5.
Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import gc
import os
import random
import time
import tracemalloc
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable

import attrs
import pytest
import trio
import trio.testing

from esl_trio import (
    BackpressureError,
    CommandTimeoutError,
    ConnectionLostError,
    GapReason,
    NotReadyError,
    Overflow,
    RuntimeConfig,
    RuntimeState,
    StreamGap,
    open_esl_runtime,
)
from esl_trio._receivers import open_receiver
from esl_trio.config import HeartbeatConfig, RetryPolicy, SubscriptionConfig, Timeouts
from esl_trio.protocol import Event, EventFormat
from esl_trio.protocol.server import auth_request, command_reply, event_frame
from esl_trio.runtime import EventReceiver
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch

EVENT = "CHANNEL_ANSWER"
SEQ = "Soak-Seq"
#: Errors an api/bgapi call may end with while connections are being killed under it.
EXPECTED_ERRORS = (ConnectionLostError, CommandTimeoutError, NotReadyError, BackpressureError)
MULTIPLE = -1  # queued for more than one live connection (an old one not yet closed)
#: The late-marker bug (see the module doc). Set to False once it is fixed: then a RECONNECT
#: marker must precede the first event of every new connection.
LATE_MARKERS_TOLERATED = False


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- accounting --------------------------------------------------------------------------------


class Ledger:
    """Streaming accounting of one receiver against the emitted sequence (see module doc)."""

    def __init__(self, name: str, queued_on: array[int] | None) -> None:
        self.name = name
        self.queued_on = queued_on  # per Soak-Seq: connection id that queued it (0: none)
        self.last_seq = 0
        self.last_gen = 1
        self.received = 0
        self.dropped = 0  # sum of marker.dropped (overflow losses)
        self.lost_in_reconnect_gaps = 0
        self.reconnect_markers = 0
        self.overflow_markers = 0
        self.generation_changes = 0
        self.late_markers = 0
        self.awaiting_marker_for: int | None = None
        self._markers: list[StreamGap] = []
        self._waiters: list[tuple[int, trio.Event]] = []
        self.violations: list[str] = []

    async def wait_for(self, seq: int) -> None:
        """Until an event numbered ``seq`` or later was taken."""
        if self.last_seq < seq:
            reached = trio.Event()
            self._waiters.append((seq, reached))
            await reached.wait()

    def _fail(self, message: str) -> None:
        if len(self.violations) < 20:
            self.violations.append(f"{self.name}: {message}")

    def take(self, item: Event | StreamGap) -> None:
        if isinstance(item, StreamGap):
            self._gap(item)
        else:
            assert item.envelope is not None
            self._event(int(item[SEQ]), item.envelope.generation)

    def _gap(self, gap: StreamGap) -> None:
        self.dropped += gap.dropped
        if gap.reason is GapReason.RECONNECT:
            self.reconnect_markers += 1
            waiting = self.awaiting_marker_for
            if waiting is not None and gap.generation >= waiting:
                self.awaiting_marker_for = None  # the late marker finally arrived
        else:
            self.overflow_markers += 1
        self._markers.append(gap)

    def _event(self, seq: int, gen: int) -> None:
        markers, self._markers = self._markers, []
        if seq <= self.last_seq:
            self._fail(f"order: Soak-Seq {seq} after {self.last_seq}")
            return
        if self.queued_on is not None:
            queued = self.queued_on[seq]
            if queued == 0:
                self._fail(f"event {seq} arrived but the fake never queued it")
            elif queued != MULTIPLE and queued != gen:
                self._fail(f"event {seq} queued on connection {queued}, received on {gen}")
        missing = seq - self.last_seq - 1
        dropped = sum(m.dropped for m in markers)
        if dropped > missing:
            self._fail(f"markers count {dropped} drops before {seq}, only {missing} missing")
        network_loss = missing - max(dropped, 0)
        if gen != self.last_gen:
            if gen < self.last_gen:
                self._fail(f"generation went back from {self.last_gen} to {gen} at {seq}")
            self.generation_changes += 1
            self.lost_in_reconnect_gaps += max(network_loss, 0)
            if not any(m.reason is GapReason.RECONNECT for m in markers):
                # Known bug (see module doc): the marker comes after this event.
                if self.awaiting_marker_for is not None:
                    self._fail(f"no reconnect marker for generation {self.awaiting_marker_for}")
                self.awaiting_marker_for = gen
                self.late_markers += 1
        elif network_loss:
            kind = "after markers " + repr(markers) if markers else "without a gap marker"
            self._fail(f"{network_loss} events lost inside connection {gen} before {seq} {kind}")
        self.last_seq, self.last_gen = seq, gen
        self.received += 1
        if self._waiters:
            for waiter in [w for w in self._waiters if w[0] <= seq]:
                waiter[1].set()
                self._waiters.remove(waiter)

    def check(self, emitted: int, receiver: EventReceiver) -> None:
        stats = receiver.statistics()
        assert not self.violations, self.violations
        assert self.awaiting_marker_for is None, "a reconnect marker never arrived"
        assert LATE_MARKERS_TOLERATED or self.late_markers == 0, self.late_markers
        assert self.last_seq == emitted, (self.name, self.last_seq, emitted)
        assert self.received + self.dropped + self.lost_in_reconnect_gaps == emitted
        assert stats.delivered == self.received
        assert stats.dropped == self.dropped
        assert stats.gaps >= self.reconnect_markers + self.overflow_markers - self.late_markers


async def consume(
    receiver: EventReceiver, ledger: Ledger, pause: Callable[[int], Awaitable[None]] | None = None
) -> None:
    count = 0
    async for item in receiver:
        ledger.take(item)
        count += 1
        if pause is not None:
            await pause(count)


# -- concurrent api / bgapi traffic ------------------------------------------------------------


@attrs.define
class Traffic:
    """Calls started, and how each ended: "ok" or the error's type name. One outcome each."""

    started: Counter[str] = attrs.Factory(Counter)
    outcomes: Counter[str] = attrs.Factory(Counter)
    crossed: list[str] = attrs.Factory(list)
    stop: bool = False

    def settled(self) -> int:
        return sum(self.outcomes.values())


async def api_worker(rt, traffic: Traffic, worker: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    n = 0
    while not traffic.stop:
        n += 1
        token = f"api-{worker}-{n}"
        traffic.started["api"] += 1
        try:
            reply = await rt.api("echo", token)
        except EXPECTED_ERRORS as exc:
            traffic.outcomes[f"api:{type(exc).__name__}"] += 1
            if isinstance(exc, NotReadyError):
                await rt.wait_state(RuntimeState.READY)
        else:
            traffic.outcomes["api:ok"] += 1
            if reply.text != token:
                traffic.crossed.append(f"{token} got {reply.text!r}")
        await trio.sleep(rng.uniform(0.0005, 0.0015))


async def bgapi_worker(rt, traffic: Traffic, worker: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    n = 0
    while not traffic.stop:
        n += 1
        token = f"bg-{worker}-{n}"
        traffic.started["bgapi"] += 1
        try:
            job = await rt.bgapi("echo", token)
        except EXPECTED_ERRORS as exc:
            traffic.outcomes[f"bgapi:{type(exc).__name__}"] += 1
            if isinstance(exc, NotReadyError):
                await rt.wait_state(RuntimeState.READY)
        else:
            try:
                done = await job.wait()  # bounded by the runtime's completion deadline
            except EXPECTED_ERRORS as exc:
                traffic.outcomes[f"bgapi:{type(exc).__name__}"] += 1
            else:
                traffic.outcomes["bgapi:ok"] += 1
                if done.result != token:
                    traffic.crossed.append(f"{token} got {done.result!r}")
        await trio.sleep(rng.uniform(0.0005, 0.0015))


# -- faults ------------------------------------------------------------------------------------


async def inject_fault(fs: FakeFreeSwitch, kind: str, rng: random.Random) -> None:
    if kind == "drop":
        await fs.drop_all()
    elif kind == "drop-flush":
        await fs.drop_all(flush=True)
    elif kind == "restart":
        await fs.restart(notice=rng.random() < 0.7)
    elif kind == "cut":
        fs.cut_next_frame(after_bytes=rng.randint(0, 80))
    elif kind == "notice":
        fs.send_disconnect_notice()
    elif kind == "garbage":
        fs.send_raw(b"this is not a frame\n\n")
    else:  # pragma: no cover
        raise AssertionError(kind)


FAULTS = ("drop", "drop", "drop-flush", "restart", "cut", "cut", "notice", "garbage")


def soak_config(**changes: object) -> RuntimeConfig:
    config = RuntimeConfig(
        host="fake-freeswitch",
        heartbeat=HeartbeatConfig.disabled(),
        retry=RetryPolicy(initial_delay=0.005, max_delay=0.05, jitter=0.5),
        timeouts=Timeouts(api=2.0, command=2.0, bgapi_completion=0.05, restore=2.0),
        subscriptions=SubscriptionConfig(events=[EVENT], format=EventFormat.JSON),
    )
    return attrs.evolve(config, **changes)


async def wait_reconnected(rt, target: int) -> None:  # type: ignore[no-untyped-def]
    """Until the runtime completed ``target`` reconnects and is READY again."""
    with trio.fail_after(60):
        while rt.health().reconnect.reconnects < target or rt.state is not RuntimeState.READY:
            await rt.wait_state(RuntimeState.RECONNECTING)
            await rt.wait_state(RuntimeState.READY)


# -- where events come from ------------------------------------------------------------------


class Source:
    """Events with a ``Soak-Seq`` header, written by the fake to the connections listening.

    ``emit_real`` goes through ``fs.emit``: the fake's subscription check, bounded queue and its
    encoder. That encoder calls ``json.dumps`` per header (~28 calls, ~50 µs per event, about
    half the soak's CPU; x4 under tracemalloc), so ``emit_fast`` writes the same frame layout
    pre-encoded from a template (fixed-width Soak-Seq, so one Content-Length fits all) through
    ``send_raw`` to every authenticated connection subscribed to the event: the same outbox,
    written between replies like any event, and the same accounting.
    """

    PLACEHOLDER = "QZQZQZQZQ"

    def __init__(self, fs: FakeFreeSwitch, queued_on: array[int]) -> None:
        self.fs = fs
        self.queued_on = queued_on
        headers = [(n, v) for n, v in fs.emit(EVENT).headers if n != "Event-Sequence"]
        frame = event_frame(EventFormat.JSON, [*headers, (SEQ, self.PLACEHOLDER)])
        self.prefix, self.suffix = frame.split(self.PLACEHOLDER.encode())

    def emit_real(self, first: int, count: int) -> None:
        for seq in range(first, first + count):
            queued = self.fs.emit(EVENT, [(SEQ, f"{seq:09d}")]).queued_for
            self.queued_on[seq] = queued[0] if len(queued) == 1 else (MULTIPLE if queued else 0)

    def emit_fast(self, first: int, count: int) -> None:
        targets = [
            conn
            for conn in self.fs.connections
            if conn.authenticated and not conn.closed and EVENT in conn.subscriptions
        ]
        prefix, suffix = self.prefix, self.suffix
        data = b"".join(prefix + b"%09d" % seq + suffix for seq in range(first, first + count))
        for conn in targets:
            self.fs.send_raw(data, conn)
        queued = targets[0].id if len(targets) == 1 else (MULTIPLE if targets else 0)
        for seq in range(first, first + count):
            self.queued_on[seq] = queued


# -- resources ---------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def runtime_objects() -> Counter[str]:
    """Live objects of esl_trio's own classes (the fake's excluded), by class name."""
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        module = getattr(type(obj), "__module__", "") or ""
        if module.startswith("esl_trio") and not module.startswith("esl_trio.testing"):
            counts[type(obj).__qualname__] += 1
    return counts


@attrs.define
class Resources:
    """Measurements at the warm-up point and at the end (see the soak's docstring)."""

    fds: list[int] = attrs.Factory(list)
    rss: list[int] = attrs.Factory(list)
    objects: list[Counter[str]] = attrs.Factory(list)
    traced: list[int] = attrs.Factory(list)
    snapshots: list[tracemalloc.Snapshot] = attrs.Factory(list)
    traced_peak: int = 0
    tracer_overhead: int = 0  # tracemalloc's own memory, counted in the last RSS sample

    def sample(self, fs: FakeFreeSwitch) -> None:
        forget_fake_history(fs)
        gc.collect()
        self.fds.append(open_fds())
        self.rss.append(rss_bytes())
        self.objects.append(runtime_objects())

    def trace_mark(self, fs: FakeFreeSwitch) -> None:
        forget_fake_history(fs)
        gc.collect()
        self.traced.append(tracemalloc.get_traced_memory()[0])
        self.traced_peak = tracemalloc.get_traced_memory()[1]
        self.snapshots.append(tracemalloc.take_snapshot())

    def traced_growth_by_area(self) -> dict[str, int]:
        """Traced growth by where it was allocated: the runtime, the fake + test, the rest."""
        first, last = self.snapshots
        areas: Counter[str] = Counter()
        for stat in last.compare_to(first, "filename"):
            name = stat.traceback[0].filename.replace(os.sep, "/")
            if "/esl_trio/testing/" in name or "/tests/" in name:
                areas["fake+test"] += stat.size_diff
            elif "/esl_trio/" in name:
                areas["runtime"] += stat.size_diff
            else:
                areas["trio+stdlib"] += stat.size_diff
        return dict(areas)

    def object_growth(self) -> dict[str, int]:
        first, last = self.objects[0], self.objects[-1]
        return {name: last[name] - first[name] for name in last if last[name] > first[name]}


def forget_fake_history(fs: FakeFreeSwitch) -> None:
    """Free what the fake keeps for the test: its memory is not the runtime's.

    The fake logs every command received (``fs.commands``, ``conn.commands``). (This soak also
    found that the fake kept the frames still queued for a dead connection; it now drops them
    when the connection closes.)
    """
    fs.commands.clear()
    for conn in fs.all_connections:
        conn.commands.clear()


# -- the soak ----------------------------------------------------------------------------------

SOAK_EVENTS = 200_000
SOAK_BATCH = 500
SOAK_BATCH_PAUSE = 0.004  # virtual seconds between batches: the api/bgapi traffic runs meanwhile
SOAK_FAULT_EVERY = 1_500  # -> 133 forced reconnects
SOAK_WARMUP = 20_000
SOAK_REAL_EVERY = 10  # one batch in 10 through fs.emit (its encoder), the rest pre-encoded
#: tracemalloc slows everything ~4x, so it traces the last stretch only: it starts at
#: TRACE_FROM, the traced baseline is taken TRACE_WARMUP events later (caches filled under
#: tracing), and the end is compared with it. The whole run is covered by the cheap checks:
#: fds, RSS and a census of esl_trio's live objects from SOAK_WARMUP to the end.
SOAK_TRACE_FROM = 150_000
SOAK_TRACE_WARMUP = 10_000
SOAK_WALL_BUDGET = 60.0
SOAK_VIRTUAL_LIMIT = 600.0  # the run takes ~3 virtual seconds
TRACED_SLACK = 512 * 1024
RUNTIME_TRACED_SLACK = 64 * 1024
RSS_SLACK = 8 * 1024 * 1024
#: Live esl_trio objects may differ by a few in-flight commands between the two samples; a
#: leak per call (thousands) or per reconnect (133) would be far above this.
OBJECT_SLACK = 20


class Soak:
    """The memory-stream soak's driver: events in batches, faults, traffic, measurements."""

    def __init__(self, fs: FakeFreeSwitch, rng: random.Random) -> None:
        self.fs = fs
        self.rng = rng
        self.total = SOAK_EVENTS + 1  # + one last event that flushes pending gap markers
        self.queued_on = array("i", bytes(4 * (self.total + 1)))  # Soak-Seq -> connection
        self.source = Source(fs, self.queued_on)
        self.big = Ledger("big", self.queued_on)
        self.small = Ledger("small", self.queued_on)
        self.traffic = Traffic()
        self.faults: Counter[str] = Counter()
        self.resources = Resources()
        self.emitted = 0

    def emit(self, count: int) -> None:
        count = min(count, SOAK_EVENTS - self.emitted)
        if count <= 0:
            return
        real = (self.emitted // SOAK_BATCH) % SOAK_REAL_EVERY == 0
        (self.source.emit_real if real else self.source.emit_fast)(self.emitted + 1, count)
        self.emitted += count

    async def run(self, rt) -> None:  # type: ignore[no-untyped-def]
        next_fault = SOAK_FAULT_EVERY
        while self.emitted < SOAK_EVENTS:
            self.emit(SOAK_BATCH)
            await trio.sleep(SOAK_BATCH_PAUSE)  # autojump: everything idle, all consumed
            self.measure()
            if next_fault <= self.emitted < SOAK_EVENTS:
                next_fault += SOAK_FAULT_EVERY
                await self.fault(rt)

    def measure(self) -> None:
        resources = self.resources
        if not resources.fds and self.emitted >= SOAK_WARMUP:
            resources.sample(self.fs)
        if self.emitted >= SOAK_TRACE_FROM and not tracemalloc.is_tracing():
            tracemalloc.start()
        if not resources.traced and self.emitted >= SOAK_TRACE_FROM + SOAK_TRACE_WARMUP:
            resources.trace_mark(self.fs)

    async def fault(self, rt) -> None:  # type: ignore[no-untyped-def]
        """Break the connection while a batch is in flight; emit on while it is down."""
        kind = self.rng.choice(FAULTS)
        self.faults[kind] += 1
        target = rt.health().reconnect.reconnects + 1
        self.emit(SOAK_BATCH)
        for _ in range(self.rng.randrange(30)):  # part of the batch is read, part is not
            await trio.lowlevel.checkpoint()
        await inject_fault(self.fs, kind, self.rng)
        while rt.health().reconnect.reconnects < target:
            self.emit(1)  # emitted while the connection is down: lost
            await trio.sleep(0.002)
        await wait_reconnected(rt, target)
        forget_fake_history(self.fs)

    async def quiesce(self, small: EventReceiver) -> None:
        """Let the slow consumer drain, then one last event flushes pending markers."""
        await self.big.wait_for(self.emitted)
        await trio.sleep(1)  # virtual: the slow consumer takes 64 items in ~16 ms
        assert small.statistics().buffered == 0
        self.emitted += 1
        self.source.emit_fast(self.emitted, 1)
        await self.big.wait_for(self.total)
        await self.small.wait_for(self.total)


async def small_pause(count: int) -> None:
    if count % 8 == 0:  # a slow consumer: it loses most events to overflow
        await trio.sleep(0.002)


@pytest.mark.slow
async def test_soak_events_reconnects_and_traffic_on_memory_streams(
    autojump_clock: trio.abc.Clock,
) -> None:
    """>= 200 000 events, >= 100 forced reconnects, api/bgapi all along; all accounted."""
    started = time.perf_counter()
    fds_before = open_fds()
    with trio.fail_after(SOAK_VIRTUAL_LIMIT):  # a hang fails (virtual time)
        async with open_fake_freeswitch(fire_api_events=False) as fs:
            # Replies and job completions take a little (virtual) time, so faults catch calls
            # in flight and jobs accepted on one connection complete on the next, or never.
            # The fake answers one command at a time and writes events only when no command is
            # waiting (B-WIRE-7), so the workers keep it busy about a third of the time: more,
            # and events (and injected faults) would starve behind the replies.
            fs.reply_delay = 0.0001
            fs.bgapi_delay = 0.001
            soak = Soak(fs, random.Random(20260821))
            traffic, resources = soak.traffic, soak.resources
            async with open_esl_runtime(soak_config(), connector=fs.connector) as rt:
                big = rt.events.receiver(EVENT, max_buffer=200_000)
                small = rt.events.receiver(EVENT, max_buffer=64, overflow=Overflow.DROP_NEWEST)
                async with big, small, trio.open_nursery() as consumers:
                    consumers.start_soon(consume, big, soak.big)
                    consumers.start_soon(consume, small, soak.small, small_pause)
                    async with trio.open_nursery() as workers:
                        for i in range(3):
                            workers.start_soon(api_worker, rt, traffic, i, random.Random(i))
                            workers.start_soon(bgapi_worker, rt, traffic, i, random.Random(~i))
                        await soak.run(rt)
                        traffic.stop = True
                    await soak.quiesce(small)
                    health = rt.health()
                    resources.sample(fs)
                    resources.tracer_overhead = tracemalloc.get_tracemalloc_memory()
                    resources.trace_mark(fs)
                    tracemalloc.stop()
                    consumers.cancel_scope.cancel()
    gc.collect()
    fds_after = open_fds()
    wall = time.perf_counter() - started
    reconnects = health.reconnect.reconnects
    traced_growth = resources.traced[1] - resources.traced[0]
    rss_growth = resources.rss[1] - resources.rss[0] - resources.tracer_overhead
    areas = resources.traced_growth_by_area()

    print(
        f"\nsoak (memory streams): {soak.emitted} events, {reconnects} reconnects "
        f"{dict(soak.faults)}, "
        f"{traffic.settled()} api/bgapi calls {dict(traffic.outcomes)}\n"
        f"  big receiver: {soak.big.received} received, {soak.big.lost_in_reconnect_gaps} "
        f"lost in reconnect gaps, {soak.big.late_markers} late markers (known bug) in "
        f"{soak.big.generation_changes} generation changes\n"
        f"  small receiver: {soak.small.received} received, {soak.small.dropped} dropped, "
        f"{soak.small.lost_in_reconnect_gaps} lost in gaps, {soak.small.late_markers} late\n"
        f"  traced {resources.traced[0] / 1e3:.0f} kB -> {resources.traced[1] / 1e3:.0f} kB "
        f"(growth by area {areas}) "
        f"(peak {resources.traced_peak / 1e6:.1f} MB); RSS {resources.rss[0] / 1e6:.1f} -> "
        f"{resources.rss[1] / 1e6:.1f} MB ({resources.tracer_overhead / 1e6:.1f} MB of it "
        f"tracemalloc's); object growth {resources.object_growth()}; fds "
        f"{fds_before} / {resources.fds} / {fds_after}\n"
        f"  {wall:.1f} s wall, {soak.emitted / wall:,.0f} events/s"
    )

    # Every event delivered or accounted, in order, on the connection that queued it.
    soak.big.check(soak.total, big)
    soak.small.check(soak.total, small)
    assert soak.emitted == soak.total >= 200_000
    assert reconnects >= 100
    assert health.state is RuntimeState.READY
    assert soak.big.dropped == 0  # the big buffer never overflowed: its losses are gaps
    assert soak.small.dropped > 0  # the small one did: drops were exercised
    assert soak.big.lost_in_reconnect_gaps > 0
    assert health.events_dropped == soak.small.dropped
    # Every call ended in exactly one outcome, its own.
    assert not traffic.crossed, traffic.crossed[:5]
    assert traffic.settled() == sum(traffic.started.values())
    assert traffic.outcomes["api:ok"] > 1000 and traffic.outcomes["bgapi:ok"] > 100
    assert health.inflight_commands == 0 and health.pending_jobs == 0
    # Flat resources.
    assert traced_growth < TRACED_SLACK, (resources.traced, areas)
    assert areas.get("runtime", 0) < RUNTIME_TRACED_SLACK, areas
    assert rss_growth < RSS_SLACK, resources.rss
    assert all(n <= OBJECT_SLACK for n in resources.object_growth().values())
    assert resources.fds[0] == resources.fds[1]
    assert fds_after == fds_before
    assert wall < SOAK_WALL_BUDGET, f"soak took {wall:.1f} s (budget {SOAK_WALL_BUDGET:g} s)"


# -- the same over real TCP --------------------------------------------------------------------

TCP_EVENTS = 20_000
TCP_RECONNECTS = 40


@pytest.mark.slow
async def test_soak_over_tcp_closes_every_socket() -> None:
    """Loopback TCP and the default connector: dozens of reconnects leak no socket.

    Real clock (a MockClock would jump while the kernel holds bytes); pacing is event-driven:
    each batch is fully received before the next fault, so nothing here sleeps on purpose
    except the runtime's (tiny) reconnect backoff.
    """
    rng = random.Random(7)
    started = time.perf_counter()
    fds_before = open_fds()
    queued_on = array("i", bytes(4 * (TCP_EVENTS + 2)))
    ledger = Ledger("tcp", queued_on)
    fd_samples: list[int] = []
    traffic = Traffic()
    faults: Counter[str] = Counter()
    emitted = 0
    batch = TCP_EVENTS // TCP_RECONNECTS

    def emit(count: int) -> None:
        nonlocal emitted
        for _ in range(count):
            emitted += 1
            queued = fs.emit(EVENT, [(SEQ, str(emitted))]).queued_for
            queued_on[emitted] = queued[0] if len(queued) == 1 else (MULTIPLE if queued else 0)

    async with open_fake_freeswitch(fire_api_events=False) as fs:
        port = await fs.serve_tcp()
        config = soak_config(
            host="127.0.0.1",
            port=port,
            retry=RetryPolicy(initial_delay=0.001, max_delay=0.01),
            timeouts=Timeouts(api=10.0, command=10.0, bgapi_completion=5.0),
        )
        async with (
            open_esl_runtime(config) as rt,  # the default tcp_connector
            rt.events.receiver(EVENT, max_buffer=100_000) as events,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(consume, events, ledger)
            for reconnect in range(1, TCP_RECONNECTS + 1):
                emit(batch)
                with trio.fail_after(30):
                    await ledger.wait_for(emitted)
                    traffic.started["api"] += 1
                    reply = await rt.api("echo", f"tcp-{reconnect}")
                    assert reply.text == f"tcp-{reconnect}"
                    traffic.outcomes["api:ok"] += 1
                fd_samples.append(open_fds())
                kind = rng.choice(["drop", "restart", "cut", "garbage"])
                faults[kind] += 1
                if kind != "cut":
                    await inject_fault(fs, kind, rng)
                else:  # inside the 51-byte reply to the next call: it fails, typed
                    fs.cut_next_frame(after_bytes=rng.randrange(50))
                    traffic.started["api"] += 1
                    with pytest.raises(ConnectionLostError):
                        await rt.api("echo", "cut")
                    traffic.outcomes["api:ConnectionLostError"] += 1
                await wait_reconnected(rt, reconnect)
            emit(1)
            with trio.fail_after(30):
                await ledger.wait_for(emitted)
            health = rt.health()
            nursery.cancel_scope.cancel()
    fds_after = open_fds()
    wall = time.perf_counter() - started
    print(
        f"\nsoak (tcp): {emitted} events, {health.reconnect.reconnects} reconnects "
        f"{dict(faults)}, {dict(traffic.outcomes)}, "
        f"{ledger.received} received, {ledger.lost_in_reconnect_gaps} lost in gaps; fds "
        f"{fds_before} -> {min(fd_samples)}..{max(fd_samples)} -> {fds_after}; {wall:.1f} s"
    )
    assert health.reconnect.reconnects >= TCP_RECONNECTS
    assert not ledger.violations, ledger.violations
    assert ledger.received + ledger.lost_in_reconnect_gaps == emitted
    assert ledger.received == emitted  # each batch was read before its fault: nothing lost
    assert traffic.settled() == sum(traffic.started.values())
    assert max(fd_samples) - min(fd_samples) <= 1  # no socket piles up across reconnects
    assert fds_after == fds_before


# -- the bugs the soak surfaced, pinned deterministically --------------------------------------


async def test_reconnect_gap_marker_precedes_the_first_event_of_the_new_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A scripted server answers ``event json`` and sends an event in ONE write (G-5).

    Any server may do that (FreeSWITCH queues events as soon as the subscription exists), and
    the soak hits it in about half of its reconnects. Expected: StreamGap, then the event.
    """
    servers: list[trio.abc.Stream] = []
    send, receive = trio.open_memory_channel[trio.abc.Stream](10)

    async def connector() -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        send.send_nowait(server)
        return client

    async def serve() -> None:
        async for server in receive:
            servers.append(server)
            generation = len(servers)
            await server.send_all(auth_request())
            assert (await server.receive_some()).startswith(b"auth ")
            await server.send_all(command_reply("+OK accepted"))
            assert (await server.receive_some()).startswith(b"event json")
            reply = command_reply("+OK event listener enabled json")
            if generation == 1:
                await server.send_all(reply)
                continue
            first = event_frame(EventFormat.JSON, [("Event-Name", EVENT), (SEQ, "1")])
            await server.send_all(reply + first)  # one write: one read on the client
            second = event_frame(EventFormat.JSON, [("Event-Name", EVENT), (SEQ, "2")])
            await server.send_all(second)

    config = soak_config(retry=RetryPolicy(initial_delay=0.1))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with (
            open_esl_runtime(config, connector=connector) as rt,
            rt.events.receiver(EVENT) as events,
        ):
            await servers[0].aclose()  # the first connection ends: reconnect
            with trio.fail_after(10):
                items = [await events.receive() for _ in range(3)]
        nursery.cancel_scope.cancel()
    assert [type(item).__name__ for item in items] == ["StreamGap", "ChannelEvent", "ChannelEvent"]
    assert items[0] == StreamGap(GapReason.RECONNECT, 0, 2)


def test_drop_oldest_overflow_keeps_a_buffered_reconnect_marker() -> None:
    """DROP_OLDEST, buffer full right after a reconnect: the RECONNECT marker must survive.

    Minimal: ``max_buffer=2``; the marker sits at the head when the next overflow hits, and the
    consumer then sees ``e2, StreamGap(OVERFLOW, 1), e4`` — "exactly e3 was lost" — while the
    events lost during the reconnect are not reported at all.
    """
    receiver, feed = open_receiver("x", 2, Overflow.DROP_OLDEST, lambda feed: None)
    feed.offer("e1", 1)
    feed.offer("e2", 1)
    feed.mark_gap(GapReason.RECONNECT, 2)
    feed.offer("e3", 2)  # full: e1 goes, an overflow marker takes the front
    assert receiver.receive_nowait() == StreamGap(GapReason.OVERFLOW, 1, 2)
    assert receiver.receive_nowait() == "e2"
    feed.offer("e4", 2)  # buffer: [RECONNECT marker, e3, e4]
    feed.offer("e5", 2)  # full: e3 goes
    items = [receiver.receive_nowait() for _ in range(3)]
    gaps = [item for item in items if isinstance(item, StreamGap)]
    assert [gap.reason for gap in gaps] == [GapReason.RECONNECT]
