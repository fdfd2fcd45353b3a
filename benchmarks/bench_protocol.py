"""Throughput of the sans-I/O protocol core on a realistic stream of FreeSWITCH events.

Run from the repo root::

    .venv/bin/python benchmarks/bench_protocol.py [--events N] [--repeat R] [--check]

Input: the CHANNEL_* events recorded from a real FreeSWITCH (``07-channel_*-event-plain.raw``),
decoded, varied per call and per event the way live traffic varies (see ``Traffic``), re-encoded
as ``text/event-plain`` and ``text/event-json`` frames, concatenated and cut into 256 KiB reads.
Every synthetic event is checked to decode back to the exact headers it was built from, and a
sample is checked to be byte-identical to :func:`esl_trio.protocol.server.event_frame`.

Measures (best of ``--repeat`` passes over the whole stream, one thread, GC enabled, decoder
memos cleared before every pass): routing, routing + Unique-ID, full decoding, and a naive
stdlib client as the baseline. See benchmarks/README.md for what each line means.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring as _json_string
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
try:
    import esl_trio  # noqa: F401
except ImportError:  # run from a checkout without an editable install
    sys.path.insert(0, str(ROOT))

from esl_trio.protocol import EventFormat, FrameParser, classify, make_event  # noqa: E402
from esl_trio.protocol import _events as _events_module  # noqa: E402
from esl_trio.protocol import _percent as _percent_module  # noqa: E402
from esl_trio.protocol._percent import encode_value  # noqa: E402
from esl_trio.protocol.server import event_frame  # noqa: E402

READ_SIZE = 256 * 1024  # what the runtime asks the socket for
EVENTS_PER_CALL = 8
CONCURRENT_CALLS = 24
SEED = 20241126

Pairs = list[tuple[str, str]]

# -- inputs ------------------------------------------------------------------------------


def fixtures_dir() -> Path:
    """The recorded traffic kept in the repository (``tests/fixtures/freeswitch-1.11``)."""
    return ROOT / "tests" / "fixtures" / "freeswitch-1.11"


def load_templates() -> list[tuple[Pairs, bytes]]:
    """The recorded CHANNEL_* events as (headers, body), in Event-Sequence order.

    Each file must parse to one frame, and ``event_frame`` must re-encode the decoded headers to
    the recorded bytes exactly (otherwise the synthetic stream would not be FreeSWITCH's).
    """
    files = sorted(fixtures_dir().glob("07-channel_*-event-plain.raw"))
    if not files:
        sys.exit(f"no 07-channel_*-event-plain.raw fixtures in {fixtures_dir()}")
    templates = []
    for path in files:
        raw = path.read_bytes()
        parser = FrameParser()
        parser.feed(raw)
        frames = list(parser.frames())
        if len(frames) != 1 or parser.buffered_bytes:
            sys.exit(f"{path.name}: expected exactly one frame")
        event = classify(frames[0])
        pairs, body = list(event.headers.items()), event.body
        if event_frame(EventFormat.PLAIN, pairs, body) != raw:
            sys.exit(f"{path.name}: decoded headers do not re-encode to the recorded bytes")
        templates.append((pairs, body))
    templates.sort(key=lambda t: int(dict(t[0])["Event-Sequence"]))
    return templates


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DURATION = re.compile(r"(sec|msec|usec|_ms|seconds|duration|samples|_pos)$")
_PER_EVENT = {"Event-Sequence", "Event-Date-Timestamp", "Event-Date-Local", "Event-Date-GMT"}


class Call:
    """Per-call state: fresh uuids, start time, duration scale and session id."""

    def __init__(self, rng: random.Random, start_us: int, session: int, events: list[int]):
        self.rng = rng
        self.start_us = start_us
        self.scale = rng.uniform(0.5, 60.0)  # the recorded call lasted 1.1 s
        self.session = session
        self.events = events  # template indices still to emit, in order
        self.values: dict[tuple[str, str], str] = {}


class Traffic:
    """Turns the recorded events into a stream of distinct calls.

    Per event: Event-Sequence, Event-Date-Timestamp, Event-Date-Local, Event-Date-GMT (a clock
    advancing 0-2 ms per event, i.e. ~1000 events/s). Per call (EVENTS_PER_CALL events, a random
    lifecycle subset in order; CONCURRENT_CALLS calls interleaved): every uuid except Core-UUID
    (Unique-ID, Channel-Call-UUID, Caller-Unique-ID, variable_uuid, Application-UUID, the other
    leg's uuid, ...), every non-zero *-Time / *_uepoch / *_epoch / *_stamp, the durations
    (billsec, uduration, playback_ms, ...) and variable_session_id.
    """

    def __init__(self, templates: list[tuple[Pairs, bytes]], seed: int = SEED) -> None:
        self.templates = templates
        self.rng = random.Random(seed)
        self.core_uuid = dict(templates[0][0])["Core-UUID"]
        self.base_us = int(dict(templates[0][0])["Caller-Channel-Created-Time"])
        # Which header of each template varies, and how.
        self.varying = [
            [(i, n, v, kind) for i, (n, v) in enumerate(pairs) if (kind := self._kind(n, v))]
            for pairs, _ in templates
        ]
        self.clock_us = self.base_us
        self.sequence = 1000
        self.sessions = 0
        self.active: list[Call] = []

    def _kind(self, name: str, value: str) -> str | None:
        if name in _PER_EVENT:
            return name
        if name == "variable_session_id":
            return "session"
        if _UUID.fullmatch(value):
            return None if value == self.core_uuid else "uuid"
        if not value or value == "0":
            return None
        if value.isdigit() and len(value) == 16:
            return "micros"  # microseconds since the epoch
        if value.isdigit() and len(value) == 10 and name.endswith("epoch"):
            return "epoch"
        if name.endswith("_stamp"):
            return "stamp"
        if value.isdigit() and _DURATION.search(name):
            return "duration"
        return None

    def _new_call(self) -> Call:
        self.sessions += 1
        chosen = sorted(self.rng.sample(range(len(self.templates)), EVENTS_PER_CALL))
        return Call(self.rng, self.clock_us, self.sessions, chosen)

    def events(self, count: int) -> Iterable[tuple[int, list[tuple[int, str]]]]:
        """(template index, [(header position, new value)]) for each event."""
        for _ in range(count):
            while len(self.active) < CONCURRENT_CALLS:
                self.active.append(self._new_call())
            call = self.rng.choice(self.active)
            index = call.events.pop(0)
            if not call.events:
                self.active.remove(call)
            self.clock_us += self.rng.randrange(2000)
            self.sequence += 1
            yield index, [(i, self._vary(call, n, v, k)) for i, n, v, k in self.varying[index]]

    def _vary(self, call: Call, name: str, value: str, kind: str) -> str:
        if name in _PER_EVENT:
            return self._per_event(name)
        if kind == "session":
            return str(call.session)
        key = ("", value) if kind == "uuid" else (name, value)  # a uuid maps alike everywhere
        varied = call.values.get(key)
        if varied is None:
            varied = call.values[key] = self._per_call(call, value, kind)
        return varied

    def _per_event(self, name: str) -> str:
        now = self.clock_us
        if name == "Event-Sequence":
            return str(self.sequence)
        if name == "Event-Date-Timestamp":
            return str(now)
        moment = datetime.fromtimestamp(now // 1_000_000, UTC)
        if name == "Event-Date-Local":
            return moment.strftime("%Y-%m-%d %H:%M:%S")
        return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")

    def _per_call(self, call: Call, value: str, kind: str) -> str:
        if kind == "uuid":
            return str(uuid.UUID(int=call.rng.getrandbits(128), version=4))
        if kind == "micros":
            return str(self._shift(call, int(value)))
        # Whole seconds: assume the sub-second part of the recorded call start.
        fraction = self.base_us % 1_000_000
        if kind == "epoch":
            return str(self._shift(call, int(value) * 1_000_000 + fraction) // 1_000_000)
        if kind == "stamp":
            then = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            moved = self._shift(call, int(then.timestamp()) * 1_000_000 + fraction)
            return datetime.fromtimestamp(moved // 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return str(round(int(value) * call.scale))  # a duration

    def _shift(self, call: Call, micros: int) -> int:
        return call.start_us + round((micros - self.base_us) * call.scale)


def unique_values(pairs: Pairs, tag: str) -> Pairs:
    """The worst case for the decoder's memos: every value of every event is new."""
    return [(n, v + tag) for n, v in pairs]


# -- encoding ----------------------------------------------------------------------------
# event_frame encodes byte by byte in Python (it serves tests, not throughput): building
# 3 x 20 000 events with it would take longer than the benchmark. These encoders reuse each
# template's encoded lines and encode only the values that changed; the result is checked
# against event_frame, byte for byte, on a sample of events.

_SAFE = re.compile(r"[!$'()*,\-./0-9A-Z_a-z~]+")  # bytes FreeSWITCH never escapes


@functools.lru_cache(maxsize=1 << 16)
def plain_line(name: str, value: str) -> str:
    """``Name: value`` as FreeSWITCH writes it in a plain event (no newline)."""
    return f"{name}: {value if _SAFE.fullmatch(value) else encode_value(value)}"


@functools.lru_cache(maxsize=1 << 16)
def json_member(name: str, value: str) -> str:
    return f"{_json_string(name)}:{_json_string(value)}"  # json.dumps(..., ensure_ascii=False)


def plain_payload(lines: list[str], body: bytes, tag: str = "") -> bytes:
    """A plain payload; ``tag`` (never escaped) ends every value when given."""
    text = (tag + "\n").join(lines) + tag + "\n"
    if body:
        text += f"Content-Length: {len(body)}\n"
    return (text + "\n").encode() + body


def json_payload(members: list[str], body: bytes) -> bytes:
    if body:
        members = [*members, json_member("Content-Length", str(len(body)))]
        members.append(json_member("_body", body.decode("utf-8", "replace")))
    return ("{" + ",".join(members) + "}").encode()


def spaced_json_payload(pairs: Pairs, body: bytes) -> bytes:
    """The same event as ``json.dumps`` (and some proxies) write it: ``", "`` and ``": "``."""
    members = [*pairs]
    if body:
        members += [("Content-Length", str(len(body))), ("_body", body.decode("utf-8", "replace"))]
    # A hand-built object keeps repeated names, as FreeSWITCH writes them.
    return (
        "{" + ", ".join(f"{_json_string(n)}: {_json_string(v)}" for n, v in members) + "}"
    ).encode()


def _outer(kind: bytes, payload: bytes) -> bytes:
    return b"Content-Length: %d\nContent-Type: text/event-%s\n\n%s" % (len(payload), kind, payload)


class Streams:
    """The three byte streams, as 256 KiB reads, plus how repetitive the plain lines are."""

    def __init__(self, events: int) -> None:
        templates = load_templates()
        encoded = [
            (
                [plain_line(n, v) for n, v in pairs],
                [json_member(n, v) for n, v in pairs],
                [f"{n}: " if v == "" else plain_line(n, v) for n, v in pairs],  # worst case
            )
            for pairs, _ in templates
        ]
        plain: list[bytes] = []
        as_json: list[bytes] = []
        spaced: list[bytes] = []
        worst: list[bytes] = []
        seen_lines: set[str] = set()
        line_count = 0
        sample_every = max(events // 20, 1)
        for i, (index, changes) in enumerate(Traffic(templates).events(events)):
            pairs, body = list(templates[index][0]), templates[index][1]
            p_lines, j_members, w_lines = (list(x) for x in encoded[index])
            for at, value in changes:
                name = pairs[at][0]
                pairs[at] = (name, value)
                p_lines[at] = w_lines[at] = plain_line(name, value)
                j_members[at] = json_member(name, value)
            tag = f"-w{i:x}"
            p = plain_payload(p_lines, body)
            j = json_payload(j_members, body)
            w = plain_payload(w_lines, body, tag)
            plain.append(_outer(b"plain", p))
            as_json.append(_outer(b"json", j))
            s = spaced_json_payload(pairs, body)
            spaced.append(_outer(b"json", s))
            worst.append(_outer(b"plain", w))
            seen_lines.update(p_lines)
            line_count += len(p_lines)
            # Every event must decode to exactly what it was built from...
            _check_roundtrip(EventFormat.PLAIN, p, pairs, body)
            _check_roundtrip(EventFormat.JSON, j, pairs, body)
            if i % 8 == 0:
                _check_roundtrip(EventFormat.JSON, s, pairs, body)
            if i % 8 == 0:
                _check_roundtrip(EventFormat.PLAIN, w, unique_values(pairs, tag), body)
            if i % sample_every == 0:  # ...and our encoding must be event_frame's
                _check_same(plain[-1], event_frame(EventFormat.PLAIN, pairs, body), "plain", i)
                _check_same(as_json[-1], event_frame(EventFormat.JSON, pairs, body), "json", i)
                w_frame = event_frame(EventFormat.PLAIN, unique_values(pairs, tag), body)
                _check_same(worst[-1], w_frame, "worst-case", i)
        self.events = events
        self.plain = _reads(plain)
        self.json = _reads(as_json)
        self.spaced_json = _reads(spaced)
        self.worst = _reads(worst)
        self.new_line_share = len(seen_lines) / line_count
        # Leave a clean heap for the timed passes: with the build caches alive, the worst case
        # measured ~30% slower (allocator/cache effects, not the decoder).
        plain_line.cache_clear()
        json_member.cache_clear()


def _check_roundtrip(fmt: EventFormat, payload: bytes, pairs: Pairs, body: bytes) -> None:
    event = make_event(fmt, payload)
    if event.headers.items() != tuple(pairs) or event.body != body:
        got = dict(event.headers.items())
        diff = [(n, v, got.get(n)) for n, v in pairs if got.get(n) != v][:3]
        sys.exit(f"{fmt} event {event.name} does not round-trip: {diff}")


def _check_same(ours: bytes, reference: bytes, what: str, index: int) -> None:
    if ours != reference:
        sys.exit(f"benchmark encoder differs from event_frame ({what} event {index})")


def _reads(frames: list[bytes]) -> list[bytes]:
    stream = b"".join(frames)
    return [stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]


# -- the measured loops ------------------------------------------------------------------
# Each takes the list of reads and returns the number of events seen.


def esl_routing(reads: list[bytes]) -> int:
    """Split + classify + what the runtime reads to route an event."""
    parser = FrameParser()
    count = 0
    for data in reads:
        parser.feed(data)
        while (frame := parser.next_frame()) is not None:
            event = classify(frame)
            name = event.name
            if name == "CUSTOM":
                _ = event.subclass
            elif name == "BACKGROUND_JOB":
                _ = event.job_uuid
            count += 1
    return count


def esl_routing_uid(reads: list[bytes]) -> int:
    """Routing plus Unique-ID (what a per-channel dispatcher needs)."""
    parser = FrameParser()
    count = 0
    for data in reads:
        parser.feed(data)
        while (frame := parser.next_frame()) is not None:
            event = classify(frame)
            name = event.name
            if name == "CUSTOM":
                _ = event.subclass
            elif name == "BACKGROUND_JOB":
                _ = event.job_uuid
            _ = event.unique_id
            count += 1
    return count


def esl_full(reads: list[bytes]) -> int:
    """Routing, then every decoded header and the body."""
    parser = FrameParser()
    count = 0
    for data in reads:
        parser.feed(data)
        while (frame := parser.next_frame()) is not None:
            event = classify(frame)
            name = event.name
            if name == "CUSTOM":
                _ = event.subclass
            elif name == "BACKGROUND_JOB":
                _ = event.job_uuid
            for _name, _value in event.headers.items():
                pass
            _ = event.body
            count += 1
    return count


def stdlib_baseline(reads: list[bytes]) -> int:
    """What a typical hand-written client does: dicts, unquote, json.loads.

    Framing included: find the blank line, split the header block into a dict (values
    unquoted), slice Content-Length body bytes; then decode the event payload the same way
    (plain: header lines into a dict with every value unquoted, inner Content-Length body;
    json: ``json.loads``), route on it and touch every header and the body.
    """
    buf = b""
    count = 0
    for data in reads:
        buf += data
        pos = 0
        while True:
            end = buf.find(b"\n\n", pos)
            if end < 0:
                break
            outer = {}
            for line in buf[pos:end].decode().split("\n"):
                key, _, value = line.partition(": ")
                outer[key] = unquote(value)
            start = end + 2
            stop = start + int(outer.get("Content-Length", "0"))
            if len(buf) < stop:
                break
            payload = buf[start:stop]
            pos = stop
            kind = outer.get("Content-Type")
            if kind == "text/event-plain":
                head_end = payload.find(b"\n\n")
                event = {}
                for line in payload[:head_end].decode().split("\n"):
                    key, _, value = line.partition(": ")
                    event[key] = unquote(value)
                length = int(event.get("Content-Length", "0"))
                body = payload[head_end + 2 : head_end + 2 + length]
            elif kind == "text/event-json":
                event = json.loads(payload)
                body = event.get("_body", "").encode()
            else:
                continue
            name = event.get("Event-Name")
            if name == "CUSTOM":
                _ = event.get("Event-Subclass")
            elif name == "BACKGROUND_JOB":
                _ = event.get("Job-UUID")
            for _name, _value in event.items():
                pass
            _ = body
            count += 1
        buf = buf[pos:]
    return count


# -- harness -----------------------------------------------------------------------------


def _clear_memos() -> None:
    """Start every pass cold, as a fresh process would (the decoder memoises across events)."""
    for module, attr in ((_events_module, "_PLAIN_LINES"), (_percent_module, "_MEMO")):
        memo = getattr(module, attr, None)
        if isinstance(memo, dict):
            memo.clear()


def best_time(loop: Callable[[list[bytes]], int], reads: list[bytes], events: int, repeat: int):
    best = float("inf")
    for _ in range(repeat):
        _clear_memos()
        gc.collect()
        started = time.perf_counter()
        seen = loop(reads)
        elapsed = time.perf_counter() - started
        if seen != events:
            sys.exit(f"{loop.__name__} saw {seen} events, expected {events}")
        best = min(best, elapsed)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per stream")
    parser.add_argument("--repeat", type=int, default=5, help="passes per measure (best kept)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a ratio requirement is not met"
    )
    args = parser.parse_args(argv)
    if args.events < EVENTS_PER_CALL or args.repeat < 1:
        parser.error("need --events >= 8 and --repeat >= 1")

    print(f"Python {platform.python_version()} ({platform.python_implementation()})")
    print(f"{platform.platform()} | {platform.machine()} | {os.cpu_count()} CPUs (1 used)")
    built = time.perf_counter()
    streams = Streams(args.events)
    print(
        f"{args.events} CHANNEL_* events per stream, {EVENTS_PER_CALL} per call, "
        f"{len(streams.plain)} reads of {READ_SIZE // 1024} KiB (plain); built and verified "
        f"in {time.perf_counter() - built:.1f} s; {streams.new_line_share:.0%} of plain "
        f"header lines are new (decoder memo misses)"
    )

    rows: list[tuple[str, str, float, float, str]] = []  # format, measure, ev/s, ratio, target
    failures: list[str] = []
    processed = 0

    def measure(loop: Callable[[list[bytes]], int], reads: list[bytes]) -> float:
        nonlocal processed
        seconds = best_time(loop, reads, args.events, args.repeat)
        processed += sum(map(len, reads)) * args.repeat
        return args.events / seconds

    def require(fmt: str, what: str, ratio: float, minimum: float) -> str:
        if ratio < minimum:
            failures.append(f"{fmt} {what}/baseline {ratio:.1f}x < {minimum:g}x")
        return _verdict(ratio >= minimum, f"≥{minimum:g}x")

    for fmt, reads in (("plain", streams.plain), ("json", streams.json)):
        routing = measure(esl_routing, reads)
        routing_uid = measure(esl_routing_uid, reads)
        full = measure(esl_full, reads)
        base = measure(stdlib_baseline, reads)
        route_target = require(fmt, "routing", routing / base, 10)
        route_target += "  " + _verdict(routing >= 100_000, "≥100k/s")
        rows += [
            (fmt, "routing", routing, routing / base, route_target),
            (fmt, "routing + Unique-ID", routing_uid, routing_uid / base, ""),
            (
                fmt,
                "full (all headers + body)",
                full,
                full / base,
                require(fmt, "full", full / base, 1.5),
            ),
            (fmt, f"stdlib baseline ({_mb(reads)})", base, 1.0, ""),
        ]

    spaced_routing = measure(esl_routing, streams.spaced_json)
    spaced_full = measure(esl_full, streams.spaced_json)
    spaced_base = measure(stdlib_baseline, streams.spaced_json)
    rows += [
        ("json", 'spaced ": ": routing', spaced_routing, spaced_routing / spaced_base, "(info)"),
        ("json", 'spaced ": ": full', spaced_full, spaced_full / spaced_base, "(info)"),
        ("json", f"spaced: baseline ({_mb(streams.spaced_json)})", spaced_base, 1.0, ""),
    ]

    worst_full = measure(esl_full, streams.worst)
    worst_base = measure(stdlib_baseline, streams.worst)
    rows += [
        ("plain", "worst case: full, all unique", worst_full, worst_full / worst_base, "(info)"),
        ("plain", f"worst case: baseline ({_mb(streams.worst)})", worst_base, 1.0, ""),
    ]

    line = "{:<6}  {:<31}  {:>9}  {:>8}  {:>7}  {}"
    print()
    print(line.format("format", "measure", "events/s", "µs/event", "vs base", "target"))
    for fmt, what, rate, ratio, target in rows:
        cells = (fmt, what, f"{rate:,.0f}", f"{1e6 / rate:.2f}", f"{ratio:.1f}x", target)
        print(line.format(*cells).rstrip())
    print(f"\n{processed / 1e6:,.0f} MB processed in total (all passes); best of {args.repeat}")
    if failures:
        print("requirements not met: " + "; ".join(failures))
    return 1 if failures and args.check else 0


def _mb(reads: list[bytes]) -> str:
    return f"{sum(map(len, reads)) / 1e6:.0f} MB"


def _verdict(ok: bool, target: str) -> str:
    return f"{target} {'PASS' if ok else 'FAIL'}"


if __name__ == "__main__":
    sys.exit(main())
