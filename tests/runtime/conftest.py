"""Fixtures for runtime tests: a fake FreeSWITCH and a runtime connected to it.

Determinism rules: every timed path runs on trio's ``autojump_clock`` (virtual time), the
fake only uses trio's clock, and real TCP is kept to a few smoke tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import attrs
import pytest

from esl_trio import EslRuntime, RuntimeConfig, open_esl_runtime
from esl_trio.config import HeartbeatConfig, RetryPolicy
from esl_trio.testing import FakeFreeSwitch, open_fake_freeswitch

OpenRuntime = Callable[..., AbstractAsyncContextManager[EslRuntime]]


def base_config(**changes: Any) -> RuntimeConfig:
    """Heartbeat off and one quick retry policy, unless a test says otherwise."""
    config = RuntimeConfig(
        host="fake-freeswitch",
        heartbeat=HeartbeatConfig.disabled(),
        retry=RetryPolicy(initial_delay=0.5, max_delay=4.0),
    )
    return attrs.evolve(config, **changes)


@pytest.fixture
async def fs() -> AsyncIterator[FakeFreeSwitch]:
    async with open_fake_freeswitch() as fake:
        yield fake


@pytest.fixture
def open_runtime(fs: FakeFreeSwitch) -> OpenRuntime:
    @asynccontextmanager
    async def opener(**changes: Any) -> AsyncIterator[EslRuntime]:
        async with open_esl_runtime(base_config(**changes), connector=fs.connector) as rt:
            yield rt

    return opener


@pytest.fixture
async def rt(open_runtime: OpenRuntime) -> AsyncIterator[EslRuntime]:
    async with open_runtime() as runtime:
        yield runtime


def drained_names(receiver: object) -> list[str]:
    """Names of everything a receiver holds right now, without waiting."""
    import trio

    names = []
    while True:
        try:
            item = receiver.receive_nowait()  # type: ignore[attr-defined]
        except trio.WouldBlock:
            return names
        names.append(item.name)
