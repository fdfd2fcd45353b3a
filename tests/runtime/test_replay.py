"""Replay capture (B-REPLAY-*): artifacts, sinks, files and replaying them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esl_trio import open_esl_runtime
from esl_trio.config import ReplayConfig, SubscriptionConfig
from esl_trio.protocol import Event
from esl_trio.replay import JsonLinesSink, ReplayArtifact, load_capture
from esl_trio.testing import FakeFreeSwitch, ReplayScript, open_fake_freeswitch
from tests.runtime.conftest import base_config


def collecting() -> tuple[list[ReplayArtifact], ReplayConfig]:
    artifacts: list[ReplayArtifact] = []
    return artifacts, ReplayConfig(sinks=[artifacts.append])


async def test_bgapi_artifact_order_B_REPLAY_5(fs: FakeFreeSwitch) -> None:
    artifacts, replay = collecting()
    async with open_esl_runtime(base_config(replay=replay), connector=fs.connector) as rt:
        job = await rt.bgapi("status")
        await job.wait()
    names = [a.name for a in artifacts]
    start = names.index("bgapi.dispatch")
    assert names[start : start + 5] == [
        "bgapi.dispatch",
        "command.reply",
        "bgapi.ack",
        "event.raw",
        "bgapi.complete",
    ]
    assert [a.sequence for a in artifacts] == list(range(1, len(artifacts) + 1))
    assert {a.version for a in artifacts} == {1}
    assert all(a.generation == 1 for a in artifacts)


async def test_api_and_mutation_artifacts_noops_and_rejections_B_REPLAY_4_6(
    fs: FakeFreeSwitch,
) -> None:
    artifacts, replay = collecting()
    async with open_esl_runtime(base_config(replay=replay), connector=fs.connector) as rt:
        await rt.api("status")
        await rt.subscriptions.subscribe("CHANNEL_ANSWER")
        await rt.subscriptions.subscribe("CHANNEL_ANSWER")  # no-op: no artifact
        await rt.subscriptions.add_filter("Unique-ID", "x")
        count = len(artifacts)
        with pytest.raises(ValueError):
            await rt.api("bad\ntoken")  # rejected before acceptance: no artifact
        assert len(artifacts) == count
    names = [a.name for a in artifacts]
    assert names.count("subscription.mutate") == 1
    assert names.count("filter.mutate") == 1
    dispatch = next(a for a in artifacts if a.name == "api.dispatch")
    assert dispatch.payload["name"] == "status"
    reply = next(a for a in artifacts if a.name == "api.reply")
    assert reply.payload["body"].startswith("UP")


async def test_failing_sink_is_contained_and_counted_B_REPLAY_7(fs: FakeFreeSwitch) -> None:
    seen: list[str] = []

    def broken(artifact: ReplayArtifact) -> None:
        raise RuntimeError("disk full")

    config = base_config(replay=ReplayConfig(sinks=[broken, lambda a: seen.append(a.name)]))
    async with open_esl_runtime(config, connector=fs.connector) as rt:
        await rt.api("status")
        assert rt.health().replay_sink_errors >= 2
    assert "api.reply" in seen  # later sinks still got everything


async def test_password_never_captured(fs: FakeFreeSwitch, tmp_path: Path) -> None:
    fs.password = "Sup3rS3cret"
    path = tmp_path / "capture.jsonl"
    with JsonLinesSink(path) as sink:
        config = base_config(password="Sup3rS3cret", replay=ReplayConfig(sinks=[sink]))
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            await rt.api("status")
            health = json.dumps(rt.health().to_dict())
    assert "Sup3rS3cret" not in path.read_text()
    assert "Sup3rS3cret" not in health
    assert "Sup3rS3cret" not in repr(config)


async def test_capture_file_replays_as_a_fake_server_script(tmp_path: Path) -> None:
    """A production incident, captured, becomes a test (issue: replay loader)."""
    path = tmp_path / "incident.jsonl"
    subscriptions = SubscriptionConfig(events=["CHANNEL_ANSWER"])
    async with open_fake_freeswitch() as original:
        original.api_handlers["version"] = lambda args: "FreeSWITCH Version 1.11.3 (incident)\n"
        with JsonLinesSink(path) as sink:
            config = base_config(subscriptions=subscriptions, replay=ReplayConfig(sinks=[sink]))
            async with open_esl_runtime(config, connector=original.connector) as rt:
                await rt.api("version")
                original.emit("CHANNEL_ANSWER", {"Unique-ID": "call-42"})
                await rt.api("echo", "after")
    artifacts = load_capture(path)
    assert {a.name for a in artifacts} >= {"api.dispatch", "api.reply", "event.raw"}

    script = ReplayScript.from_file(path)
    async with open_fake_freeswitch() as replayed:
        script.install(replayed)
        async with open_esl_runtime(base_config(), connector=replayed.connector) as rt:
            assert (await rt.api("version")).text == "FreeSWITCH Version 1.11.3 (incident)\n"
            async with rt.events.receiver("CHANNEL_ANSWER") as events:
                assert script.play_events(replayed) == 1
                event = await events.receive()
    assert isinstance(event, Event) and event.unique_id == "call-42"


def test_load_capture_rejects_foreign_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"name": "nope", "version": 1}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_capture(path)
