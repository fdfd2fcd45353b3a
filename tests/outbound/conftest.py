"""An outbound server and the fake dialer that plays FreeSWITCH's side, over memory streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs

from esl_trio import OutboundCall, open_outbound_server
from esl_trio.outbound import OutboundServer
from esl_trio.testing import FakeDialer, FakeOutboundCall, open_fake_dialer

Handler = Callable[[OutboundCall], Awaitable[object]]


@attrs.define
class Bench:
    """A dialer wired to a server that listens on nothing: each dial is one memory stream."""

    dialer: FakeDialer
    server: OutboundServer

    async def dial(self, **options: Any) -> FakeOutboundCall:
        call, stream = await self.dialer.dial_memory(**options)
        self.server.serve_stream(stream)
        return call


@asynccontextmanager
async def serving(handler: Handler, **options: Any) -> AsyncIterator[Bench]:
    async with (
        open_fake_dialer() as dialer,
        open_outbound_server(handler, listen=False, **options) as server,
    ):
        yield Bench(dialer, server)
