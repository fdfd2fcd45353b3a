"""The simulated PBX's values: channels (legs), parsed dial strings, calls.

The lowest layer of the simulated PBX: :mod:`._pbx` (the switch and its api) and
:mod:`._pbx_apps` (the dialplan applications) both build on it, and it imports neither, so the
two stay free of an import circle. :class:`SimulatedCall` is re-exported from
:mod:`esl_trio.testing`.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

import attrs
import trio

from . import _pbx_data as data

__all__ = [
    "Dial",
    "Header",
    "Leg",
    "Pairs",
    "SimulatedCall",
    "channel_headers",
    "parse_originate",
    "render",
]

Header: TypeAlias = tuple[str, str]
Pairs: TypeAlias = list[Header]

_DEFAULT_CALLER: Final = "0000000000"  # SWITCH_DEFAULT_CLID_NUMBER
_URL = re.compile(r"^(?:\{(?P<vars>[^}]*)\})?(?P<endpoint>[\w.-]+)/(?P<rest>\S+)$")
_ORIGINATE = re.compile(
    r"^(?P<url>\S+)\s+(?:&(?P<app>[\w:]+)(?:\((?P<data>.*?)\))?|(?P<exten>\S+))(?:\s+(?P<more>.*))?$"
)


# -- the channel model -------------------------------------------------------------------------


@attrs.define(eq=False)
class Leg:
    """One channel: everything its events and its ``show channels`` row report."""

    uuid: str
    name: str
    direction: str
    session_id: int
    caller_name: str
    caller_number: str
    callee_number: str
    destination: str
    context: str
    created_us: int
    callee_name: str = "Outbound Call"
    running_state: str = "CS_NEW"
    state_number: int = 0
    call_state: str = "DOWN"
    answer_state: str = "ringing"
    hit_dialplan: bool = False
    hangup_cause: str = ""
    #: µs timestamps of what happened: answer, progress, bridge, end.
    moments: dict[str, int] = attrs.Factory(dict)
    variables: dict[str, str] = attrs.Factory(dict)
    peer: Leg | None = None
    other_type: str = ""
    app: str = ""
    app_data: str = ""
    app_uuid: str = ""
    last_app: str = ""
    last_arg: str = ""
    executed: bool = False
    #: Variables the leg gets when CHANNEL_CREATE fires (the A leg's originate variables).
    pending: Pairs = attrs.Factory(list)

    @property
    def orig_caller_number(self) -> str:
        """The caller before any flip (``Caller-Orig-Caller-ID-Number``, ``ANI``)."""
        return self.variables.get("pre_transfer_caller_id_number", self.caller_number)

    @property
    def call_uuid(self) -> str:
        return self.variables.get("call_uuid", self.uuid)

    def set_var(self, name: str, value: str) -> None:
        """Set a channel variable as FreeSWITCH does: a new value moves it to the end."""
        self.variables.pop(name, None)
        if value:
            self.variables[name] = value

    def flip_caller_id(self) -> None:
        """On answer the outbound leg shows the far end as caller (``channel_cid_flipped``)."""
        self.caller_name, self.callee_name = self.callee_name, self.caller_name
        self.caller_number, self.callee_number = self.callee_number, self.caller_number

    def values(self) -> dict[str, str]:
        """The keys the layouts of :mod:`._pbx_data` name."""
        moments = self.moments
        return {
            "running_state": self.running_state,
            "call_state": self.call_state,
            "state_number": str(self.state_number),
            "name": self.name,
            "uuid": self.uuid,
            "direction": self.direction,
            "hit_dialplan": "true" if self.hit_dialplan else "false",
            "call_uuid": self.call_uuid,
            "answer_state": self.answer_state,
            "hangup_cause": self.hangup_cause,
            "caller_name": self.caller_name,
            "caller_number": self.caller_number,
            "orig_caller_number": self.orig_caller_number,
            "callee_name": self.callee_name,
            "callee_number": self.callee_number,
            "destination": self.destination,
            "context": self.context,
            "session_id": str(self.session_id),
            "created_us": str(self.created_us),
            **{f"{m}_us": str(moments.get(m, 0)) for m in ("answer", "progress", "bridge")},
            "progress_media_us": str(moments.get("progress_media", 0)),
            "end_us": str(moments.get("end", 0)),
        }


def render(layout: data.Layout, values: dict[str, str], prefix: str = "") -> Pairs:
    """A layout filled in; empty values are left out, as FreeSWITCH leaves them out."""
    pairs = []
    for header, key in layout:
        value = key[1:] if key.startswith("=") else values[key]
        if value:
            pairs.append((prefix + header, value))
    return pairs


def channel_headers(leg: Leg, *, variables: bool) -> Pairs:
    """Channel block, caller profile, the bridged peer's profile, then the variables."""
    values = leg.values()
    pairs = render(data.CHANNEL_LAYOUT, values) + render(data.PROFILE_LAYOUT, values, "Caller-")
    if leg.peer is not None:
        pairs.append(("Other-Type", leg.other_type))
        pairs += render(data.PROFILE_LAYOUT, leg.peer.values(), "Other-Leg-")
    if variables:
        pairs += [(f"variable_{name}", value) for name, value in leg.variables.items()]
    return pairs


