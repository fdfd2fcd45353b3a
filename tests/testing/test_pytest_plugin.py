"""The plugin's fixtures, in-process and as users get them: registered by the installed package
(``pytest11``), or listed in ``pytest_plugins``; and the message when trio mode is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from esl_trio.testing import FakeFreeSwitch
from esl_trio.testing.pytest_plugin import fake_freeswitch  # noqa: F401 - the fixture
from tests.testing._raw_client import connect


async def test_fixture_gives_a_running_fake(fake_freeswitch):  # noqa: F811
    assert isinstance(fake_freeswitch, FakeFreeSwitch)
    client = await connect(fake_freeswitch)
    assert await client.api("echo fixture") == b"fixture"


USER_CONFTEST = """
pytest_plugins = ["esl_trio.testing.pytest_plugin"]
"""

USER_TESTS = """
import pytest
import trio

from esl_trio.testing import FakeFreeSwitch


async def test_default(fake_freeswitch):
    assert fake_freeswitch.password == "ClueCon"
    stream = await fake_freeswitch.connect()
    assert await stream.receive_some(100) == b"Content-Type: auth/request\\n\\n"


@pytest.mark.fake_freeswitch(password="secret", auth_timeout=None)
async def test_marker_options(fake_freeswitch):
    assert fake_freeswitch.password == "secret"
    assert fake_freeswitch.auth_timeout is None


async def test_tcp(fake_freeswitch, autojump_clock):
    port = await fake_freeswitch.serve_tcp()
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    assert await stream.receive_some(100) == b"Content-Type: auth/request\\n\\n"
    await stream.aclose()
"""


def test_users_enable_the_plugin_with_pytest_plugins(tmp_path):
    (tmp_path / "conftest.py").write_text(USER_CONFTEST)
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ntrio_mode = true\naddopts = --strict-markers -p no:cacheprovider\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


# -- issue 8 item 12: the plugin registers itself (pytest11), and explains trio mode ---------

FIXTURE_TESTS = """
import pytest
from esl_trio.testing import FakeDialer, FakeFreeSwitch, SimulatedPbx


async def test_fake_freeswitch(fake_freeswitch):
    assert isinstance(fake_freeswitch, FakeFreeSwitch)


async def test_simulated_pbx(simulated_pbx):
    assert isinstance(simulated_pbx, SimulatedPbx)
    assert (await simulated_pbx.fs.connect()) is not None


@pytest.mark.fake_dialer(hostname="dialer-host")
async def test_fake_dialer(fake_dialer):
    assert isinstance(fake_dialer, FakeDialer)
    call, stream = await fake_dialer.dial_memory()
    await stream.send_all(b"connect\\n\\n")
    await call.wait_connected()
"""


def _ini(pytester, trio_mode: bool) -> None:
    lines = ["[pytest]", "addopts = --strict-markers -p no:cacheprovider"]
    if trio_mode:
        lines.append("trio_mode = true")
    pytester.makefile(".ini", pytest="\n".join(lines) + "\n")


def test_issue8_item12_entry_point_gives_the_fixtures_without_a_conftest(pytester):
    _ini(pytester, trio_mode=True)
    pytester.makepyfile(test_user=FIXTURE_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)


def test_issue8_item12_pytest_plugins_line_still_works_without_double_registration(pytester):
    _ini(pytester, trio_mode=True)
    pytester.makeconftest('pytest_plugins = ["esl_trio.testing.pytest_plugin"]\n')
    pytester.makepyfile(test_user=FIXTURE_TESTS)
    result = pytester.runpytest("-p", "esl_trio.testing.pytest_plugin")
    result.assert_outcomes(passed=3)


def test_issue8_item12_without_trio_mode_the_fixtures_say_what_to_add(pytester):
    _ini(pytester, trio_mode=False)
    pytester.makepyfile(test_user=FIXTURE_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(errors=3)
    output = result.stdout.str()
    # Once per test (the short summary may repeat it, depending on the terminal width).
    for name in ("fake_freeswitch", "simulated_pbx", "fake_dialer"):
        assert (
            f"fixture {name!r} is a trio fixture, but test_user.py::test_{name} is not run"
            in output
        )
    assert output.count("is not run by pytest-trio. Add `trio_mode = true`") >= 3
    assert "[tool.pytest.ini_options] in pyproject.toml, or [pytest] in pytest.ini" in output
    assert "or mark the test with @pytest.mark.trio" in output


def test_issue8_item12_trio_marker_is_enough_without_trio_mode(pytester):
    _ini(pytester, trio_mode=False)
    pytester.makepyfile(
        test_user="""
import pytest

@pytest.mark.trio
async def test_marked(fake_freeswitch):
    assert fake_freeswitch.password == "ClueCon"
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_issue8_item12_other_tests_are_not_touched_without_trio_mode(pytester):
    _ini(pytester, trio_mode=False)
    pytester.makepyfile(test_user="def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
