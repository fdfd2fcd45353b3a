"""The public surface is exactly what ``__all__`` says (stability policy)."""

from __future__ import annotations

import esl_trio
import esl_trio.protocol
import esl_trio.testing

PINNED_TOP_LEVEL = {
    "ApiReply", "AuthenticationError", "BackgroundJob", "BackgroundJobEvent",
    "BackpressureConfig", "BackpressureError", "ChannelEvent", "CommandError", "CommandReply",
    "CommandTimeoutError", "ConnectError", "ConnectionLostError", "Connector", "CustomEvent",
    "DrainError", "ErrorRecord", "EslError", "EslRuntime", "Event", "EventDecodeError",
    "EventEnvelope", "EventFormat", "EventReceiver", "EventStream", "GapReason",
    "HandshakeError", "HealthSnapshot", "HeartbeatConfig", "HeartbeatEvent", "Limits",
    "JsonLinesSink", "load_capture",
    "LocalProtocolError", "LogLine", "LogStream", "TruncatedFrameError", "NotReadyError",
    "Overflow", "Permissions", "ProtocolError",
    "ReceiverStatistics", "Receiver", "ReconnectPhase", "ReconnectStatus",
    "RemoteProtocolError", "ReplayArtifact", "ReplayConfig", "ReplaySink", "RetryPolicy",
    "RuntimeConfig", "RuntimeState", "SendMsg", "StopReason", "StreamGap",
    "SubscriptionConfig", "SubscriptionState", "Subscriptions", "Timeouts", "__version__",
    "open_esl_runtime", "tcp_connector",
    # the error categories (issue 10 item 7)
    "ConnectionSetupError", "DrainCutError", "DrainRefusedError", "EslTimeoutError",
    "InvalidArgumentError", "RefusedError", "ServerError", "UnknownEventNameError",
    "WorkInterruptedError",
    # issue 11: calls as structured scopes
    "Call", "CallEndedError", "CallError", "CallState", "ENDED_WHILE_DISCONNECTED", "Hangup",
    "OriginateError",
}  # fmt: skip


def test_top_level_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate act: update this set and the changelog."""
    assert set(esl_trio.__all__) == PINNED_TOP_LEVEL


def test_every_exported_name_exists() -> None:
    for module in (esl_trio, esl_trio.protocol, esl_trio.testing):
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
