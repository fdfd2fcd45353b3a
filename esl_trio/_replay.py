"""Replay capture: what the runtime sent and received, as versioned artifacts.

Artifact names (stable, version 1): ``api.dispatch``, ``api.reply``, ``bgapi.dispatch``,
``bgapi.ack``, ``bgapi.complete``, ``command.reply``, ``event.raw``, ``subscription.mutate``,
``filter.mutate``. Each carries a runtime-wide ``sequence`` (1, 2, 3… across reconnects), the
connection ``generation``, trio time (``monotonic``) and wall time.

Sinks are synchronous callables and must not block; an exception in a sink is contained and
counted in health (``replay_sink_errors``), never propagated. With no sink configured nothing
is built at all. Credentials are never captured: the ``auth`` command itself is not recorded
(only its ``+OK accepted`` reply is), and commands are recorded through their log-safe
``describe()``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import attrs

__all__ = ["JsonLinesSink", "ReplayArtifact", "ReplaySink", "load_capture"]

ARTIFACT_VERSION = 1
ARTIFACT_NAMES = frozenset(
    {
        "api.dispatch",
        "api.reply",
        "bgapi.dispatch",
        "bgapi.ack",
        "bgapi.complete",
        "command.reply",
        "event.raw",
        "subscription.mutate",
        "filter.mutate",
    }
)


@attrs.frozen
class ReplayArtifact:
    """One captured step. ``payload`` never contains a password."""

    name: str
    sequence: int
    generation: int
    monotonic: float
    wall: float
    payload: dict[str, Any]
    version: int = ARTIFACT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplayArtifact:
        if data.get("version") != ARTIFACT_VERSION:
            raise ValueError(f"unsupported replay artifact version {data.get('version')!r}")
        if data.get("name") not in ARTIFACT_NAMES:
            raise ValueError(f"unknown replay artifact name {data.get('name')!r}")
        return cls(**data)


class ReplaySink(Protocol):
    """Receives artifacts synchronously; must return quickly and never block."""

    def __call__(self, artifact: ReplayArtifact, /) -> None: ...


class JsonLinesSink:
    """Appends one JSON object per artifact to a file (opened on first use, line-buffered).

    Writes are small synchronous appends; put the file on a local disk. Call :meth:`close`
    when done (or use it as a context manager).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None

    def __call__(self, artifact: ReplayArtifact, /) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8", buffering=1)
        self._file.write(json.dumps(artifact.to_dict(), separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> JsonLinesSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def load_capture(path: str | Path) -> list[ReplayArtifact]:
    """Read a JSON-lines capture back; raises ValueError naming the bad line."""
    return list(_iter_capture(Path(path)))


def _iter_capture(path: Path) -> Iterator[ReplayArtifact]:
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                yield ReplayArtifact.from_dict(json.loads(line))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a replay artifact: {exc}") from exc
