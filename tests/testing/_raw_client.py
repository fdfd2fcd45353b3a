"""A minimal client for driving the fake FreeSWITCH from tests: bytes out, typed messages in.

It uses the sans-I/O core (``FrameParser`` + ``classify``) without ClientProtocol's conversation
checks, so tests can also send what a correct client never would (commands before auth, raw
garbage). ``test_fake_server.test_client_protocol_conversation`` runs a whole session through
``ClientProtocol`` as well.
"""

from __future__ import annotations

import trio

from esl_trio.protocol import (
    ApiReply,
    Auth,
    AuthRequest,
    Command,
    CommandReply,
    DisconnectNotice,
    Event,
    FrameParser,
    Message,
    classify,
)

READ_TIMEOUT = 10.0


class Closed(Exception):
    """The server closed the stream (clean EOF)."""


class RawClient:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.parser = FrameParser()
        self.chunks: list[bytes] = []  # every receive_some result, for chunking assertions
        self.eof = False

    async def send(self, command: Command) -> None:
        await self.stream.send_all(command.to_bytes())

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        self.chunks.append(data)
        if not data:
            self.eof = True
        self.parser.feed(data)

    async def next(self, timeout: float = READ_TIMEOUT) -> Message:
        """The next message; raises Closed at a clean EOF."""
        with trio.fail_after(timeout):
            while True:
                frame = self.parser.next_frame()
                if frame is not None:
                    return classify(frame)
                if self.eof:
                    raise Closed
                await self._fill()

    async def raw_bytes(self, count: int, timeout: float = READ_TIMEOUT) -> bytes:
        """Exactly ``count`` bytes as received (without parsing)."""
        assert not self.parser.buffered_bytes, "bytes already buffered by the parser"
        out = b""
        with trio.fail_after(timeout):
            while len(out) < count:
                data = await self.stream.receive_some(count - len(out))
                assert data, f"EOF after {out!r}"
                out += data
        return out

    async def read_all(self, timeout: float = READ_TIMEOUT) -> bytes:
        """Every byte until EOF."""
        out = b""
        with trio.fail_after(timeout):
            while data := await self.stream.receive_some(65536):
                out += data
        return out

    async def reply(self, timeout: float = READ_TIMEOUT) -> CommandReply | ApiReply:
        """The next reply, skipping events and log lines."""
        while True:
            message = await self.next(timeout)
            if isinstance(message, CommandReply | ApiReply):
                return message

    async def command(self, command: Command) -> CommandReply | ApiReply:
        await self.send(command)
        return await self.reply()

    async def text(self, command: Command | bytes) -> str:
        """Send a command (or raw command bytes); the Reply-Text of its command/reply."""
        if isinstance(command, bytes):
            await self.send_raw(command)
        else:
            await self.send(command)
        reply = await self.reply()
        assert isinstance(reply, CommandReply), reply
        return reply.text

    async def api(self, line: str) -> bytes:
        await self.send_raw(f"api {line}\n\n".encode())
        reply = await self.reply()
        assert isinstance(reply, ApiReply), reply
        return reply.body

    async def event(self, timeout: float = READ_TIMEOUT) -> Event:
        message = await self.next(timeout)
        assert isinstance(message, Event), message
        return message

    async def expect_close(self, timeout: float = READ_TIMEOUT) -> list[Message]:
        """Messages until EOF (the goodbye notice, typically)."""
        messages = []
        with trio.fail_after(timeout):
            while True:
                try:
                    messages.append(await self.next(timeout))
                except Closed:
                    return messages

    async def expect_nothing(self, seconds: float = 1.0) -> None:
        """No message during ``seconds`` (use with autojump_clock)."""
        with trio.move_on_after(seconds):
            message = await self.next(seconds + 1)
            raise AssertionError(f"unexpected message {message!r}")


async def connect(fs, password: str = "ClueCon", events: str | None = None) -> RawClient:
    """Connect, read the greeting, authenticate; optionally ``event <events>`` too."""
    client = RawClient(await fs.connect())
    assert isinstance(await client.next(), AuthRequest)
    assert await client.text(Auth(password)) == "+OK accepted"
    if events is not None:
        reply = await client.text(f"event {events}\n\n".encode())
        assert reply == f"+OK event listener enabled {events.split()[0]}", reply
    return client


def goodbye(messages: list[Message]) -> DisconnectNotice:
    assert messages, "no notice before EOF"
    notice = messages[-1]
    assert isinstance(notice, DisconnectNotice), messages
    return notice
