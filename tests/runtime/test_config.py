"""Configuration (B-CFG-*)."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from urllib.parse import quote

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_trio import EslError, RuntimeConfig, open_esl_runtime
from esl_trio.config import (
    BackpressureConfig,
    HeartbeatConfig,
    ReplayConfig,
    RetryPolicy,
    SubscriptionConfig,
    Timeouts,
)
from esl_trio.protocol import EventFormat, Exit
from esl_trio.testing import open_fake_freeswitch

from .conftest import base_config


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


def test_issue10_item9_exit_budget_is_validated_like_the_others() -> None:
    assert Timeouts().exit == 1.0
    assert Timeouts(exit=0.25).exit == 0.25
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="exit must be a positive number of seconds"):
            Timeouts(exit=bad)


class _StuckWrites(trio.abc.Stream):
    """A client stream whose writes of one command never complete until it is closed.

    Models a socket the peer stopped reading while that command was being written, so the
    drain's ``exit`` has to wait for the send lock.
    """

    def __init__(self, inner: trio.abc.Stream, stuck: bytes) -> None:
        self.inner = inner
        self.stuck = stuck
        self.closed = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.stuck in bytes(data):
            await self.closed.wait()
            raise trio.ClosedResourceError("closed while writing")
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        self.closed.set()
        await self.inner.aclose()


@pytest.mark.parametrize("exit_budget", [0.5, 3.0])
async def test_issue10_item9_exit_waits_at_most_timeouts_exit(
    exit_budget: float, autojump_clock: trio.abc.Clock
) -> None:
    async with open_fake_freeswitch() as fs:

        async def connect() -> trio.abc.Stream:
            return _StuckWrites(await fs.connect(), b"api stuck")

        config = attrs.evolve(
            base_config(),
            timeouts=Timeouts(exit=exit_budget, write=100.0, api=100.0),
            backpressure=BackpressureConfig(drain_timeout=2.0),
        )
        async with trio.open_nursery() as nursery:
            async with open_esl_runtime(config, connector=connect) as rt:

                async def stuck_call() -> None:
                    with contextlib.suppress(EslError):
                        await rt.api("stuck")

                nursery.start_soon(stuck_call)
                await trio.sleep(0.1)
                start = trio.current_time()
            # drain (2 s: the stuck api never settles), then exit waits for the send lock
            assert trio.current_time() - start == pytest.approx(2.0 + exit_budget)
        assert not any(isinstance(command, Exit) for _, command in fs.commands)


# -- issue 9 item 10: unencoded '#', '/' or '?' in the password ---------------------------

_REFUSAL = "the esl:// URL has a '#', '/' or '?' after the scheme, which ends the host part"
_REFUSAL += " early; percent-encode them in the password ('#' as %23, '/' as %2F, '?' as %3F;"
_REFUSAL += " also '@' as %40, ':' as %3A, '%' as %25)"
_PASSWORD_CHARS = st.characters(blacklist_characters="\r\n\0", blacklist_categories=["Cs"])


def test_issue9_item10_unencoded_hash_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="percent-encode") as caught:
        RuntimeConfig.from_url("esl://Sup3r#S3cret@pbx.example")
    assert "Sup3r" not in str(caught.value) and "S3cret" not in str(caught.value)
    assert "pbx.example" not in str(caught.value)  # nothing of the URL at all
    assert RuntimeConfig.from_url("esl://Sup3r%23S3cret@pbx.example").password == "Sup3r#S3cret"
    assert RuntimeConfig.from_url("esl://pw@pbx.example/").host == "pbx.example"


@settings(max_examples=300, deadline=None)
@given(
    st.text(_PASSWORD_CHARS, max_size=10),
    st.sampled_from("#/?"),
    st.text(_PASSWORD_CHARS, max_size=10),
)
def test_issue9_item10_any_password_with_unencoded_delimiters_is_refused(
    head: str, delimiter: str, tail: str
) -> None:
    password = head + delimiter + tail
    url = f"esl://{password}@pbx.example:8022"
    with pytest.raises(ValueError) as caught:
        RuntimeConfig.from_url(url)
    # One fixed message whatever the URL: no part of the password can reach it.
    assert str(caught.value) == _REFUSAL
    assert "percent-encode" in _REFUSAL


@settings(max_examples=300, deadline=None)
@given(st.text(_PASSWORD_CHARS, min_size=1, max_size=20))
def test_issue9_item10_any_percent_encoded_password_round_trips(password: str) -> None:
    config = RuntimeConfig.from_url(f"esl://{quote(password, safe='')}@pbx.example:8022")
    assert (config.password, config.host, config.port) == (password, "pbx.example", 8022)


def test_issue8_item10_replay_config_with_a_list_of_callables_type_checks(tmp_path: Path) -> None:
    """Runs mypy --strict on a file written as a user would (typing_config_user.py)."""
    api = pytest.importorskip("mypy.api")
    user_file = Path(__file__).with_name("typing_config_user.py")
    stdout, stderr, status = api.run(["--strict", "--no-error-summary", str(user_file)])
    assert status == 0, stdout + stderr
    # The check can fail: the same call with a sink of the wrong shape is an error.
    bad = tmp_path / "bad_sink.py"
    bad.write_text("from esl_trio.config import ReplayConfig\nReplayConfig(sinks=[len])\n")
    stdout, stderr, status = api.run(["--strict", "--no-error-summary", str(bad)])
    assert status == 1 and "bad_sink.py:2" in stdout, stdout + stderr


def test_issue8_item10_replay_sinks_accept_any_iterable() -> None:
    def sink(artifact: object) -> None:
        pass

    assert ReplayConfig(sinks=[sink]).sinks == (sink,)
    assert ReplayConfig(sinks=iter([sink])).sinks == (sink,)
