"""A simulated PBX and a runtime on it, on trio's autojump clock (virtual time)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from esl_trio import EslRuntime, RuntimeConfig, open_esl_runtime
from esl_trio.config import HeartbeatConfig, RetryPolicy
from esl_trio.testing import SimulatedPbx, open_simulated_pbx


def call_config() -> RuntimeConfig:
    return RuntimeConfig(
        host="pbx",
        heartbeat=HeartbeatConfig.disabled(),
        retry=RetryPolicy(initial_delay=0.5, max_delay=2.0),
    )


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    """Tests take ``autojump_clock`` themselves: pytest-trio only sees the test's own."""
    async with open_simulated_pbx(heartbeat_interval=None, hold_time=3600.0) as simulated:
        yield simulated


@pytest.fixture
async def rt(pbx: SimulatedPbx) -> AsyncIterator[EslRuntime]:
    async with open_esl_runtime(call_config(), connector=pbx.connector) as runtime:
        yield runtime
