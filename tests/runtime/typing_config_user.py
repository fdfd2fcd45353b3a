"""Checked by mypy --strict in test_config.py (not collected by pytest): how a user writes
configuration must type-check, not only run (issue 8 item 10)."""

from __future__ import annotations

from typing import assert_type

from esl_trio.config import ReplayConfig
from esl_trio.replay import JsonLinesSink, ReplayArtifact, ReplaySink


def print_sink(artifact: ReplayArtifact) -> None:
    print(artifact.name)


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, artifact: ReplayArtifact, /) -> None:
        self.count += 1


from_list = ReplayConfig(sinks=[print_sink])
from_tuple = ReplayConfig(sinks=(print_sink, CountingSink()))
from_generator = ReplayConfig(sinks=(s for s in [JsonLinesSink("/dev/null")]))
assert_type(from_list.sinks, tuple[ReplaySink, ...])
assert_type(from_generator.sinks, tuple[ReplaySink, ...])
