"""Per-call receivers: one place that opens them, with the one rule they add.

A call's receivers are ordinary receivers (:func:`esl_trio._receivers.open_receiver`) fed by
the call itself, never by the hub, and they may not use ``Overflow.BLOCK``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ._receivers import Feed, Overflow, Receiver, open_receiver

__all__ = ["Feed", "open_call_receiver"]

T = TypeVar("T")


def open_call_receiver(
    name: str, max_buffer: int, overflow: Overflow | str, on_close: Callable[[Feed[T]], None]
) -> tuple[Receiver[T], Feed[T]]:
    """A bounded receiver and its feed. BLOCK is refused: a call's consumer must never stall
    the socket reader that feeds every other call."""
    policy = Overflow(overflow)
    if policy is Overflow.BLOCK:
        raise ValueError("call receivers cannot use Overflow.BLOCK; use DROP_NEWEST/DROP_OLDEST")
    return open_receiver(name, max_buffer, policy, on_close)
