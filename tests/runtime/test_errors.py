"""The error tree: one base per category, every leaf under the category it belongs to.

Issue 10 item 7. The tree drawn in ``esl_trio._errors`` and in ``docs/errors.md`` is parsed
and checked against the real classes, so neither drawing can drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

import esl_trio
import esl_trio._errors as errors_module
import esl_trio.errors
import esl_trio.protocol
from esl_trio import (
    AuthenticationError,
    BackpressureError,
    CommandError,
    CommandTimeoutError,
    ConnectError,
    ConnectionLostError,
    ConnectionSetupError,
    DrainError,
    EslError,
    EslRuntime,
    EslTimeoutError,
    InvalidArgumentError,
    NotReadyError,
    RefusedError,
    RuntimeState,
    ServerError,
    WorkInterruptedError,
)
from esl_trio.config import BackpressureConfig
from esl_trio.errors import (
    DrainCutError,
    DrainRefusedError,
    HandshakeError,
    LocalProtocolError,
    UnknownEventNameError,
)
from esl_trio.testing import FakeFreeSwitch

from .conftest import OpenRuntime

DOCS = Path(__file__).resolve().parents[2] / "docs"

CATEGORY_OF = {
    InvalidArgumentError: RefusedError,
    LocalProtocolError: InvalidArgumentError,
    UnknownEventNameError: InvalidArgumentError,
    NotReadyError: RefusedError,
    BackpressureError: RefusedError,
    DrainRefusedError: RefusedError,
    ConnectionLostError: WorkInterruptedError,
    DrainCutError: WorkInterruptedError,
    CommandTimeoutError: EslTimeoutError,
    CommandError: ServerError,
    ConnectError: ConnectionSetupError,
    AuthenticationError: ConnectionSetupError,
    HandshakeError: ConnectionSetupError,
}


def _tree_edges(text: str) -> list[tuple[str, str]]:
    """(parent, child) pairs of an ASCII tree drawn with ├─ / └─ and 4-column indents."""
    edges: list[tuple[str, str]] = []
    stack: list[str] = []
    margin = 0  # the drawing's own indent (a docstring indents it)
    for line in text.splitlines():
        match = re.match(r"^(?P<indent>[ │]*)(?:[├└]─ )?(?P<name>[A-Z]\w+)", line)
        if match is None or ("─" not in line and match["name"] != "EslError"):
            continue
        if "─" not in line:
            margin = len(match["indent"])
        depth = 0 if "─" not in line else (len(match["indent"]) - margin) // 4 + 1
        del stack[depth:]
        if stack:
            edges.append((stack[-1], match["name"]))
        stack.append(match["name"])
    return edges


def _resolve(name: str) -> type[BaseException]:
    found = getattr(esl_trio.errors, name)
    assert isinstance(found, type) and issubclass(found, BaseException), name
    return found


@pytest.mark.parametrize(("leaf", "category"), CATEGORY_OF.items())
def test_issue10_item7_each_error_sits_under_its_category(
    leaf: type[EslError], category: type[EslError]
) -> None:
    assert issubclass(leaf, category)
    assert issubclass(leaf, EslError)


@pytest.mark.parametrize(
    "drawing",
    [
        pytest.param(errors_module.__doc__ or "", id="module-docstring"),
        pytest.param((DOCS / "errors.md").read_text(encoding="utf-8"), id="docs-errors"),
        pytest.param((DOCS / "reference/errors.md").read_text(encoding="utf-8"), id="reference"),
    ],
)
def test_issue10_item7_drawn_tree_matches_the_classes(drawing: str) -> None:
    edges = _tree_edges(drawing)
    assert len(edges) >= 20, "the tree was not found"
    for parent, child in edges:
        assert issubclass(_resolve(child), _resolve(parent)), (parent, child)
    drawn = {child for _, child in edges} | {"EslError"}
    exported = {
        name
        for name in esl_trio.errors.__all__
        if isinstance(getattr(esl_trio.errors, name), type)
        and issubclass(getattr(esl_trio.errors, name), EslError)
    }
    assert exported <= drawn, exported - drawn


def test_issue10_item7_categories_do_not_overlap() -> None:
    """Refused (nothing written) and interrupted (maybe written) exclude each other."""
    categories = (
        RefusedError,
        WorkInterruptedError,
        EslTimeoutError,
        ServerError,
        ConnectionSetupError,
    )
    for name in esl_trio.errors.__all__:
        obj = getattr(esl_trio.errors, name)
        if isinstance(obj, type) and issubclass(obj, EslError):
            assert sum(issubclass(obj, c) for c in categories) <= 1, name


def test_issue10_item7_refused_errors_say_nothing_was_written() -> None:
    for error in (
        NotReadyError("connecting"),
        BackpressureError("full"),
        DrainRefusedError("draining"),
        LocalProtocolError("CR in argument"),
        UnknownEventNameError("CHANNEL_ANSWR", ("CHANNEL_ANSWER",)),
    ):
        assert isinstance(error, RefusedError)
        assert error.written is False


@pytest.mark.parametrize("written", [True, False])
def test_issue10_item7_interrupted_errors_carry_written(written: bool) -> None:
    for error in (
        ConnectionLostError("lost", written=written),
        DrainCutError("drain deadline expired", written=written),
    ):
        assert isinstance(error, WorkInterruptedError)
        assert error.written is written
    cut = DrainCutError("drain deadline expired", written=written)
    assert isinstance(cut, DrainError) and str(cut) == "drain deadline expired"


def test_issue10_item7_old_constructors_still_work() -> None:
    legacy = DrainError("the runtime is shutting down")
    assert str(legacy) == "the runtime is shutting down" and legacy.written is False
    assert DrainError("cut", written=True).written is True
    assert isinstance(DrainRefusedError("x"), DrainError)
    timeout = CommandTimeoutError("api status", 5.0)
    assert isinstance(timeout, TimeoutError) and timeout.timeout == 5.0
    assert isinstance(ConnectError("refused"), OSError)
    assert isinstance(LocalProtocolError("bad"), ValueError)
    assert isinstance(UnknownEventNameError("X", ()), ValueError)
    assert CommandError("api x", "-ERR no").reason == "no"
    assert AuthenticationError("invalid").reason == "invalid"


async def test_issue8_item7_drain_cut_says_written_and_drain_refusal_says_not(
    autojump_clock: trio.abc.Clock, fs: FakeFreeSwitch, open_runtime: OpenRuntime
) -> None:
    cut: list[BaseException] = []

    async def held_call(rt: EslRuntime) -> None:
        try:
            await rt.api("echo", "held")
        except EslError as exc:
            cut.append(exc)

    # Errors are collected, not raised, inside the nursery: raising there would cancel the
    # drain half-way. fail_after turns a hang into a failure on the virtual clock.
    refused: list[BaseException] = []
    with trio.fail_after(60):
        async with open_runtime(backpressure=BackpressureConfig(drain_timeout=2.0)) as rt:
            fs.hold_replies()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(held_call, rt)
                await fs.wait_command("api echo held")
                nursery.start_soon(rt.aclose)
                await rt.wait_state(RuntimeState.DRAINING)
                count = len(fs.commands)
                try:
                    await rt.api("status")
                except EslError as exc:
                    refused.append(exc)
                assert len(fs.commands) == count  # refused: nothing written
    (refusal,) = refused
    assert isinstance(refusal, DrainRefusedError) and isinstance(refusal, RefusedError)
    assert isinstance(refusal, DrainError) and refusal.written is False
    (error,) = cut
    assert isinstance(error, DrainCutError) and isinstance(error, WorkInterruptedError)
    assert error.written is True  # it was on the wire, exactly like ConnectionLostError
