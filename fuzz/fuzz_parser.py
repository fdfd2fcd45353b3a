#!/usr/bin/env python
"""Fuzz target for the sans-I/O core: ``ClientProtocol``/``FrameParser`` and event decoding.

Property (B-FRAME-*, B-EVT-*, B-FRAME-11): whatever bytes a server sends, the only exceptions
the core may raise are :class:`RemoteProtocolError` (the stream is broken: framing, limits,
truncation, reply/greeting out of place; sticky) and :class:`EventDecodeError` (one event's
payload cannot be decoded; the stream stays usable). Every message is fully touched: every
header of every event, bodies, the typed families' properties, replies, log lines, notices.

Two ways to run it (see ``fuzz/README.md``)::

    python fuzz/fuzz_parser.py --runs 100000          # no atheris needed: mutation driver
    python fuzz/fuzz_parser.py -max_total_time=60     # with atheris (libFuzzer flags)

Known bugs (found by this target) are reported and counted but do not stop a run unless
``--strict`` (or ``ESL_TRIO_FUZZ_STRICT=1`` under atheris) is given; see :data:`KNOWN_BUGS`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

try:
    import atheris  # type: ignore[import-not-found]
except ImportError:  # the fallback driver needs nothing but the standard library
    atheris = None

# Under atheris the library is imported instrumented (coverage-guided); otherwise plainly.
_INSTRUMENT = atheris is not None and __name__ == "__main__" and "--runs" not in sys.argv
with atheris.instrument_imports(include=["esl_trio"]) if _INSTRUMENT else contextlib.nullcontext():
    from esl_trio.protocol import (
        Api,
        ApiReply,
        Auth,
        BackgroundJobEvent,
        BgApi,
        ChannelData,
        ChannelEvent,
        ClientProtocol,
        ClientState,
        CommandReply,
        DisconnectNotice,
        Event,
        EventDecodeError,
        EventFormat,
        FrameParser,
        HeartbeatEvent,
        LogLine,
        RemoteProtocolError,
        RudeRejection,
        Sentinel,
        UnknownFrame,
        classify,
        make_event,
    )

ALLOWED = (RemoteProtocolError, EventDecodeError)

#: Bugs this target found, by signature. Reported, not fatal, unless --strict.
# Bugs this target found are fixed (non-ASCII digits, deep json nesting); none tolerated.
KNOWN_BUGS: dict[str, Callable[[BaseException], bool]] = {}
STRICT = os.environ.get("ESL_TRIO_FUZZ_STRICT") == "1"
known_hits: Counter[str] = Counter()

# -- touching every message ------------------------------------------------------------------


def touch_event(event: Event) -> None:
    _ = (event.name, event.format, event.raw, repr(event), event.decode_error)
    _ = (event.subclass, event.unique_id, event.job_uuid, event.core_uuid, event.sequence)
    try:
        headers = event.headers
    except EventDecodeError:
        return
    for name, value in headers.items():
        assert isinstance(name, str)
        assert isinstance(value, str)
        assert event.get(name) is not None
        assert value in event.get_all(name)
        assert name in event
    _ = (event.body, event.text, event.to_dict(), list(headers), headers.to_dict())
    if isinstance(event, ChannelEvent):
        _ = (event.channel_name, event.hangup_cause, event.caller_id_number, event.call_state)
    if isinstance(event, BackgroundJobEvent):
        _ = (event.result, event.ok, event.job_command, event.job_command_arg)
    if isinstance(event, HeartbeatEvent):
        _ = (event.up_time, event.session_count)


def touch(message: object) -> None:
    if isinstance(message, Event):
        touch_event(message)
    elif isinstance(message, CommandReply):
        _ = (message.ok, message.is_error, message.is_auth_accepted, message.job_uuid)
        _ = (message.message, message.reason, dict(message.headers.to_dict()))
        assert not (message.ok and message.is_error)
        if isinstance(message, ChannelData):
            _ = (message.unique_id, message.channel_name, message.socket_mode, message.control)
            _ = (message.get("Unique-ID", ""), message.get_all("Event-Name"))
    elif isinstance(message, ApiReply):
        _ = (message.text, message.ok, message.is_error)
    elif isinstance(message, LogLine):
        _ = (message.text, message.level, message.file, message.function, message.line)
        _ = (message.channel, message.user_data)
    elif isinstance(message, DisconnectNotice):
        _ = (message.text, message.disposition, message.is_linger)
    elif isinstance(message, RudeRejection):
        _ = message.text
    elif isinstance(message, UnknownFrame):
        _ = (repr(message.frame), message.frame.content_type, message.frame == message.frame)


# -- the target --------------------------------------------------------------------------------


def chunks(data: bytes, mode: int, seed: int) -> list[bytes]:
    """The bytes as the socket might deliver them: whole, byte by byte, or random splits."""
    if mode == 0 or not data:
        return [data] if data else []
    if mode == 1 and len(data) <= 4096:  # byte by byte (a trickle), on short inputs only
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)  # noqa: S311 - not cryptography
    out, at = [], 0
    while at < len(data):
        step = rng.randint(1, 64)
        out.append(data[at : at + step])
        at += step
    return out


def run_client_protocol(payload: bytes, control: int, seed: int) -> None:
    """Play the client: answer the greeting, keep commands waiting so replies can match."""
    small = control & 8
    proto = ClientProtocol(
        max_header_bytes=1024 if small else 64 * 1024,
        max_body_bytes=4096 if small else 16 * 1024 * 1024,
    )
    pieces = chunks(payload, control & 3, seed)
    if control & 4:
        pieces.append(b"")  # EOF at the end
    for piece in pieces:
        proto.receive_data(piece)
        while True:
            message = proto.next_event()
            if isinstance(message, Sentinel):
                break
            touch(message)
            if proto.state is ClientState.AUTH_REQUESTED:
                proto.send(Auth("ClueCon"))
            while proto.state is ClientState.AUTHENTICATED and proto.replies_pending < 2:
                proto.send(Api("status") if seed & 1 else BgApi("status"))
                seed >>= 1


def run_frame_parser(payload: bytes, control: int, seed: int) -> None:
    parser = FrameParser(max_header_bytes=2048, max_body_bytes=1 << 20)
    for piece in [*chunks(payload, (control >> 4) & 3, seed), b""]:
        parser.feed(piece)
        for frame in parser.frames():
            touch(classify(frame))


def run_event_decoders(payload: bytes) -> None:
    for fmt in EventFormat:
        touch_event(make_event(fmt, payload))


def TestOneInput(data: bytes) -> None:  # the name atheris and libFuzzer expect
    if len(data) < 2:
        return
    control, seed, payload = data[0], data[1], data[2:]
    for step in (
        lambda: run_client_protocol(payload, control, seed),
        lambda: run_frame_parser(payload, control, seed),
        lambda: run_event_decoders(payload),
    ):
        try:
            step()
        except ALLOWED:
            pass
        except Exception as exc:
            known = next((name for name, match in KNOWN_BUGS.items() if match(exc)), None)
            if known is None or STRICT:
                raise
            known_hits[known] += 1


# -- the fallback driver: mutations of valid server traffic ----------------------------------


def seeds() -> list[bytes]:
    """Valid server byte streams: the fake's frames, plus recorded fixtures when present."""
    from esl_trio.protocol.server import (
        GOODBYE,
        api_response,
        auth_request,
        command_reply,
        disconnect_notice,
        event_frame,
        log_data,
        rude_rejection,
    )

    headers = [
        ("Event-Name", "CHANNEL_ANSWER"),
        ("Core-UUID", "0b7c2d6e-1f5a-4c1e-9b7e-2f1d6c0a9e11"),
        ("Event-Sequence", "4242"),
        ("Unique-ID", "7f4de4bc-17d7-11dd-b7a0-db4edd065621"),
        ("Caller-Caller-ID-Name", "Alice & Bob <test>"),
        ("variable_sip_h_X-Array", "ARRAY::one|:two|:three"),
        ("Empty", ""),
    ]
    job = [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "1234"), ("Job-Command", "status")]
    greeting = auth_request() + command_reply("+OK accepted")
    out = [greeting]
    for fmt in EventFormat:
        out.append(greeting + event_frame(fmt, headers, b"body\nline\n"))
        out.append(greeting + event_frame(fmt, job, b"+OK done\n") + api_response(b"UP 0\n"))
        out.append(event_frame(fmt, [("Event-Name", "HEARTBEAT"), ("Session-Count", "3")]))
    out += [
        greeting + command_reply("+OK Job-UUID: 1234", [("Job-UUID", "1234")]),
        greeting + log_data("a log line\n", level=3) + disconnect_notice(GOODBYE),
        rude_rejection() + disconnect_notice(GOODBYE),
        greeting + disconnect_notice(b"", [("Content-Disposition", "linger")]),
    ]
    fixtures = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "freeswitch-1.11"
    if fixtures.is_dir():
        out += [p.read_bytes()[:20000] for p in sorted(fixtures.glob("*.raw"))]
    return out


