"""Outbound mode: FreeSWITCH dials us (dialplan ``socket``), one connection per call.

``open_outbound_server(handler)`` serves each call in its own scope: ``handler(call)`` gets an
:class:`OutboundCall` (a :class:`~esl_trio.Call`); leaving the handler hangs the call up.
"""

from __future__ import annotations

from ._outbound_call import OutboundCall as OutboundCall
from ._outbound_config import OutboundConfig as OutboundConfig
from ._outbound_server import OutboundHandler as OutboundHandler
from ._outbound_server import OutboundServer as OutboundServer
from ._outbound_server import OutboundStats as OutboundStats
from ._outbound_server import open_outbound_server as open_outbound_server
from ._outbound_server import serve_outbound as serve_outbound

__all__ = [
    "OutboundCall",
    "OutboundConfig",
    "OutboundHandler",
    "OutboundServer",
    "OutboundStats",
    "open_outbound_server",
    "serve_outbound",
]
