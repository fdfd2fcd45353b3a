"""Replay capture: artifacts, the JSON-lines sink, and loading a capture back."""

from __future__ import annotations

from ._replay import JsonLinesSink as JsonLinesSink
from ._replay import ReplayArtifact as ReplayArtifact
from ._replay import ReplaySink as ReplaySink
from ._replay import load_capture as load_capture

__all__ = [
    "JsonLinesSink",
    "ReplayArtifact",
    "ReplaySink",
    "load_capture",
]