DICTIONARY = [
    b"\n\n",
    b"\n\r\n",
    b"\r\n",
    b"Content-Length: ",
    b"Content-Length: 99999999999\n",
    b"Content-Type: text/event-json\n",
    b"Content-Type: text/event-plain\n",
    b"Content-Type: text/event-xml\n",
    b"Content-Type: api/response\n",
    b"Content-Type: command/reply\n",
    b"Content-Type: log/data\n",
    b"Content-Type: auth/request\n\n",
    b"Reply-Text: +OK accepted\n",
    b"Event-Sequence: ",
    b"Log-Level: ",
    "²".encode(),
    "٣".encode(),
    b"%",
    b"%ZZ",
    b"%C3%A9",
    b"_undef_",
    b"ARRAY::",
    b"|:",
    b'{"Event-Name":"',
    b'"_body":"',
    b"\\ud800",
    b"[" * 64,
    b"<event><headers>",
    b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
    b"\x00",
    b"\xff\xfe",
]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        at = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at:at] = rng.choice(DICTIONARY)
        elif op == 2 and buf:
            del buf[at : at + rng.randint(1, 32)]
        elif op == 3:
            other = rng.choice(pool)
            start = rng.randint(0, len(other))
            buf[at:at] = other[start : start + rng.randint(1, 256)]
        elif op == 4 and buf:
            start = rng.randrange(len(buf))
            piece = buf[start : start + rng.randint(1, 64)]
            buf[at:at] = piece * rng.randint(2, 64)  # repeat: long lines, deep nesting
        elif op == 5:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 6 and buf:
            del buf[rng.randint(0, len(buf)) :]  # truncate
        else:
            digits = str(rng.choice([0, 1, 7, 255, 2**31, 10**12])).encode()
            buf[at:at] = digits
    return bytes(buf[:65536])


