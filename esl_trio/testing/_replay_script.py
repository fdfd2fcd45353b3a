"""Turn a replay capture (``JsonLinesSink`` file) back into a fake-server script.

A production incident captured with replay enabled becomes a test: the recorded api outputs
are served again for the same commands, and the recorded event payloads are written to the
client byte for byte, in their original order.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from esl_trio._replay import ReplayArtifact, load_capture
from esl_trio.protocol import EventFormat
from esl_trio.protocol._frames import encode_frame

from ._fake_server import FakeFreeSwitch

__all__ = ["ReplayScript"]


@attrs.frozen
class ReplayScript:
    """What a capture recorded, ready to be played by a :class:`FakeFreeSwitch`."""

    #: ``(api command, args)`` → outputs in the order they were answered.
    api_outputs: dict[tuple[str, str], tuple[str, ...]]
    #: Event payloads in arrival order: (format, payload bytes).
    events: tuple[tuple[EventFormat, bytes], ...]

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayScript:
        return cls.from_artifacts(load_capture(path))

    @classmethod
    def from_artifacts(cls, artifacts: Iterable[ReplayArtifact]) -> ReplayScript:
        outputs: dict[tuple[str, str], list[str]] = defaultdict(list)
        pending: deque[tuple[str, str]] = deque()
        events: list[tuple[EventFormat, bytes]] = []
        for artifact in sorted(artifacts, key=lambda a: a.sequence):
            payload = artifact.payload
            if artifact.name == "api.dispatch":
                pending.append((payload["name"], payload.get("args", "")))
            elif artifact.name == "api.reply" and "name" in payload:
                # The reply names its command: no reliance on order (liveness probes and
                # failed dispatches have no counterpart).
                key = (payload["name"], payload.get("args", ""))
                if key in pending:
                    pending.remove(key)
                outputs[key].append(payload["body"])
            elif artifact.name == "api.reply" and pending:
                outputs[pending.popleft()].append(payload["body"])
            elif artifact.name == "event.raw":
                events.append((EventFormat(payload["format"]), payload["raw"].encode()))
        return cls({key: tuple(values) for key, values in outputs.items()}, tuple(events))

    def install(self, fs: FakeFreeSwitch) -> None:
        """Answer each recorded api command with its recorded outputs, in order.

        The last recorded output repeats once the recording is exhausted; commands that were
        never recorded keep the fake's own handlers.
        """
        by_name: dict[str, dict[str, deque[str]]] = defaultdict(dict)
        for (name, args), values in self.api_outputs.items():
            by_name[name][args] = deque(values)
        for name, recorded in by_name.items():
            fs.api_handlers[name] = _replayer(recorded)

    def event_frames(self) -> list[bytes]:
        """The recorded events as complete frames, byte for byte."""
        return [
            encode_frame(
                [("Content-Length", str(len(raw))), ("Content-Type", f"text/event-{fmt}")], raw
            )
            for fmt, raw in self.events
        ]

    def play_events(self, fs: FakeFreeSwitch) -> int:
        """Write every recorded event to every open connection; returns how many."""
        frames = self.event_frames()
        for frame in frames:
            fs.send_raw(frame)
        return len(frames)


def _replayer(recorded: dict[str, deque[str]]) -> Callable[[str], str]:
    def handler(args: str) -> str:
        queue = recorded.get(args)
        if not queue:
            return "-ERR not in the replay capture\n"
        return queue.popleft() if len(queue) > 1 else queue[0]

    return handler
