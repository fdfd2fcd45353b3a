r"""A small live switch on top of the fake FreeSWITCH: calls, channels, ``status``, HEARTBEAT.

:func:`open_simulated_pbx` runs a :class:`~esl_trio.testing.FakeFreeSwitch` that behaves like a
FreeSWITCH with a loopback endpoint and some traffic, for demos, CLIs and end-to-end tests::

    import trio
    from esl_trio import RuntimeConfig, open_esl_runtime
    from esl_trio.config import HeartbeatConfig, SubscriptionConfig
    from esl_trio.testing import open_simulated_pbx

    async def main():
        async with open_simulated_pbx(seed=7, calls_per_second=2.0, hold_time=3.0) as pbx:
            config = RuntimeConfig(
                host="pbx",
                heartbeat=HeartbeatConfig.disabled(),
                subscriptions=SubscriptionConfig(events=["CHANNEL_ANSWER", "CHANNEL_HANGUP"]),
            )
            async with open_esl_runtime(config, connector=pbx.connector) as rt:
                reply = await rt.api("originate", "loopback/9664 &park")  # waits for the answer
                uuid = reply.text.split()[1]                               # "+OK <uuid>"
                print((await rt.api("show", "channels as json")).text)
                await rt.api("uuid_kill", uuid)

    trio.run(main)

What it models:

* ``originate <dial string> <&app(args)|exten> [dialplan] [context] [cid_name] [cid_num]``
  (``api`` and ``bgapi``): a two-leg loopback call, ``<endpoint>/<dest>-a`` (outbound) and
  ``-b`` (inbound), with the event sequence, header sets and variables of a recorded
  FreeSWITCH 1.11 loopback call (see :mod:`._pbx_data`): create at once, CHANNEL_PROGRESS after
  0.2 s, answer after 0.5 s (the api reply ``+OK <uuid>`` comes then, as FreeSWITCH's does),
  CHANNEL_BRIDGE, hangup after the hold time, HANGUP_COMPLETE with CDR variables, DESTROY.
  ``{origination_uuid=...,origination_caller_id_number=...}`` are honoured; ``error/<cause>``
  fails like FreeSWITCH's error endpoint.
* ``uuid_kill``, ``hupall``, ``sendmsg <uuid>`` with ``call-command: hangup`` (or
  ``execute-app-name: hangup``) hang calls up with the given cause.
* ``show channels|calls [count|as json|as xml]``, ``status`` (session counts and peaks), ``uptime``,
  ``uuid_exists``; HEARTBEAT every ``heartbeat_interval`` seconds.
* Call control (:mod:`._pbx_apps`): ``sendmsg`` ``execute`` of ``answer``, ``park``
  (CHANNEL_PARK), ``playback`` (1 s), ``play_and_get_digits``, ``record``, ``set``, ``sleep``,
  ``echo`` with CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE carrying the ``Event-UUID`` as
  ``Application-UUID``; an unknown application hangs up with ``DESTINATION_OUT_OF_ORDER``.
  DTMF events (:meth:`SimulatedPbx.press`, ``uuid_send_dtmf`` to the other loopback leg),
  ``uuid_dump``, ``uuid_getvar``, ``uuid_setvar``, ``uuid_bridge`` (two calls' legs; one
  hanging up ends the other), ``uuid_transfer``.
* Failing destinations (:attr:`SimulatedPbx.outcomes`): ``busy`` (USER_BUSY), ``no-answer``
  (rings for ``originate_timeout``, then NO_ANSWER), ``no-route`` (NO_ROUTE_DESTINATION),
  ``rejected`` (CALL_REJECTED).
* A call generator: Poisson arrivals at ``calls_per_second``, destinations and callers drawn
  from the default dialplan, hold times around ``hold_time``.

Determinism: every timed action runs from one task in time order, uuids and the generator come
from ``random.Random`` seeded with ``seed``, and event dates follow trio's clock, so under
``MockClock`` the same seed gives the same events.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import math
import random
import time
import uuid
import xml.sax.saxutils
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, NoReturn

import attrs
import trio

from esl_trio._groups import nursery_layer_removed
from esl_trio.protocol import SendMsg

from . import _pbx_data as data
from ._api import ApiHandler, uptime_text
from ._fake_server import FakeFreeSwitch, open_fake_freeswitch
from ._pbx_apps import Apps
from ._pbx_model import (
    Dial,
    Header,
    Leg,
    Pairs,
    SimulatedCall,
    channel_headers,
    parse_originate,
    render,
)

__all__ = ["PbxStats", "SimulatedCall", "SimulatedPbx", "open_simulated_pbx"]

#: Seconds from originate to CHANNEL_PROGRESS, and to the answer (the far end's
#: ``ring_ready; sleep 200; pre_answer; sleep 300; answer`` of the recorded same-event call).
PROGRESS_AFTER: Final = 0.2
ANSWER_AFTER: Final = 0.5
#: Seconds between reading a ``sendmsg`` hangup and acting on it (FreeSWITCH answers ``+OK``
#: first, then the session thread picks the message up).
SENDMSG_LATENCY: Final = 0.01
_STATUS_READY: Final = (
    "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n"
)


@attrs.frozen
class PbxStats:
    """Counters of a :class:`SimulatedPbx` since it opened (restarts included).

    Attributes:
        calls_started: calls originated (api, bgapi, :meth:`SimulatedPbx.originate`, generator).
        calls_active: calls up now (answered or not).
        calls_completed: calls that hung up (a restart makes calls vanish without completing).
        events_emitted: channel events fired (HEARTBEAT, API and BACKGROUND_JOB not counted).
    """

    calls_started: int
    calls_active: int
    calls_completed: int
    events_emitted: int


# -- CDR variables -----------------------------------------------------------------------------


def _stamp(micros: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(micros // 1_000_000))


def _cdr_variables(leg: Leg) -> Pairs:
    """What FreeSWITCH sets before CHANNEL_HANGUP_COMPLETE: stamps, epochs, durations."""
    at = {"start": leg.created_us, "profile_start": leg.created_us, **leg.moments}
    pairs = [("digits_dialed", "none")]
    pairs += [(f"{name}_stamp", _stamp(at[name])) for name in data.STAMPS if at.get(name)]
    pairs += _epochs(at, data.EPOCHS_BEFORE_HOLD)
    pairs += [("hold_accum_seconds", "0"), ("hold_accum_usec", "0"), ("hold_accum_ms", "0")]
    pairs += _epochs(at, data.EPOCHS_AFTER_HOLD)
    caller_id = (
        f'"{leg.caller_name}" <{leg.caller_number}>' if leg.caller_name else leg.caller_number
    )
    pairs += [("last_app", leg.last_app), ("last_arg", leg.last_arg), ("caller_id", caller_id)]
    return [*pairs, *_durations(at), ("is_loopback", "1")]


def _epochs(at: dict[str, int], names: Iterable[str]) -> Pairs:
    """``<name>_epoch`` (seconds) and ``<name>_uepoch`` (µs), 0 for what did not happen."""
    pairs = []
    for name in names:
        micros = at.get(name, 0)
        pairs += [(f"{name}_epoch", str(micros // 1_000_000)), (f"{name}_uepoch", str(micros))]
    return pairs


def _durations(at: dict[str, int]) -> Pairs:
    """``duration``, ``billsec``... in seconds, then all in ms, then all in µs (recorded order)."""
    spans = [
        at[end] - at[start] if at.get(start) and at.get(end) else 0
        for *_, start, end in data.DURATIONS
    ]
    pairs = []
    for unit, divisor in enumerate((1_000_000, 1000, 1)):
        for names, span in zip(data.DURATIONS, spans, strict=True):
            pairs.append((names[unit], str(span // divisor)))
    return pairs


# -- hangup causes ------------------------------------------------------------------------------


def _cause(text: str, default: str) -> str:
    """A hangup cause by name or number; FreeSWITCH falls back on a default for unknown ones."""
    word = text.strip().upper()
    if word.isdigit():
        by_code = {code: name for name, code in data.HANGUP_CAUSES.items()}
        return by_code.get(int(word), default)
    return word if word in data.HANGUP_CAUSES else default


# -- the switch: legs, scripts, events ---------------------------------------------------------


class _SessionMeter:
    """What ``status`` reports about sessions: the count, its peaks, sessions per second."""

    WINDOW: Final = 300.0  # "last 5min"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.current = 0
        self.peak = 0
        self.sps_peak = 0
        self._counts: deque[tuple[float, int]] = deque()
        self._rates: deque[tuple[float, int]] = deque()
        self._created: deque[float] = deque()

    def created(self, now: float) -> None:
        self.current += 1
        self.peak = max(self.peak, self.current)
        self._created.append(now)
        rate = self.sps(now)
        self.sps_peak = max(self.sps_peak, rate)
        self._rates.append((now, rate))
        self._counts.append((now, self.current))
        self._prune(now)

    def destroyed(self, now: float) -> None:
        self.current -= 1
        self._counts.append((now, self.current))
        self._prune(now)

    def sps(self, now: float) -> int:
        """Sessions created in the last second."""
        while self._created and self._created[0] <= now - 1.0:
            self._created.popleft()
        return len(self._created)

    def recent_peaks(self, now: float) -> tuple[int, int]:
        """Peak session count and peak sessions per second over the last five minutes."""
        self._prune(now)
        count = max((c for _, c in self._counts), default=self.current)
        return max(count, self.current), max((r for _, r in self._rates), default=0)

    def _prune(self, now: float) -> None:
        """Forget samples older than the window, so a long run does not grow memory."""
        for samples in (self._counts, self._rates):
            while samples and samples[0][0] < now - self.WINDOW:
                samples.popleft()


class _Switch:
    """Plays call scripts: builds legs, moves their state, fires their events."""

    def __init__(self, fs: FakeFreeSwitch, ids: random.Random) -> None:
        self.fs = fs
        self.meter = _SessionMeter()
        self.legs: dict[str, tuple[SimulatedCall, Leg]] = {}
        self.events = 0
        self._ids = ids
        #: Called right after a leg's CHANNEL_HANGUP (running applications end with it).
        self.on_hangup: Callable[[Leg], None] = lambda leg: None
        self._session_ids = itertools.count(1)
        self._ops: dict[str, Callable[[SimulatedCall, Leg, str], None]] = {
            "CHANNEL_CREATE": self._create,
            "CHANNEL_CALLSTATE": self._callstate,
            "CHANNEL_PROGRESS": self._progress,
            "CHANNEL_ANSWER": self._answer,
            "CALL_UPDATE": self._call_update,
            "CHANNEL_EXECUTE": self._execute,
            "CHANNEL_EXECUTE_COMPLETE": self._execute_complete,
            "CHANNEL_BRIDGE": self._bridge,
            "CHANNEL_UNBRIDGE": self._unbridge,
            "CHANNEL_HANGUP": self._hangup,
            "CHANNEL_HANGUP_COMPLETE": self._hangup_complete,
            "CHANNEL_DESTROY": self._destroy,
        }

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def now_us(self) -> int:
        return round(self.fs.wall_clock() * 1_000_000)

    def reset(self) -> None:
        """A restarted FreeSWITCH: no sessions, session ids from 1."""
        self.legs.clear()
        self.meter.reset()
        self._session_ids = itertools.count(1)

    # -- building a call -------------------------------------------------------------------

    def new_call(self, dial: Dial, hold_time: float) -> SimulatedCall:
        """Both legs, created now (CHANNEL_UUID first when the originate chose the uuid)."""
        a, b = self._loopback_pair(dial)
        call = SimulatedCall(
            a.uuid, b.uuid, dial.destination, dial.caller_number, dial.application,
            dial.application_data, hold_time, trio.current_time(), a=a, b=b,
        )  # fmt: skip
        self.legs[a.uuid] = (call, a)
        self.legs[b.uuid] = (call, b)
        if dial.origination_uuid:
            a.running_state, a.state_number = "CS_NONE", 1
            self.emit("CHANNEL_UUID", a, pre=[("Old-Unique-ID", self.new_uuid())])
        return call

    def _loopback_pair(self, dial: Dial) -> tuple[Leg, Leg]:
        """The two legs of mod_loopback with their first variables (recorded order)."""
        now = self.now_us()
        base = f"{dial.endpoint}/{dial.destination}"
        a_uuid = dial.origination_uuid or self.new_uuid()
        a = self._new_leg(a_uuid, f"{base}-a", "outbound", dial, now)
        b = self._new_leg(self.new_uuid(), f"{base}-b", "inbound", dial, now)
        loopback = [("other_loopback_leg_uuid", a.uuid), ("loopback_leg", "B")]
        for leg, variables in (
            (a, render(data.A_LEG_VARIABLES, a.values())),
            (b, [*render(data.B_LEG_VARIABLES, b.values()), *dial.variables, *loopback]),
        ):
            for name, value in variables:
                leg.set_var(name, value)
        a.pending = [
            *dial.variables,
            ("originate_early_media", "true"),
            ("originate_endpoint", dial.endpoint),
            ("other_loopback_leg_uuid", b.uuid),
            ("loopback_leg", "A"),
        ]
        return a, b

    def _new_leg(self, leg_uuid: str, name: str, direction: str, dial: Dial, now: int) -> Leg:
        return Leg(
            leg_uuid, name, direction, next(self._session_ids), dial.caller_name,
            dial.caller_number, dial.callee_number, dial.destination, dial.context, now,
        )  # fmt: skip

    # -- playing scripts -------------------------------------------------------------------

    def run(
        self, call: SimulatedCall, script: Iterable[data.Step], first: Leg | None = None
    ) -> None:
        """Apply each step: move the leg's state, then perform the operation."""
        first = first or call._a
        roles = {"a": call._a, "b": call._b, "first": first}
        roles["second"] = call._b if first is call._a else call._a
        for role, running, number, operation in script:
            leg = roles[role]
            leg.running_state = running or leg.running_state
            leg.state_number = leg.state_number if number is None else number
            name, _, arg = operation.partition(":")
            self._ops.get(name, self._plain)(call, leg, arg or name)

    def emit(
        self, name: str, leg: Leg, *, pre: Iterable[Header] = (), post: Iterable[Header] = ()
    ) -> None:
        """Fire a channel event: its own leading headers, the leg's data, its trailing ones."""
        headers = [*pre, *channel_headers(leg, variables=name in data.WITH_VARIABLES), *post]
        self.fs.emit(name, headers, calling=data.CALLING[name])
        self.events += 1

    def _plain(self, call: SimulatedCall, leg: Leg, name: str) -> None:
        self.emit(name, leg)

    def _create(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        """The session exists: it counts, and sendmsg / uuid_exists find it."""
        for name, value in leg.pending:
            leg.set_var(name, value)
        self.emit("CHANNEL_CREATE", leg)
        self.fs.channels.add(leg.uuid)
        self.fs.sessions_since_startup += 1
        self.meter.created(trio.current_time())

    def _callstate(self, call: SimulatedCall, leg: Leg, state: str) -> None:
        number = str(data.CALL_STATE_NUMBERS[state])
        pre = [
            ("Original-Channel-Call-State", leg.call_state),
            ("Channel-Call-State-Number", number),
        ]
        leg.call_state = state
        self.emit("CHANNEL_CALLSTATE", leg, pre=pre)
        if state == "ACTIVE":
            leg.set_var("endpoint_disposition", "ANSWER")

    def _progress(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        leg.moments["progress"] = self.now_us()
        self.emit("CHANNEL_PROGRESS", leg)

    def _answer(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        leg.answer_state = "answered"
        leg.moments["answer"] = self.now_us()
        self.emit("CHANNEL_ANSWER", leg)
        if leg is call._a:
            call.answered_at = trio.current_time()

    def _call_update(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        leg.hit_dialplan = True
        leg.set_var("pre_transfer_caller_id_number", leg.caller_number)
        leg.set_var("channel_cid_flipped", "yes")
        leg.flip_caller_id()
        self.emit("CALL_UPDATE", leg, pre=[("Direction", "RECV")])

    def _execute(self, call: SimulatedCall, leg: Leg, app: str) -> None:
        app, app_data = (call.application, call.application_data) if app == "*" else (app, "")
        if not leg.executed:  # FreeSWITCH sets call_uuid again before the first application
            leg.executed = True
            leg.set_var("call_uuid", leg.call_uuid)
        leg.app, leg.app_data, leg.app_uuid = app, app_data, self.new_uuid()
        leg.set_var("current_application", app)
        leg.set_var("current_application_data", app_data)
        self.emit("CHANNEL_EXECUTE", leg, post=self._application(leg))
        if app == "park":  # switch_ivr_park fires it once the channel waits
            self.emit("CHANNEL_PARK", leg)

    def _application(self, leg: Leg, response: str | None = None) -> Pairs:
        pairs = [("Application", leg.app), ("Application-Data", leg.app_data)]
        if response is not None:
            pairs.append(("Application-Response", response))
        return [(n, v) for n, v in [*pairs, ("Application-UUID", leg.app_uuid)] if v]

    def _execute_complete(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        """The running application returned (skipped when the leg runs none)."""
        if not leg.app:
            return
        self.emit("CHANNEL_EXECUTE_COMPLETE", leg, post=self._application(leg, "_none_"))
        leg.last_app, leg.last_arg, leg.app, leg.app_data = leg.app, leg.app_data, "", ""

    def _bridge(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        """The legs are bridged: from now on each event names the other leg (Other-Leg-*)."""
        a, b = call._a, call._b
        b.set_var("call_uuid", a.uuid)
        a.moments["bridge"] = b.moments["bridge"] = self.now_us()
        a.peer, a.other_type, b.peer, b.other_type = b, "originatee", a, "originator"
        self.emit("CHANNEL_BRIDGE", a, pre=self._bridge_ids(call))
        for this, other in ((a, b), (b, a)):
            this.set_var("bridge_to", other.uuid)
            this.set_var("last_bridge_to", other.uuid)

    def bridge_legs(self, this: Leg, other: Leg) -> None:
        """``uuid_bridge``: two channels of different calls talk to each other."""
        this.moments["bridge"] = other.moments["bridge"] = self.now_us()
        this.peer, this.other_type, other.peer, other.other_type = (
            other,
            "originatee",
            this,
            "originator",
        )
        ids = [("Bridge-A-Unique-ID", this.uuid), ("Bridge-B-Unique-ID", other.uuid)]
        self.emit("CHANNEL_BRIDGE", this, pre=ids)
        for one, two in ((this, other), (other, this)):
            one.set_var("bridge_to", two.uuid)
            one.set_var("last_bridge_to", two.uuid)

    def _bridge_ids(self, call: SimulatedCall) -> Pairs:
        return [("Bridge-A-Unique-ID", call._a.uuid), ("Bridge-B-Unique-ID", call._b.uuid)]

    def _unbridge(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        if call._a.peer is not None:
            self.emit("CHANNEL_UNBRIDGE", call._a, pre=self._bridge_ids(call))

    def _hangup(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        cause = call.hangup_cause or "NORMAL_CLEARING"
        leg.answer_state, leg.hangup_cause = "hangup", cause
        self.emit("CHANNEL_HANGUP", leg)
        self.on_hangup(leg)
        leg.set_var("hangup_cause", cause)
        leg.set_var("hangup_cause_q850", str(data.HANGUP_CAUSES[cause]))
        leg.moments["end"] = self.now_us()

    def _hangup_complete(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        for name, value in _cdr_variables(leg):
            leg.set_var(name, value)
        self.emit("CHANNEL_HANGUP_COMPLETE", leg, pre=[("Hangup-Cause", leg.hangup_cause)])

    def _destroy(self, call: SimulatedCall, leg: Leg, _: str) -> None:
        self.emit("CHANNEL_DESTROY", leg)
        self.fs.channels.discard(leg.uuid)
        self.legs.pop(leg.uuid, None)
        self.meter.destroyed(trio.current_time())


# -- api output --------------------------------------------------------------------------------


def _channel_row(leg: Leg, hostname: str) -> dict[str, str]:
    """One row of FreeSWITCH's ``channels`` table."""
    created = leg.created_us
    pre_flip = leg.orig_caller_number
    return dict.fromkeys(data.CHANNEL_COLUMNS, "") | {
        "uuid": leg.uuid,
        "direction": leg.direction,
        "created": _stamp(created),
        "created_epoch": str(created // 1_000_000),
        "name": leg.name,
        "state": leg.running_state,
        "cid_name": leg.caller_name,
        "cid_num": leg.caller_number,
        "dest": leg.destination,
        "application": leg.app,
        "application_data": leg.app_data,
        "dialplan": "XML",
        "context": leg.context,
        **{f"{d}_codec": "L16" for d in ("read", "write")},
        **{f"{d}_rate": "8000" for d in ("read", "write")},
        **{f"{d}_bit_rate": "128000" for d in ("read", "write")},
        "hostname": hostname,
        "callstate": leg.call_state,
        "callee_name": leg.callee_name,
        "callee_num": leg.callee_number,
        "call_uuid": leg.call_uuid,
        "initial_cid_num": pre_flip,
        "initial_dest": leg.destination,
        "initial_dialplan": "XML",
        "initial_context": leg.context,
    }


def _call_row(leg: Leg, hostname: str) -> dict[str, str]:
    """One row of the ``basic_calls`` view: a channel and, when bridged, its peer as ``b_*``."""
    own = _channel_row(leg, hostname)
    row = {column: own.get(column, "") for column in data.CALL_CHANNEL_COLUMNS}
    peer = _channel_row(leg.peer, hostname) if leg.peer is not None else {}
    for column in data.CALL_CHANNEL_COLUMNS:
        if column not in ("call_uuid", "hostname"):
            row[f"b_{column}"] = peer.get(column, "")
    row["call_created_epoch"] = str(leg.moments["bridge"] // 1_000_000) if peer else ""
    return {column: row.get(column, "") for column in data.CALL_COLUMNS}


def _show_output(columns: Sequence[str], rows: list[dict[str, str]], view: str) -> str:
    """``show``'s output as ``mod_commands`` writes it: CSV with a title line and
    ``N total.`` (``count``: the total only), ``as json`` (unformatted cJSON, and FreeSWITCH's
    own spelling when empty), or ``as xml``."""
    if view == "json":
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
    if view == "xml":
        return _show_xml(columns, rows)
    if view not in ("", "count", "delim", "csv"):
        return f"-ERR Cannot find format {view}\n"
    lines = [] if view == "count" or not rows else [",".join(columns)]
    lines += [",".join(row[c] for c in columns) for row in rows] if view != "count" else []
    return "".join(f"{line}\n" for line in lines) + f"\n{len(rows)} total.\n"


def _show_xml(columns: Sequence[str], rows: list[dict[str, str]]) -> str:
    """``show ... as xml`` (the layout of ``switch_xml_toxml`` is approximated)."""
    if not rows:
        return '<result row_count="0"/>\n'
    lines = [f'<result row_count="{len(rows)}">']
    for number, row in enumerate(rows, 1):
        lines.append(f'  <row row_id="{number}">')
        lines += [f"    <{c}>{xml.sax.saxutils.escape(row[c])}</{c}>" for c in columns]
        lines.append("  </row>")
    return "\n".join([*lines, "</result>", ""])


# -- the timeline ------------------------------------------------------------------------------


class _Timeline:
    """Every timed action of the PBX, run by one task in time order (ties: scheduling order).

    One task rather than one per call keeps the event order a function of the seed alone:
    trio shuffles tasks that wake at the same instant.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._changed = trio.Event()

    def after(self, delay: float, action: Callable[[], object]) -> None:
        heapq.heappush(self._heap, (trio.current_time() + delay, next(self._order), action))
        self._changed.set()

    async def run(self) -> NoReturn:
        while True:
            self._changed = trio.Event()
            deadline = self._heap[0][0] if self._heap else math.inf
            with trio.move_on_at(deadline):
                await self._changed.wait()
            now = trio.current_time()
            while self._heap and self._heap[0][0] <= now:
                heapq.heappop(self._heap)[2]()


# -- the PBX -----------------------------------------------------------------------------------


class SimulatedPbx:
    """A fake FreeSWITCH with live calls. Create it with :func:`open_simulated_pbx`.

    It installs the api handlers ``originate``, ``uuid_kill``, ``hupall``, ``show`` (channels and
    calls; other subcommands go to the fake's handler) and ``status`` on :attr:`fs`, keeps
    ``fs.channels`` and ``fs.sessions_since_startup`` in step with its calls (so ``uuid_exists``,
    ``sendmsg`` and HEARTBEAT see them), and sets ``fs.wall_clock`` to the real time at open plus
    trio time since, so event dates and CDR durations agree with the simulated timing.

    Attributes:
        fs: the underlying :class:`FakeFreeSwitch` (``serve_tcp``, fault knobs, ``emit``...).
        connector: ``fs.connector``, for ``open_esl_runtime(..., connector=pbx.connector)``.
        calls: calls up now, by A-leg uuid.
        hold_time: default seconds from answer to hangup for originated calls.
    """

    def __init__(self, fs: FakeFreeSwitch, *, seed: int = 0, hold_time: float = 5.0) -> None:
        self.fs = fs
        self.connector = fs.connector
        self.hold_time = hold_time
        self.calls: dict[str, SimulatedCall] = {}
        #: Destinations that fail: number -> (hangup cause, seconds); see ``_pbx_data.OUTCOMES``.
        self.outcomes: dict[str, tuple[str, float]] = dict(data.OUTCOMES)
        self._rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
        self._switch = _Switch(fs, random.Random(f"esl-trio-pbx-ids-{seed}"))  # noqa: S311
        self._timeline = _Timeline()
        self._apps = Apps(
            self._switch, after=self._timeline.after, start_call=self._start_call,
            end=self._end, hangup=self.hangup,
        )  # fmt: skip
        self._switch.on_hangup = self._apps.on_hangup
        self._generation = 0
        self._started = 0
        self._completed = 0
        wall, clock = time.time(), trio.current_time()
        fs.wall_clock = lambda: wall + (trio.current_time() - clock)  # dates follow trio time
        self._fallback_show = fs.api_handlers.get("show")
        handlers: dict[str, ApiHandler] = {
            "originate": self._api_originate,
            "uuid_kill": self._api_uuid_kill,
            "hupall": self._api_hupall,
            "show": self._api_show,
            "status": self._api_status,
            "uuid_send_dtmf": self._apps.api_send_dtmf,
            "uuid_getvar": self._apps.api_getvar,
            "uuid_setvar": self._apps.api_setvar,
            "uuid_dump": self._apps.api_dump,
            "uuid_bridge": self._apps.api_bridge,
            "uuid_transfer": self._apps.api_transfer,
        }
        fs.api_handlers.update(handlers)

    @property
    def stats(self) -> PbxStats:
        """A snapshot of the counters."""
        return PbxStats(self._started, len(self.calls), self._completed, self._switch.events)

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Also listen on real TCP (see :meth:`FakeFreeSwitch.serve_tcp`); returns the port."""
        return await self.fs.serve_tcp(host, port)

    # -- calls -----------------------------------------------------------------------------

    def originate(
        self, destination: str = "9664", *, caller: str = "1000", hold_time: float | None = None
    ) -> str:
        """Start a call to ``destination`` (a number, or a dial string such as
        ``loopback/9664/default``); returns the A-leg uuid at once, before the answer."""
        url = destination if "/" in destination else f"loopback/{destination}"
        dial = parse_originate(f"{{origination_caller_id_number={caller}}}{url} &park")
        if dial is None or dial.endpoint == "error":
            raise ValueError(f"not a destination: {destination!r}")
        return self._start_call(dial, hold_time).uuid

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        """Hang up the call that ``uuid`` (either leg) belongs to, now; False: no such call."""
        found = self._switch.legs.get(uuid)
        if found is None:
            return False
        return self._end(found[0], _cause(cause, "NORMAL_CLEARING"), found[1])

    def press(self, uuid: str, digits: str) -> bool:
        """Digits arrive on channel ``uuid`` (a caller pressing keys): DTMF events there, and
        a running ``play_and_get_digits`` collects them. False: no such channel."""
        found = self._switch.legs.get(uuid)
        if found is None:
            return False
        self._apps.receive_dtmf(found[1], digits, "ENDPOINT")
        return True

    def start_call_generator(self, calls_per_second: float, hold_time: float) -> None:
        """Originate calls at random (Poisson) times, ``calls_per_second`` on average, each
        held ``hold_time`` seconds give or take half; replaces a running generator."""
        if calls_per_second <= 0 or hold_time < 0:
            raise ValueError("calls_per_second must be > 0 and hold_time >= 0")
        self._generation += 1
        self._next_arrival(self._generation, calls_per_second, hold_time)

    def stop_call_generator(self) -> None:
        """No new calls from the generator; calls already up run to their end."""
        self._generation += 1

    def _next_arrival(self, generation: int, rate: float, hold_time: float) -> None:
        arrive = functools.partial(self._arrive, generation, rate, hold_time)
        self._timeline.after(self._rng.expovariate(rate), arrive)

    def _arrive(self, generation: int, rate: float, hold_time: float) -> None:
        if generation != self._generation:
            return
        destination = self._rng.choice(data.DESTINATIONS)
        caller = self._rng.choice(data.CALLERS)
        self.originate(
            destination, caller=caller, hold_time=hold_time * self._rng.uniform(0.5, 1.5)
        )
        self._next_arrival(generation, rate, hold_time)

    def _start_call(self, dial: Dial, hold_time: float | None) -> SimulatedCall:
        """Create both legs now; progress, answer and hangup are scheduled."""
        hold = self.hold_time if hold_time is None else hold_time
        call = self._switch.new_call(dial, hold)
        self.calls[call.uuid] = call
        self._started += 1
        self._switch.run(call, data.CREATE_SCRIPT)
        outcome = self.outcomes.get(dial.destination)
        if outcome is not None:
            cause, after = outcome
            if cause == "NO_ANSWER":  # it rings until the originate gives up
                after = float(dict(dial.variables).get("originate_timeout", after))
            if after > PROGRESS_AFTER:
                self._timeline.after(PROGRESS_AFTER, functools.partial(self._progress, call))
            self._timeline.after(after, functools.partial(self._end, call, cause, call._b))
            return call
        self._timeline.after(PROGRESS_AFTER, functools.partial(self._progress, call))
        self._timeline.after(ANSWER_AFTER, functools.partial(self._answer, call))
        return call

    def _progress(self, call: SimulatedCall) -> None:
        if call.ended_at is None:
            self._switch.run(call, data.PROGRESS_SCRIPT)

    def _answer(self, call: SimulatedCall) -> None:
        if call.ended_at is not None:
            return
        self._switch.run(call, data.ANSWER_SCRIPT)
        call._settled.set()
        self._apps.on_answer(call)
        self._timeline.after(call.hold_time, functools.partial(self._hold_over, call))

    def _hold_over(self, call: SimulatedCall) -> None:
        """The hold time is up: the A leg hangs up normally (as in the recorded call)."""
        self._end(call, "NORMAL_CLEARING", None)

    def _end(self, call: SimulatedCall, cause: str, first: Leg | None) -> bool:
        """Hang the call up now, ``first`` leg first (default: A); False if already over."""
        if call.ended_at is not None:
            return False
        call.ended_at, call.hangup_cause = trio.current_time(), cause
        self._switch.run(call, data.HANGUP_SCRIPT, first)
        self.calls.pop(call.uuid, None)
        self._completed += 1
        call._settled.set()
        self._apps.on_end(call)
        return True

    # -- api commands ----------------------------------------------------------------------

    async def _api_originate(self, args: str) -> str:
        """Like FreeSWITCH: the reply waits for the answer (or the failure)."""
        dial = parse_originate(args)
        if dial is None:  # sic: no colon when there are no arguments at all
            colon = ":" if args.strip() else ""
            return f"-USAGE{colon} {data.ORIGINATE_SYNTAX}\n"
        if dial.endpoint == "error":
            return f"-ERR {_cause(dial.destination, 'NORMAL_UNSPECIFIED')}\n"
        call = self._start_call(dial, None)
        await call._settled.wait()
        if call.answered_at is None:
            return f"-ERR {call.hangup_cause}\n"
        return f"+OK {call.uuid}\n"

    def _api_uuid_kill(self, args: str) -> str:
        target, _, cause = args.strip().partition(" ")
        if not target:
            return f"-USAGE: {data.KILL_SYNTAX}\n"
        if not self.hangup(target, cause or "NORMAL_CLEARING"):
            return "-ERR No Such Channel!\n"
        return "+OK\n"

    def _api_hupall(self, args: str) -> str:
        words = args.split()
        cause = _cause(words[0] if words else "", "MANAGER_REQUEST")
        var, value = (words[1], words[2]) if len(words) >= 3 else ("", "")
        for call in list(self.calls.values()):
            legs = (call._a, call._b)
            matching = [leg for leg in legs if not var or leg.variables.get(var) == value]
            if matching:
                self._end(call, cause, matching[0])
        if not var:
            return f"+OK hangup all channels with cause {cause}\n"
        return f"+OK hangup all channels matching [{var}]=[{value}] with cause: {cause}\n"

    async def _api_show(self, args: str) -> str | bytes | None:
        words = args.split()
        what = words[0].lower() if words else ""
        if what not in ("channels", "calls"):
            return await self._show_fallback(args)
        view = words[1].lower() if len(words) > 1 else ""
        view = words[2].lower() if view == "as" and len(words) > 2 else view
        legs = sorted(
            (leg for _, leg in self._switch.legs.values()), key=lambda leg: leg.session_id
        )
        host = self.fs.hostname
        if what == "channels":
            return _show_output(
                data.CHANNEL_COLUMNS, [_channel_row(leg, host) for leg in legs], view
            )
        callers = [leg for leg in legs if leg.other_type != "originator"]
        return _show_output(data.CALL_COLUMNS, [_call_row(leg, host) for leg in callers], view)

    async def _show_fallback(self, args: str) -> str | bytes | None:
        """Other ``show`` subcommands: the fake's own handler."""
        if self._fallback_show is None:
            return f"-ERR show {args} Command not found!\n"
        result = self._fallback_show(args)
        return result if isinstance(result, str | bytes) or result is None else await result

    def _api_status(self, args: str) -> str:
        """FreeSWITCH's ``status`` text (fixture ``02``) with this PBX's session counts."""
        now = trio.current_time()
        meter = self._switch.meter
        peak_5min, sps_peak_5min = meter.recent_peaks(now)
        return (
            f"UP {uptime_text(self.fs.uptime())}\n{_STATUS_READY}"
            f"{self.fs.sessions_since_startup} session(s) since startup\n"
            f"{meter.current} session(s) - peak {meter.peak}, last 5min {peak_5min} \n"
            f"{meter.sps(now)} session(s) per Sec out of max 30, peak {meter.sps_peak}, "
            f"last 5min {sps_peak_5min} \n"
            "1000 session(s) max\nmin idle cpu 0.00/100.00\nCurrent Stack Size/Max 240K/8192K\n"
        )

    # -- sendmsg ---------------------------------------------------------------------------

    async def _watch_commands(self) -> NoReturn:
        """Act on ``sendmsg <uuid>`` hangups, which the fake itself only answers ``+OK``."""
        seen = 0
        while True:
            seen = min(seen, len(self.fs.commands))
            await self.fs._wait_for(functools.partial(self._commands_after, seen))
            for conn_id, command in self.fs.commands[seen:]:
                if isinstance(command, SendMsg):
                    self._on_sendmsg(conn_id, command)
            seen = len(self.fs.commands)

    def _commands_after(self, seen: int) -> bool | None:
        return True if len(self.fs.commands) > seen else None

    def _on_sendmsg(self, conn_id: int, command: SendMsg) -> None:
        if command.uuid is None:  # a bare (outbound-style) sendmsg names no channel here
            return
        headers = {name.lower(): value for name, value in command.headers}
        verb = headers.get("call-command", "").lower()
        app = headers.get("execute-app-name", "").lower()
        if verb == "hangup":
            cause = headers.get("hangup-cause", "")
        elif verb == "execute" and app == "hangup":
            cause = headers.get("execute-app-arg", "")
        elif verb == "execute":
            run = functools.partial(
                self._apps.execute, command.uuid, app, headers.get("execute-app-arg", ""),
                headers.get("event-uuid", ""),
            )  # fmt: skip
            self._timeline.after(
                SENDMSG_LATENCY, functools.partial(self._after_reply, conn_id, command, run)
            )
            return
        else:
            return
        act = functools.partial(self._sendmsg_hangup, conn_id, command, cause)
        self._timeline.after(SENDMSG_LATENCY, act)

    def _after_reply(self, conn_id: int, command: SendMsg, action: Callable[[], None]) -> None:
        """Run ``action`` once the connection has answered the sendmsg."""
        conn = self.fs.connection(conn_id)
        if not conn.closed and any(queued is command for queued in conn._inbox):
            retry = functools.partial(self._after_reply, conn_id, command, action)
            self._timeline.after(SENDMSG_LATENCY, retry)
            return
        action()

    def _sendmsg_hangup(self, conn_id: int, command: SendMsg, cause: str) -> None:
        """Hang up once the connection has answered the sendmsg (it may be busy before it)."""
        conn = self.fs.connection(conn_id)
        if not conn.closed and any(queued is command for queued in conn._inbox):
            act = functools.partial(self._sendmsg_hangup, conn_id, command, cause)
            self._timeline.after(SENDMSG_LATENCY, act)
            return
        if command.uuid is not None:  # a bare sendmsg names no channel on an inbound socket
            self.hangup(command.uuid, cause or "NORMAL_CLEARING")

    # -- restart ---------------------------------------------------------------------------

    async def restart(self) -> None:
        """Restart the fake FreeSWITCH (:meth:`FakeFreeSwitch.restart`); calls vanish with it,
        without events, as they would with the process. The generator keeps running."""
        self._vanish()
        await self.fs.restart()
        self._vanish()
        self._switch.reset()

    def _vanish(self) -> None:
        for call in self.calls.values():
            call.ended_at, call.hangup_cause = trio.current_time(), "SYSTEM_SHUTDOWN"
            call._settled.set()
            self.fs.channels.difference_update({call.uuid, call.b_leg_uuid})
        self.calls.clear()


@asynccontextmanager
async def open_simulated_pbx(
    *,
    seed: int = 0,
    heartbeat_interval: float | None = 20.0,
    calls_per_second: float = 0.0,
    hold_time: float = 5.0,
    password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's well-known default
    **fake_options: Any,
) -> AsyncIterator[SimulatedPbx]:
    """Run a :class:`SimulatedPbx` for the duration of the block.

    Args:
        seed: seeds the uuids and the call generator (same seed, same events under MockClock).
        heartbeat_interval: HEARTBEAT every so many seconds (FreeSWITCH: 20); None: none.
        calls_per_second: start the call generator at this rate (0: no generator).
        hold_time: seconds from answer to hangup of originated calls (generator: on average).
        password: the ``auth`` password.
        **fake_options: the other options of :func:`open_fake_freeswitch` (see ``FakeOptions``).

    Leaving the block cancels every task of the PBX and of the fake; exceptions from the block
    come out unchanged.
    """
    ids = random.Random(f"esl-trio-pbx-core-{seed}")  # noqa: S311 - a simulation
    fake_options.setdefault("core_uuid", str(uuid.UUID(int=ids.getrandbits(128), version=4)))
    async with open_fake_freeswitch(
        password, heartbeat_interval=heartbeat_interval, **fake_options
    ) as fs:
        pbx = SimulatedPbx(fs, seed=seed, hold_time=hold_time)
        with nursery_layer_removed():  # the block's own exception comes out as itself
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pbx._timeline.run)
                nursery.start_soon(pbx._watch_commands)
                if calls_per_second > 0:
                    pbx.start_call_generator(calls_per_second, hold_time)
                try:
                    yield pbx
                finally:
                    nursery.cancel_scope.cancel()