def fallback(runs: int, seed: int, crash_dir: Path) -> int:
    rng = random.Random(seed)  # noqa: S311 - not cryptography
    pool = seeds()
    corpus = list(pool)
    started = time.perf_counter()
    for run in range(1, runs + 1):
        payload = mutate(rng, rng.choice(corpus), pool)
        data = bytes([rng.randrange(256), rng.randrange(256)]) + payload
        try:
            TestOneInput(data)
        except Exception as exc:
            crash_dir.mkdir(parents=True, exist_ok=True)
            path = crash_dir / f"crash-{hashlib.sha1(data).hexdigest()[:16]}"  # noqa: S324
            path.write_bytes(data)
            print(f"CRASH after {run} inputs: {type(exc).__name__}: {exc}"[:400])
            print(f"input saved to {path}; reproduce: python fuzz/fuzz_parser.py --replay {path}")
            return 1
        if rng.random() < 0.05 and len(corpus) < 5000:
            corpus.append(payload)  # a little memory: mutate mutants too
    elapsed = time.perf_counter() - started
    print(
        f"ran {runs} inputs in {elapsed:.1f} s ({runs / elapsed:,.0f}/s), no unexpected exception"
    )
    report_known()
    return 0


def report_known() -> None:
    for name, count in known_hits.items():
        print(f"  known bug hit {count} times: {name}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="run the mutation driver for N inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="known bugs are crashes too")
    parser.add_argument("--replay", type=Path, help="run one saved input (e.g. a crash file)")
    parser.add_argument("--crash-dir", type=Path, default=Path("fuzz/crashes"))
    parser.add_argument("--write-seeds", type=Path, help="write the seed corpus to a directory")
    args, rest = parser.parse_known_args()
    global STRICT
    STRICT = STRICT or args.strict
    if args.write_seeds:
        args.write_seeds.mkdir(parents=True, exist_ok=True)
        for index, data in enumerate(seeds()):
            (args.write_seeds / f"seed-{index:03d}").write_bytes(b"\x00\x00" + data)
        return 0
    if args.replay:
        TestOneInput(args.replay.read_bytes())
        print("no unexpected exception" + (f"; known: {dict(known_hits)}" if known_hits else ""))
        return 0
    if args.runs is not None or atheris is None:
        return fallback(args.runs or 10_000, args.seed, args.crash_dir)
    atexit.register(report_known)
    atheris.Setup([sys.argv[0], *rest], TestOneInput)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
