"""pytest plugin: ``fake_freeswitch``, ``simulated_pbx`` and ``fake_dialer`` fixtures.

Installing esl-trio registers it (a ``pytest11`` entry point), so the fixtures are there in
every project that has esl-trio installed; ``pip install 'esl-trio[testing]'`` adds pytest and
pytest-trio. The explicit form still works and does not register it twice::

    pytest_plugins = ["esl_trio.testing.pytest_plugin"]   # top-level conftest.py

The fixtures are trio fixtures: set ``trio_mode = true`` (``[tool.pytest.ini_options]`` in
pyproject.toml, or ``[pytest]`` in pytest.ini), or mark each test ``@pytest.mark.trio``::

    async def test_status(fake_freeswitch):
        stream = await fake_freeswitch.connect()   # a running FakeFreeSwitch
        ...

Each fixture runs its ``open_*`` context manager in the test's nursery and closes it after the
test. Options come from a marker named like the fixture, passed as keyword arguments::

    @pytest.mark.fake_freeswitch(password="secret", auth_timeout=None)
    async def test_other_password(fake_freeswitch): ...

Use trio's ``autojump_clock`` fixture for anything timed: the fakes only use trio's clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import pytest

from ._dialer import FakeDialer, open_fake_dialer
from ._fake_server import FakeFreeSwitch, open_fake_freeswitch
from ._pbx import SimulatedPbx, open_simulated_pbx

__all__ = [
    "TRIO_MODE_HINT",
    "fake_dialer",
    "fake_freeswitch",
    "pytest_configure",
    "pytest_runtest_setup",
    "simulated_pbx",
]

_FIXTURES: Final = {
    "fake_freeswitch": "esl_trio.testing.open_fake_freeswitch",
    "simulated_pbx": "esl_trio.testing.open_simulated_pbx",
    "fake_dialer": "esl_trio.testing.open_fake_dialer",
}

#: What a test using these fixtures without trio mode is told (pytest would otherwise only say
#: that an async fixture was not handled, which does not point at the fix).
TRIO_MODE_HINT: Final = (
    "the esl_trio.testing fixture {fixture!r} is a trio fixture, but {test} is not run by "
    "pytest-trio. Add `trio_mode = true` to your pytest configuration "
    "([tool.pytest.ini_options] in pyproject.toml, or [pytest] in pytest.ini), or mark the "
    "test with @pytest.mark.trio. pytest-trio comes with: pip install 'esl-trio[testing]'"
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers, so ``--strict-markers`` accepts them."""
    for name, opener in _FIXTURES.items():
        config.addinivalue_line(
            "markers", f"{name}(**options): options for the {name} fixture (see {opener})"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail early, saying what to add, when our fixtures are used outside trio mode."""
    used = [name for name in getattr(item, "fixturenames", ()) if name in _FIXTURES]
    if used and item.get_closest_marker("trio") is None:
        pytest.fail(TRIO_MODE_HINT.format(fixture=used[0], test=item.nodeid), pytrace=False)


def _options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


@pytest.fixture
async def fake_freeswitch(request: pytest.FixtureRequest) -> AsyncIterator[FakeFreeSwitch]:
    """A running fake FreeSWITCH (memory streams; call ``serve_tcp()`` for a TCP port)."""
    async with open_fake_freeswitch(**_options(request, "fake_freeswitch")) as fs:
        yield fs


@pytest.fixture
async def simulated_pbx(request: pytest.FixtureRequest) -> AsyncIterator[SimulatedPbx]:
    """A running simulated PBX (a fake FreeSWITCH with calls); connect with ``.connector``."""
    async with open_simulated_pbx(**_options(request, "simulated_pbx")) as pbx:
        yield pbx


@pytest.fixture
async def fake_dialer(request: pytest.FixtureRequest) -> AsyncIterator[FakeDialer]:
    """A fake FreeSWITCH dialing out to your outbound-socket server (``await .dial(...)``)."""
    async with open_fake_dialer(**_options(request, "fake_dialer")) as dialer:
        yield dialer
