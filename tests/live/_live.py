"""What every live test shares: the opt-in switch and the config it points at."""

from __future__ import annotations

import os

import pytest

from esl_trio import RuntimeConfig

LIVE_URL = os.environ.get("ESL_TRIO_LIVE_URL")
#: ``pytestmark`` of every live module: marked ``live``, skipped unless the URL is set.
LIVE = [
    pytest.mark.live,
    pytest.mark.skipif(not LIVE_URL, reason="set ESL_TRIO_LIVE_URL=esl://pw@host:port to run"),
]


def live_config() -> RuntimeConfig:
    assert LIVE_URL is not None
    return RuntimeConfig.from_url(LIVE_URL)
