"""The public surface is exactly what ``__all__`` says (stability policy)."""

from __future__ import annotations

import importlib

import pytest

import esl_trio
import esl_trio.protocol
import esl_trio.testing

PINNED_TOP_LEVEL = {
    "AuthenticationError", "BackgroundJob", "BackpressureError", "Call", "CallError",
    "CommandError", "CommandTimeoutError", "ConnectError", "ConnectionLostError",
    "ConnectionSetupError", "DrainError", "EslError", "EslRuntime", "EslTimeoutError",
    "GapReason", "HealthSnapshot", "InvalidArgumentError", "NotReadyError", "OriginateError",
    "Overflow", "Receiver", "RefusedError", "RuntimeConfig", "RuntimeState", "ServerError",
    "StateChange", "StreamGap", "WorkInterruptedError", "__version__", "open_esl_runtime",
    "OutboundCall", "open_outbound_server", "serve_outbound",
}  # fmt: skip

#: The public modules beside the top level (issue 10 item 8) and what each exports.
PINNED_MODULES = {
    "esl_trio.config": {
        "BackpressureConfig", "Connector", "HeartbeatConfig", "Limits", "OutboundConfig",
        "ReplayConfig", "RetryPolicy", "RuntimeConfig", "SubscriptionConfig", "Timeouts",
        "tcp_connector",
    },
    "esl_trio.errors": {
        "AuthenticationError", "BackpressureError", "CallEndedError", "CallError", "CommandError",
        "CommandTimeoutError", "ConnectError", "ConnectionLostError", "ConnectionSetupError",
        "DrainCutError", "DrainError", "DrainRefusedError", "EslError", "EslTimeoutError",
        "EventDecodeError", "HandshakeError", "InvalidArgumentError", "LocalProtocolError",
        "NotReadyError", "OriginateError", "ProtocolError", "RefusedError", "RemoteProtocolError",
        "ServerError", "TruncatedFrameError", "UnknownEventNameError", "WorkInterruptedError",
    },
    "esl_trio.health": {
        "ErrorRecord", "HealthSnapshot", "Permissions", "ReceiverStatistics", "ReconnectPhase",
        "ReconnectStatus", "RuntimeState", "StateChange", "StopReason", "Transition",
    },
    "esl_trio.replay": {
        "JsonLinesSink", "ReplayArtifact", "ReplaySink", "load_capture",
    },
    "esl_trio.calls": {
        "Call", "CallEndedError", "CallError", "CallState", "ENDED_WHILE_DISCONNECTED", "Hangup",
        "OriginateError",
    },
    "esl_trio.outbound": {
        "OutboundCall", "OutboundConfig", "OutboundHandler", "OutboundServer", "OutboundStats",
        "open_outbound_server", "serve_outbound",
    },
    "esl_trio.runtime": {
        "BackgroundJob", "EslRuntime", "EventReceiver", "EventStream", "GapReason", "LogStream",
        "Overflow", "Receiver", "StreamGap", "SubscriptionState", "Subscriptions",
        "open_esl_runtime",
    },
}  # fmt: skip


def test_top_level_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate act: update this set and the changelog."""
    assert set(esl_trio.__all__) == PINNED_TOP_LEVEL


def test_issue10_item8_the_top_level_is_small() -> None:
    assert len(esl_trio.__all__) <= 35
    protocol_types = set(esl_trio.protocol.__all__) - {
        n for n in esl_trio.protocol.__all__ if n.endswith("Error")
    }
    assert not protocol_types & set(esl_trio.__all__)  # protocol types live in .protocol only


def test_issue10_item8_public_modules_are_pinned() -> None:
    for name, pinned in PINNED_MODULES.items():
        assert set(importlib.import_module(name).__all__) == pinned, name


def test_issue10_item8_old_top_level_names_still_work_with_a_warning() -> None:
    from esl_trio.config import Timeouts

    with pytest.warns(DeprecationWarning, match=r"esl_trio.Timeouts moved to esl_trio.config"):
        assert esl_trio.Timeouts is Timeouts  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="esl_trio.protocol"):
        assert esl_trio.Event is esl_trio.protocol.Event  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        esl_trio.NoSuchName  # type: ignore[attr-defined]


def test_every_exported_name_exists() -> None:
    modules = [importlib.import_module(n) for n in PINNED_MODULES]
    for module in (esl_trio, esl_trio.protocol, esl_trio.testing, *modules):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, (module.__name__, missing)
        assert len(set(module.__all__)) == len(module.__all__)


def test_errors_form_one_tree() -> None:
    for name in esl_trio.__all__:
        obj = getattr(esl_trio, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, esl_trio.EslError), name


def test_py_typed_is_shipped() -> None:
    from pathlib import Path

    assert (Path(esl_trio.__file__).parent / "py.typed").exists()
