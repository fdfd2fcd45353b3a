r"""Test helpers: a scriptable fake FreeSWITCH speaking the real inbound Event Socket protocol.

Run it in-process over memory streams or on loopback TCP; script it; break it on purpose::

    import trio
    from esl_trio.testing import open_fake_freeswitch

    async def main():
        async with open_fake_freeswitch("ClueCon") as fs:
            fs.api_handlers["status"] = lambda args: "+OK all good\n"
            stream = await fs.connect()                  # or: port = await fs.serve_tcp()
            assert await stream.receive_some() == b"Content-Type: auth/request\n\n"
            await stream.send_all(b"auth ClueCon\n\napi status\n\n")
            await fs.wait_command("api status")          # no polling sleeps
            fs.emit("CHANNEL_ANSWER", {"Unique-ID": "abc"})   # to subscribers only
            await fs.drop_all()                          # a fault: cut every connection

    trio.run(main)

What it models (ids: docs/reference/behaviours.md): the greeting and auth, userauth rights
(B-WIRE-2, B-AUTH-*); exact reply texts (B-REPLY-2); ``api``/``bgapi`` with BACKGROUND_JOB
delivered only to subscribed connections whose filters let it through (B-APIW-*, B-BGW-*);
additive ``event``, ``nixevent``, ``noevents``, CUSTOM subclasses, filters (B-SUBW-*, B-EVN-*);
plain/json/xml encodings; ``log``, ``sendevent``, ``sendmsg``, ``exit`` (B-CMD-*); replies in
order with events only between them (B-WIRE-6/7); the bounded per-connection event queue and the
listener kill after lost events (B-LIM-2).

Fault knobs: :meth:`~FakeFreeSwitch.drop_all`, :meth:`FakeConnection.drop`,
:meth:`~FakeFreeSwitch.drop_on`, :meth:`~FakeFreeSwitch.cut_next_frame`,
:attr:`~FakeFreeSwitch.reply_delay`, :meth:`~FakeFreeSwitch.hold_replies`,
:meth:`~FakeFreeSwitch.silence`, :attr:`~FakeFreeSwitch.trickle`,
:meth:`~FakeFreeSwitch.send_raw`, :meth:`~FakeFreeSwitch.send_auth_request`,
:meth:`~FakeFreeSwitch.send_disconnect_notice`, :meth:`~FakeFreeSwitch.send_oversize_frame`,
:meth:`~FakeFreeSwitch.rude_reject_next`, :meth:`~FakeFreeSwitch.reject_auth_next`,
:attr:`~FakeFreeSwitch.refuse_connections`, :attr:`~FakeFreeSwitch.bgapi_delay`,
:meth:`~FakeFreeSwitch.complete_job`, :meth:`~FakeFreeSwitch.restart`.

Outbound mode (FreeSWITCH dials your server for each call): :func:`open_fake_dialer` plays
FreeSWITCH's side, :class:`FakeOutboundCall` drives one call (DTMF, hangup) and records what your
server sent.

pytest users: installing esl-trio registers the plugin (:mod:`esl_trio.testing.pytest_plugin`)
with the ``fake_freeswitch``, ``simulated_pbx`` and ``fake_dialer`` fixtures.
"""

from ._api import ApiHandler as ApiHandler
from ._api import ApiOutput as ApiOutput
from ._connection import FakeConnection as FakeConnection
from ._dialer import DialOptions as DialOptions
from ._dialer import FakeDialer as FakeDialer
from ._dialer import FakeOutboundCall as FakeOutboundCall
from ._dialer import open_fake_dialer as open_fake_dialer
from ._events import EmittedEvent as EmittedEvent
from ._fake_server import SHUTDOWN_NOTICE as SHUTDOWN_NOTICE
from ._fake_server import FakeFreeSwitch as FakeFreeSwitch
from ._fake_server import FakeOptions as FakeOptions
from ._fake_server import open_fake_freeswitch as open_fake_freeswitch
from ._faults import CommandMatch as CommandMatch
from ._faults import DropRule as DropRule
from ._faults import ReceivedCommand as ReceivedCommand
from ._outbound_session import OutboundCommand as OutboundCommand
from ._pbx import PbxStats as PbxStats
from ._pbx import SimulatedCall as SimulatedCall
from ._pbx import SimulatedPbx as SimulatedPbx
from ._pbx import open_simulated_pbx as open_simulated_pbx
from ._replay_script import ReplayScript as ReplayScript
from ._subscriptions import EVENT_NAMES as EVENT_NAMES
from ._subscriptions import UserCredentials as UserCredentials

__all__ = [
    "EVENT_NAMES",
    "SHUTDOWN_NOTICE",
    "ApiHandler",
    "ApiOutput",
    "CommandMatch",
    "DialOptions",
    "DropRule",
    "EmittedEvent",
    "FakeConnection",
    "FakeDialer",
    "FakeFreeSwitch",
    "FakeOptions",
    "FakeOutboundCall",
    "OutboundCommand",
    "ReceivedCommand",
    "ReplayScript",
    "UserCredentials",
    "PbxStats",
    "SimulatedCall",
    "SimulatedPbx",
    "open_fake_dialer",
    "open_fake_freeswitch",
    "open_simulated_pbx",
]
