"""The ``fake_freeswitch`` fixture, in-process and as users enable it (``pytest_plugins``)."""

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
