"""The public surface of esl_trio.testing: pinned exports, and the documented example runs."""

from __future__ import annotations

import textwrap

import esl_trio.testing


def test_all_is_pinned():
    assert sorted(esl_trio.testing.__all__) == sorted(
        [
            "EVENT_NAMES",
            "SHUTDOWN_NOTICE",
            "ApiHandler",
            "ApiOutput",
            "CommandMatch",
            "DialOptions",
            "DropRule",
            "EmittedEvent",
            "FakeConnection",
            "FakeDialer",
            "FakeFreeSwitch",
            "FakeOptions",
            "FakeOutboundCall",
            "OutboundCommand",
            "ReceivedCommand",
            "ReplayScript",
            "UserCredentials",
            "PbxStats",
            "SimulatedCall",
            "SimulatedPbx",
            "open_fake_dialer",
            "open_fake_freeswitch",
            "open_simulated_pbx",
        ]
    )
    for name in esl_trio.testing.__all__:
        assert getattr(esl_trio.testing, name) is not None


def test_docstring_example_runs():
    doc = esl_trio.testing.__doc__
    assert doc is not None
    start = doc.index("::\n") + 3
    end = doc.index("\nWhat it models")
    code = textwrap.dedent(doc[start:end])
    assert "trio.run(main)" in code
    exec(compile(code, "esl_trio.testing.__doc__", "exec"), {})  # a sync test: trio.run is ok
