"""The one ExceptionGroup layer a nursery adds, taken off again (a user's own group stays)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["nursery_layer_removed"]


@contextmanager
def nursery_layer_removed() -> Iterator[None]:
    """Around ``async with trio.open_nursery()`` in an ``open_*`` context manager: what the
    block (or one task) raised comes out as itself, not wrapped in the nursery's group.

    Only a group of exactly one exception is unwrapped, once: a group the user raised, or
    several failures at once, pass through as they are.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        _reraise(group.exceptions[0])


def _reraise(error: BaseException) -> None:
    # ``raise`` inside ``except`` would set the group as the error's __context__; keep the
    # error's own cause and context as they were.
    cause, context, suppress = error.__cause__, error.__context__, error.__suppress_context__
    try:
        raise error
    finally:
        error.__cause__, error.__context__ = cause, context
        error.__suppress_context__ = suppress