# -- calls -------------------------------------------------------------------------------------


@attrs.frozen
class Dial:
    """A parsed originate: where to, from whom, what the A leg runs."""

    endpoint: str
    destination: str
    context: str
    callee_number: str
    variables: tuple[tuple[str, str], ...]
    application: str
    application_data: str
    caller_name: str
    caller_number: str

    @property
    def origination_uuid(self) -> str | None:
        return dict(self.variables).get("origination_uuid") or None


def parse_originate(args: str) -> Dial | None:
    """``originate``'s arguments, or None where FreeSWITCH answers with its usage line."""
    match = _ORIGINATE.match(args.strip())
    url = _URL.match(match["url"]) if match else None
    if match is None or url is None:
        return None
    pairs = (item.partition("=") for item in (url["vars"] or "").split(",") if "=" in item)
    variables = tuple((name.strip(), value) for name, _, value in pairs)
    given = dict(variables)
    path = url["rest"].split("/")
    more = (match["more"] or "").split()  # dialplan, context, cid_name, cid_num, timeout
    return Dial(
        endpoint=url["endpoint"],
        destination=path[0],
        context=path[1] if len(path) > 1 else "default",
        callee_number=path[-1],
        variables=variables,
        application=match["app"] or "park",
        application_data=match["data"] or "",
        caller_name=given.get("origination_caller_id_name", more[2] if len(more) > 2 else ""),
        caller_number=given.get("origination_caller_id_number")
        or (more[3] if len(more) > 3 else _DEFAULT_CALLER),
    )


@attrs.define(eq=False)
class SimulatedCall:
    """A call the PBX is playing: the A leg (outbound, the originate's) and the B leg (inbound).

    Attributes:
        uuid: the A leg's ``Unique-ID``: what ``originate`` answers and the key of
            :attr:`SimulatedPbx.calls`.
        b_leg_uuid: the B leg's ``Unique-ID``.
        destination: the dialled number, e.g. ``"9664"``.
        caller: the caller id number.
        application: what the A leg runs once answered (``park`` by default).
        hold_time: seconds from answer to hangup (``math.inf``: until killed).
        created_at, answered_at, ended_at: trio times; None until it happens.
        hangup_cause: why it ended (None while up).
    """

    uuid: str
    b_leg_uuid: str
    destination: str
    caller: str
    application: str
    application_data: str
    hold_time: float
    created_at: float
    _a: Leg = attrs.field(repr=False)
    _b: Leg = attrs.field(repr=False)
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: str | None = None
    _settled: trio.Event = attrs.field(factory=trio.Event, repr=False, init=False)

    @property
    def state(self) -> str:
        """The A leg's ``Channel-Call-State``: DOWN, RINGING, ACTIVE or HANGUP."""
        return self._a.call_state

    @property
    def channel_names(self) -> tuple[str, str]:
        """``Channel-Name`` of the A and B legs (``loopback/9664-a``, ``loopback/9664-b``)."""
        return self._a.name, self._b.name
