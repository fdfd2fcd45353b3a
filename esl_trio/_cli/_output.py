"""How events, gaps and health look: JSON lines for pipes, one readable line for people."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import trio

from .._health import HealthSnapshot
from .._receivers import GapReason, StreamGap
from ..protocol import Event, EventDecodeError

__all__ = [
    "Printer",
    "event_record",
    "gap_line",
    "gap_record",
    "health_line",
    "health_view",
    "readable_event",
    "wall_time",
]


class Printer:
    """Line output to a text stream; ``json`` picks JSON lines over readable text."""

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.json = not self.stream.isatty() if json_lines is None else json_lines

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")

    def record(self, data: dict[str, Any]) -> None:
        self.line(json.dumps(data, default=str, ensure_ascii=False))

    def flush(self) -> None:
        self.stream.flush()

    def event(self, event: Event) -> None:
        if self.json:
            self.record(event_record(event))
        else:
            self.line(readable_event(event))

    def gap(self, gap: StreamGap) -> None:
        if self.json:
            self.record(gap_record(gap))
        else:
            self.line(gap_line(gap))


def wall_time(received_at: float) -> float:
    """A trio-clock receive time as UNIX time (the envelope uses trio's clock)."""
    return time.time() - (trio.current_time() - received_at)


def event_record(event: Event) -> dict[str, Any]:
    """One event as a JSON-ready dict (the ``events`` output schema)."""
    envelope = event.envelope
    record: dict[str, Any] = {
        "event": event.name,
        "subclass": event.subclass,
        "unique_id": event.unique_id,
        "sequence": envelope.sequence if envelope else None,
        "generation": envelope.generation if envelope else None,
        "received_at": round(wall_time(envelope.received_at), 6) if envelope else None,
    }
    try:
        record["headers"] = event.headers.to_dict()
        record["body"] = event.text
    except EventDecodeError as exc:
        record["headers"] = {}
        record["body"] = event.raw.decode("utf-8", "replace")
        record["decode_error"] = str(exc)
    return record


def gap_record(gap: StreamGap) -> dict[str, Any]:
    return {"gap": gap.reason.value, "dropped": gap.dropped, "generation": gap.generation}


def gap_line(gap: StreamGap) -> str:
    if gap.reason is GapReason.RECONNECT:
        return (
            f"-- gap: the connection was lost; events in between were not seen "
            f"(now generation {gap.generation}) --"
        )
    return f"-- gap: {gap.dropped} event(s) dropped, output could not keep up --"


def _clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"


def _get(event: Event, name: str) -> str:
    try:
        return event.get(name) or ""
    except EventDecodeError:
        return ""


def _call_summary(event: Event) -> str:
    caller = _get(event, "Caller-Caller-ID-Number")
    dest = _get(event, "Caller-Destination-Number")
    text = f"{caller} -> {dest}" if caller or dest else ""
    cause = _get(event, "Hangup-Cause")
    return f"{text}  {cause}".strip() if cause else text


def _job_summary(event: Event) -> str:
    command = f"{_get(event, 'Job-Command')} {_get(event, 'Job-Command-Arg')}".strip()
    try:
        result = event.text.strip().splitlines()
    except EventDecodeError:
        result = []
    return f"{command}: {result[0] if result else '(no output)'}"


_SUMMARIES: dict[str, Callable[[Event], str]] = {
    "BACKGROUND_JOB": _job_summary,
    "HEARTBEAT": lambda e: f"sessions {_get(e, 'Session-Count')}  {_get(e, 'Event-Info')}",
    "API": lambda e: f"{_get(e, 'API-Command')} {_get(e, 'API-Command-Argument')}".strip(),
}


def readable_event(event: Event, *, clock: bool = True) -> str:
    """``12:00:01.250  #42 g1  CHANNEL_ANSWER  3f2a9c1e  1000 -> 9664``."""
    envelope = event.envelope
    stamp, seq = "", ""
    if envelope is not None:
        stamp = _clock(wall_time(envelope.received_at)) + "  " if clock else ""
        seq = f"#{envelope.sequence} g{envelope.generation}"
    name = event.name or "(undecodable)"
    if name == "CUSTOM":
        name = f"CUSTOM {event.subclass or ''}".strip()
    uid = (event.unique_id or "")[:8]
    summary = _SUMMARIES.get(event.name, _call_summary)(event)
    return f"{stamp}{seq:<9} {name:<24} {uid:<8}  {summary}".rstrip()


def health_view(health: HealthSnapshot, rate: float, top: str, target: str) -> list[str]:
    """The ``watch`` screen: a few aligned lines."""
    rc = health.reconnect
    live = "live" if health.live else "not live"
    error = health.last_error
    return [
        f"esl-trio watch  {target}  (Ctrl-C to quit)",
        "",
        f"state       {health.state.value} ({live})   generation {health.generation}"
        f"   reconnects {rc.reconnects}   phase {rc.phase.value}",
        f"events      {health.events_received} received   {rate:.1f}/s   "
        f"dropped {health.events_dropped}   undecodable {health.events_undecodable}",
        f"jobs        pending {health.pending_jobs}   completed {health.jobs_completed}"
        f"   timed out {health.jobs_timed_out}   commands in flight {health.inflight_commands}",
        f"top events  {top or '-'}",
        f"last error  {f'{error.type}: {error.message}' if error else '-'}",
    ]


def health_line(health: HealthSnapshot, rate: float) -> str:
    """The ``watch`` output when stdout is not a terminal: one line per refresh."""
    rc = health.reconnect
    return (
        f"{_clock(health.snapshot_at)} state={health.state.value} live={health.live} "
        f"generation={health.generation} events={health.events_received} rate={rate:.1f}/s "
        f"dropped={health.events_dropped} reconnects={rc.reconnects} "
        f"jobs_pending={health.pending_jobs} jobs_completed={health.jobs_completed}"
    )
