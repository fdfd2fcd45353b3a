"""pytest plugin: a ``fake_freeswitch`` fixture (needs pytest-trio).

Enable it in your ``conftest.py``::

    pytest_plugins = ["esl_trio.testing.pytest_plugin"]

Then, in a trio test (``trio_mode = true``, or ``@pytest.mark.trio``)::

    async def test_status(fake_freeswitch):
        stream = await fake_freeswitch.connect()   # a running FakeFreeSwitch
        ...

The fixture runs :func:`esl_trio.testing.open_fake_freeswitch` in the test's nursery and closes
it after the test. Options come from a ``fake_freeswitch`` marker, passed as keyword arguments::

    @pytest.mark.fake_freeswitch(password="secret", auth_timeout=None)
    async def test_other_password(fake_freeswitch): ...

Use trio's ``autojump_clock`` fixture for anything timed: the fake only uses trio's clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ._fake_server import FakeFreeSwitch, open_fake_freeswitch

__all__ = ["fake_freeswitch", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "fake_freeswitch(**options): options for the fake_freeswitch fixture "
        "(see esl_trio.testing.open_fake_freeswitch)",
    )


@pytest.fixture
async def fake_freeswitch(request: pytest.FixtureRequest) -> AsyncIterator[FakeFreeSwitch]:
    """A running fake FreeSWITCH (memory streams; call ``serve_tcp()`` for a TCP port)."""
    marker = request.node.get_closest_marker("fake_freeswitch")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    async with open_fake_freeswitch(**options) as fs:
        yield fs
