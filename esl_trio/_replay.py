"""Replay capture: what the runtime sent and received, as versioned artifacts (DESIGN §9).

Sinks are synchronous callables and must not block; an exception in a sink is contained and
counted in health, never propagated. With no sink configured nothing is built at all.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

__all__ = ["ReplayArtifact", "ReplaySink"]

ARTIFACT_VERSION = 1


@attrs.frozen
class ReplayArtifact:
    """One captured step. ``payload`` never contains a password."""

    name: str  # api.dispatch, api.reply, bgapi.dispatch, bgapi.ack, bgapi.complete, ...
    sequence: int  # runtime-wide, 1, 2, 3 ... across reconnects
    generation: int  # connection generation (0 before the first connection)
    monotonic: float  # trio.current_time()
    wall: float  # time.time(), for humans and log correlation
    payload: dict[str, Any]
    version: int = ARTIFACT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class ReplaySink(Protocol):
    """Receives artifacts synchronously; must return quickly and never block."""

    def __call__(self, artifact: ReplayArtifact, /) -> None: ...
