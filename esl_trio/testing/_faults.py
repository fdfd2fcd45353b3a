"""Building blocks of the fault knobs: matching received commands, drop rules, reply gates."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import attrs
import trio

from esl_trio.protocol import Command, InvalidCommand, UnknownCommand

__all__ = [
    "CommandMatch",
    "DropRule",
    "Gate",
    "ReceivedCommand",
    "command_line",
    "command_verb",
    "matches",
]

#: Anything the fake can receive: a typed command, or what FreeSWITCH would refuse.
ReceivedCommand: TypeAlias = Command | UnknownCommand | InvalidCommand

#: How tests pick commands: a class (``Api``), a verb (``"bgapi"``), the start of a command
#: line (``"api status"``), a predicate, or None for any command.
CommandMatch: TypeAlias = (
    type[ReceivedCommand] | str | Callable[[ReceivedCommand], bool] | None
)  # fmt: skip


def command_line(command: ReceivedCommand) -> str:
    """The command line (passwords redacted), for matching and messages."""
    if isinstance(command, Command):
        return command.describe()
    return command.line


def command_verb(command: ReceivedCommand) -> str:
    """The command word in lower case (``filter`` for FilterAdd and FilterDelete)."""
    if isinstance(command, Command):
        return command.verb
    return command.line.partition(" ")[0].lower()


def matches(match: CommandMatch, command: ReceivedCommand) -> bool:
    """Whether ``command`` is one the test asked for (see :data:`CommandMatch`)."""
    if match is None:
        return True
    if isinstance(match, type):
        return isinstance(command, match)
    if isinstance(match, str):
        if " " in match.strip():
            return command_line(command).lower().startswith(match.strip().lower())
        return command_verb(command) == match.strip().lower()
    return bool(match(command))


@attrs.define(eq=False)
class DropRule:
    """Close a connection when a matching command arrives (see ``FakeFreeSwitch.drop_on``).

    Attributes:
        match: which commands trigger it.
        before_reply: True: close without executing or answering the command. False: execute
            it, write the reply (or ``partial`` bytes of it), then close.
        partial: with ``before_reply=False``, write only this many bytes of the reply (a cut in
            the middle of a frame), then close.
        remaining: how many more times it fires; None for every time.
        fired: how many times it fired.
    """

    match: CommandMatch
    before_reply: bool = True
    partial: int | None = None
    remaining: int | None = 1
    fired: int = 0

    def claim(self, command: ReceivedCommand) -> bool:
        """Fire for this command if it matches and has uses left."""
        if self.remaining == 0 or not matches(self.match, command):
            return False
        self.fired += 1
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def cancel(self) -> None:
        """Never fire again."""
        self.remaining = 0


class Gate:
    """Open or shut; tasks wait at a shut gate until it opens (``hold_replies``)."""

    def __init__(self) -> None:
        self._opened: trio.Event | None = None  # None: open

    @property
    def is_open(self) -> bool:
        return self._opened is None

    def shut(self) -> None:
        if self._opened is None:
            self._opened = trio.Event()

    def open(self) -> None:
        if self._opened is not None:
            self._opened.set()
            self._opened = None

    async def wait_open(self) -> None:
        """Return when open (at once if it is; a checkpoint either way)."""
        if self._opened is None:
            await trio.lowlevel.checkpoint()
            return
        await self._opened.wait()
