"""Per-call receivers: one place that opens them, so the receiver API can change in one spot.

Today a :class:`Receiver` is its own producer side (``offer``/``mark_gap``/``close``); the
tuple keeps the call code written against a separate producer ("feed").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from ._receivers import GapReason, Overflow, Receiver

__all__ = ["Feed", "open_call_receiver"]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Feed(Protocol[T_contra]):
    """The producer side of a receiver (never awaits)."""

    def offer(self, item: T_contra, generation: int) -> bool: ...
    def mark_gap(self, reason: GapReason, generation: int) -> None: ...
    def close(self) -> None: ...


def open_call_receiver(
    name: str, max_buffer: int, overflow: Overflow | str, on_close: Callable[[object], None]
) -> tuple[Receiver[T], Feed[T]]:
    """A bounded receiver and its feed. BLOCK is refused: a call's consumer must never stall
    the socket reader that feeds every other call."""
    policy = Overflow(overflow)
    if policy is Overflow.BLOCK:
        raise ValueError("call receivers cannot use Overflow.BLOCK; use DROP_NEWEST/DROP_OLDEST")
    receiver: Receiver[T] = Receiver(name, max_buffer, policy, on_close)
    return receiver, receiver
