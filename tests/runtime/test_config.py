"""Configuration (B-CFG-*)."""

from __future__ import annotations

import random

import attrs
import pytest

from esl_trio import (
    BackpressureConfig,
    EventFormat,
    HeartbeatConfig,
    RetryPolicy,
    RuntimeConfig,
    SubscriptionConfig,
    Timeouts,
)


def test_defaults_B_WIRE_1() -> None:
    config = RuntimeConfig(host="127.0.0.1")
    assert (config.port, config.password, config.user) == (8021, "ClueCon", None)
    assert config.subscriptions.format is EventFormat.JSON
    assert config.address == "127.0.0.1:8021"


def test_password_never_in_repr_or_str() -> None:
    config = RuntimeConfig(host="pbx", password="s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(config)
    assert "s3cr3t-pw" not in str(config)
    assert "s3cr3t-pw" not in repr(attrs.evolve(config, port=9000))


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "password"),
    [
        ("esl://pbx", "pbx", 8021, None, "ClueCon"),
        ("esl://pw@pbx:8022", "pbx", 8022, None, "pw"),
        ("esl://p%40ss%3Aword@10.0.0.5", "10.0.0.5", 8021, None, "p@ss:word"),
        ("esl://1000@default:pw@pbx", "pbx", 8021, "1000@default", "pw"),
        ("esl://pw@[::1]:9000", "::1", 9000, None, "pw"),
    ],
)
def test_from_url(url: str, host: str, port: int, user: str | None, password: str) -> None:
    config = RuntimeConfig.from_url(url)
    assert (config.host, config.port, config.user, config.password) == (host, port, user, password)


@pytest.mark.parametrize("url", ["http://pbx", "esl://", "pbx:8021"])
def test_from_url_rejects_other_shapes(url: str) -> None:
    with pytest.raises(ValueError, match="esl://"):
        RuntimeConfig.from_url(url)


def test_from_env() -> None:
    assert RuntimeConfig.from_env({"ESL_TRIO_URL": "esl://x@h:1"}).port == 1
    config = RuntimeConfig.from_env(
        {"ESL_TRIO_HOST": "h", "ESL_TRIO_PORT": "9", "ESL_TRIO_PASSWORD": "p"}
    )
    assert (config.host, config.port, config.password) == ("h", 9, "p")
    assert RuntimeConfig.from_env({}).host == "127.0.0.1"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"host": ""},
        {"host": "a b"},
        {"host": "h", "port": 0},
        {"host": "h", "port": 70000},
        {"host": "h", "password": "a\nb"},
        {"host": "h", "user": "nodomain"},
    ],
)
def test_invalid_config_is_a_clear_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RuntimeConfig(**kwargs)  # type: ignore[arg-type]


def test_retry_delays_B_CFG_2() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in range(0, 9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert RetryPolicy(initial_delay=0.25, multiplier=2, max_delay=1).delay(3) == 1
    assert RetryPolicy.disabled().delay(3) == 0
    assert policy.delay(10_000) == 60  # no overflow


def test_retry_exhaustion_B_CFG_3() -> None:
    assert not RetryPolicy().exhausted(10**6)
    assert RetryPolicy(max_attempts=3).exhausted(3)
    assert not RetryPolicy(max_attempts=3).exhausted(2)
    assert RetryPolicy.disabled().exhausted(0)


def test_retry_jitter_is_bounded_and_seedable() -> None:
    policy = RetryPolicy(jitter=0.5)
    delays = [policy.delay(3, random.Random(seed)) for seed in range(50)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 10
    assert policy.delay(3, random.Random(7)) == policy.delay(3, random.Random(7))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_delay": 0},
        {"multiplier": 0.5},
        {"max_delay": 0.1, "initial_delay": 1},
        {"max_attempts": -1},
        {"jitter": 2},
    ],
)
def test_retry_validation_B_CFG_1(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_other_groups_validate() -> None:
    with pytest.raises(ValueError):
        Timeouts(api=0)
    with pytest.raises(ValueError):
        Timeouts(api=float("inf"))
    with pytest.raises(ValueError):
        BackpressureConfig(max_inflight=0)
    with pytest.raises(ValueError):
        HeartbeatConfig(interval=-1)
    with pytest.raises(TypeError):
        SubscriptionConfig(events="CHANNEL_ANSWER")  # type: ignore[arg-type]
    assert SubscriptionConfig(filters={"Unique-ID": "x"}).filters == (("Unique-ID", "x"),)
    assert SubscriptionConfig(format="plain").format is EventFormat.PLAIN  # type: ignore[arg-type]
