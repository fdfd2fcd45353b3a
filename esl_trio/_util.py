"""Tiny shared helpers with no protocol knowledge."""

from __future__ import annotations

import trio

__all__ = ["unwrap_group"]


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            leaves.extend(_leaves(exc))
        else:
            leaves.append(exc)
    return leaves


def unwrap_group(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception a caller should see instead of ``group``.

    The runtime's own tasks never raise (their failures become state), so a group holds the
    user's exception from the ``async with`` body, plus ``Cancelled`` from tasks torn down
    with it. We return the first exception that is not ``Cancelled`` (the others are attached
    as notes so nothing is hidden), or a ``Cancelled`` if that is all there is.
    """
    leaves = _leaves(group)
    real = [exc for exc in leaves if not isinstance(exc, trio.Cancelled)]
    if not real:
        return leaves[0]
    first = real[0]
    for other in real[1:]:
        first.add_note(f"esl-trio: also raised while closing: {other!r}")
    return first
