"""Call control for the simulated PBX: dialplan applications, DTMF, ``uuid_*`` commands.

What FreeSWITCH does, modelled from its source and the recorded loopback call:

* ``sendmsg <uuid>`` with ``call-command: execute`` runs the application on the channel. Its
  ``Event-UUID`` header becomes the channel variable ``app_uuid`` (``switch_ivr_parse_event``),
  which ``switch_core_session_exec`` reports as ``Application-UUID`` in CHANNEL_EXECUTE and
  CHANNEL_EXECUTE_COMPLETE (without one, FreeSWITCH makes up a uuid).
* An unknown application hangs the channel up with ``DESTINATION_OUT_OF_ORDER``
  (``switch_core_session_execute_application``).
* ``uuid_send_dtmf`` sends digits *out* of a channel: with loopback they arrive on the other
  leg (a DTMF event there). :meth:`SimulatedPbx.press` makes digits arrive on a leg directly,
  like a caller pressing keys.
* ``execute bridge <dial string>`` dials a new call; once it answers the two are bridged, and
  the application completes when the far end hangs up (the caller stays up, as with
  FreeSWITCH's default ``hangup_after_bridge=false``), or at once when the far end fails
  (``originate_disposition`` is its cause).
* ``uuid_bridge a b`` bridges two channels (CHANNEL_BRIDGE on ``a``); when one hangs up, the
  other follows (nothing was set to keep it up).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Protocol

import attrs

from esl_trio.protocol import EventFormat
from esl_trio.protocol._server_frames import encode_event

from . import _pbx_data as data
from ._events import compose_headers
from ._fake_server import FakeFreeSwitch
from ._pbx_model import Dial, Header, Leg, SimulatedCall, channel_headers, parse_originate

__all__ = ["Apps", "Channels"]

#: Seconds a ``playback`` of anything takes (files are not read).
PLAYBACK_SECONDS: Final = 1.0
#: Seconds a ``record`` without a time limit runs before it stops by itself.
RECORD_SECONDS: Final = 5.0
#: Seconds between two digits of ``uuid_send_dtmf`` (FreeSWITCH's default DTMF duration).
DTMF_GAP: Final = 0.1
_ACTIVE: Final = ("first", None, None, "CHANNEL_CALLSTATE:ACTIVE")
_DIGIT = re.compile(r"[0-9A-Da-d*#]")


@attrs.define(eq=False)
class _Collect:
    """A running ``play_and_get_digits`` (or ``record``, which stops on ``#``)."""

    app: str
    data: str
    app_uuid: str
    max_digits: int
    terminators: str
    variable: str
    regexp: str
    min_digits: int
    digits: str = ""
    done: bool = False


class Channels(Protocol):
    """What the applications use of the PBX's switch (``_pbx._Switch`` is one).

    A protocol rather than an import: the switch's module builds on this one.
    """

    @property
    def fs(self) -> FakeFreeSwitch: ...

    @property
    def legs(self) -> Mapping[str, tuple[SimulatedCall, Leg]]:
        """Every live leg by its uuid, with its call."""
        ...

    def new_uuid(self) -> str: ...

    def emit(
        self, name: str, leg: Leg, *, pre: Iterable[Header] = (), post: Iterable[Header] = ()
    ) -> None:
        """Fire channel event ``name`` for ``leg``."""
        ...

    def run(
        self, call: SimulatedCall, script: Iterable[data.Step], first: Leg | None = None
    ) -> None:
        """Play the steps of a call script (``_pbx_data``)."""
        ...

    def bridge_legs(self, this: Leg, other: Leg) -> None: ...


class Apps:
    """The application runner of one :class:`SimulatedPbx`.

    Args:
        switch: the PBX's legs and their events.
        after: runs an action that many seconds from now (the PBX's one timeline).
        start_call: originates ``dial`` (hold time None: the PBX's default).
        end: hangs a call up now with a cause, the given leg first; False: already over.
        hangup: hangs up the call a leg uuid belongs to (``SimulatedPbx.hangup``).
    """

    def __init__(
        self,
        switch: Channels,
        *,
        after: Callable[[float, Callable[[], object]], None],
        start_call: Callable[[Dial, float | None], SimulatedCall],
        end: Callable[[SimulatedCall, str, Leg | None], bool],
        hangup: Callable[[str], bool],
    ) -> None:
        self._switch = switch
        self._after = after
        self._start_call = start_call
        self._end = end
        self._hangup = hangup
        self._collecting: dict[str, _Collect] = {}  # leg uuid -> its collect
        self._bridged: dict[str, str] = {}  # uuid_bridge partners, both ways
        #: ``execute bridge`` in progress: dialled call uuid -> (caller leg, data, app uuid).
        self._dialled: dict[str, tuple[Leg, str, str]] = {}
        self.handlers: dict[str, Callable[[SimulatedCall, Leg, str, str], None]] = {
            "answer": self._answer,
            "park": self._park,
            "playback": self._playback,
            "play_and_get_digits": self._play_and_get_digits,
            "record": self._record,
            "set": self._set,
            "sleep": self._sleep,
            "echo": self._forever,
            "bridge": self._bridge,
        }

    # -- executing -------------------------------------------------------------------------

    def execute(self, leg_uuid: str, app: str, arg: str, app_uuid: str) -> None:
        found = self._switch.legs.get(leg_uuid)
        if found is None:
            return
        call, leg = found
        if call.ended_at is not None:
            return
        handler = self.handlers.get(app.lower())
        if handler is None:  # switch_core_session_execute_application: "Invalid Application"
            self._end(call, "DESTINATION_OUT_OF_ORDER", leg)
            return
        handler(call, leg, arg, app_uuid or self._switch.new_uuid())

    def _start(self, leg: Leg, app: str, arg: str, app_uuid: str) -> None:
        leg.set_var("current_application", app)
        leg.set_var("current_application_data", arg)
        leg.set_var("app_uuid", app_uuid)
        self._switch.emit("CHANNEL_EXECUTE", leg, post=_app_headers(app, arg, app_uuid))

    def _complete(self, leg: Leg, app: str, arg: str, app_uuid: str, response: str) -> None:
        leg.last_app, leg.last_arg = app, arg
        if response != "_none_":  # as recorded: the variable precedes the Application block
            leg.set_var("current_application_response", response)
        post = _app_headers(app, arg, app_uuid, response)
        self._switch.emit("CHANNEL_EXECUTE_COMPLETE", leg, post=post)

    def _later(self, delay: float, leg: Leg, action: Callable[[], None]) -> None:
        def run() -> None:
            if leg.uuid in self._switch.legs:
                action()

        self._after(delay, run)

    # -- the applications ------------------------------------------------------------------

    def _answer(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        self._start(leg, "answer", arg, app_uuid)
        if leg.answer_state != "answered":
            steps = (("first", None, None, "CHANNEL_ANSWER"), _ACTIVE)
            self._switch.run(call, steps, first=leg)
        self._complete(leg, "answer", arg, app_uuid, "_none_")

    def _park(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        """Parked until something else happens: completes only at hangup (the script's)."""
        self._start(leg, "park", arg, app_uuid)
        leg.app, leg.app_data, leg.app_uuid = "park", arg, app_uuid
        self._switch.emit("CHANNEL_PARK", leg)

    def _playback(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        self._start(leg, "playback", arg, app_uuid)
        done = functools.partial(self._complete, leg, "playback", arg, app_uuid, "FILE PLAYED")
        self._later(PLAYBACK_SECONDS, leg, done)

    def _sleep(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        self._start(leg, "sleep", arg, app_uuid)
        millis = int(arg) if arg.strip().isdigit() else 0
        done = functools.partial(self._complete, leg, "sleep", arg, app_uuid, "_none_")
        self._later(millis / 1000, leg, done)

    def _forever(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        self._start(leg, "echo", arg, app_uuid)
        leg.app, leg.app_data, leg.app_uuid = "echo", arg, app_uuid

    def _set(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        self._start(leg, "set", arg, app_uuid)
        name, _, value = arg.partition("=")
        leg.set_var(name.strip(), value)
        self._complete(leg, "set", arg, app_uuid, "_none_")

    def _play_and_get_digits(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        """``min max tries timeout_ms terminators file invalid_file var regexp [digit_ms]``."""
        words = arg.split()
        self._start(leg, "play_and_get_digits", arg, app_uuid)
        if len(words) < 9:
            self._complete(leg, "play_and_get_digits", arg, app_uuid, "_none_")
            return
        low, high, tries, timeout_ms = (int(w) for w in words[:4])
        terminators = "" if words[4] == "none" else words[4]
        collect = _Collect(
            "play_and_get_digits", arg, app_uuid, high, terminators, words[7], words[8], low
        )
        self._collecting[leg.uuid] = collect
        wait = PLAYBACK_SECONDS + tries * timeout_ms / 1000
        self._later(wait, leg, functools.partial(self._finish_collect, leg, collect))

    def _record(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        """``path [time_limit_secs ...]``: stops at the limit, on ``#`` or at hangup."""
        words = arg.split()
        self._start(leg, "record", arg, app_uuid)
        limit = float(words[1]) if len(words) > 1 and words[1].isdigit() else RECORD_SECONDS
        collect = _Collect("record", arg, app_uuid, 0, "#", "", "", 0)
        self._collecting[leg.uuid] = collect
        self._later(limit, leg, functools.partial(self._finish_collect, leg, collect))

    def _bridge(self, call: SimulatedCall, leg: Leg, arg: str, app_uuid: str) -> None:
        self._start(leg, "bridge", arg, app_uuid)
        dial = parse_originate(f"{arg} &park")
        if dial is None or dial.endpoint == "error":
            cause = "NORMAL_UNSPECIFIED" if dial is None else dial.destination.upper()
            leg.set_var("originate_disposition", cause)
            self._complete(leg, "bridge", arg, app_uuid, "_none_")
            return
        far = self._start_call(dial, None)
        self._dialled[far.uuid] = (leg, arg, app_uuid)

    def on_answer(self, call: SimulatedCall) -> None:
        """A dialled far end answered: bridge it with the leg that ran ``bridge``."""
        pending = self._dialled.get(call.uuid)
        if pending is not None and pending[0].uuid in self._switch.legs:
            self._switch.bridge_legs(pending[0], call._a)

    def on_end(self, call: SimulatedCall) -> None:
        """A dialled far end is gone: the ``bridge`` application returns on the caller."""
        pending = self._dialled.pop(call.uuid, None)
        if pending is None:
            return
        leg, arg, app_uuid = pending
        if leg.uuid in self._switch.legs:
            if call.answered_at is None:
                leg.set_var("originate_disposition", call.hangup_cause or "NORMAL_UNSPECIFIED")
            self._complete(leg, "bridge", arg, app_uuid, "_none_")

    def _finish_collect(self, leg: Leg, collect: _Collect) -> None:
        if collect.done:
            return
        collect.done = True
        if self._collecting.get(leg.uuid) is collect:
            del self._collecting[leg.uuid]
        if collect.app == "play_and_get_digits":
            digits = collect.digits
            good = len(digits) >= collect.min_digits and re.fullmatch(collect.regexp, digits)
            leg.set_var(collect.variable, digits if good else "")
            if good:
                leg.set_var("read_result", "success")
        self._complete(leg, collect.app, collect.data, collect.app_uuid, "_none_")

    # -- DTMF --------------------------------------------------------------------------------

    def receive_dtmf(self, leg: Leg, digits: str, source: str) -> None:
        """Digits arriving on ``leg``, one DTMF event each, ``DTMF_GAP`` apart."""
        for index, digit in enumerate(d for d in digits if _DIGIT.fullmatch(d)):
            self._later(index * DTMF_GAP, leg, functools.partial(self._digit, leg, digit, source))

    def _digit(self, leg: Leg, digit: str, source: str) -> None:
        post = [("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", source)]
        self._switch.emit("DTMF", leg, post=post)
        collect = self._collecting.get(leg.uuid)
        if collect is None:
            return
        if digit in collect.terminators:
            self._finish_collect(leg, collect)
            return
        collect.digits += digit
        if collect.max_digits and len(collect.digits) >= collect.max_digits:
            self._finish_collect(leg, collect)

    def on_hangup(self, leg: Leg) -> None:
        """A running collect ends with the channel (its EXECUTE_COMPLETE comes first)."""
        collect = self._collecting.pop(leg.uuid, None)
        if collect is not None and not collect.done:
            collect.done = True
            self._complete(leg, collect.app, collect.data, collect.app_uuid, "_none_")
        partner = self._bridged.pop(leg.uuid, None)
        if partner is not None:
            self._bridged.pop(partner, None)
            self._after(0.0, functools.partial(self._hangup, partner))

    # -- api -------------------------------------------------------------------------------

    def api_send_dtmf(self, args: str) -> str:
        target, _, digits = args.strip().partition(" ")
        found = self._switch.legs.get(target)
        if found is None or not digits.strip():
            # mod_commands' texts: "Cannot locate session!" for an unknown uuid.
            return (
                "-ERR Cannot locate session!\n" if found is None else "-USAGE: <uuid> <dtmf_data>\n"
            )
        call, leg = found
        other = leg.peer or (call._b if leg is call._a else call._a)
        self.receive_dtmf(other, digits.strip().split("@")[0], "APP")
        return ""  # mod_commands writes nothing on success: the api answers "-ERR no reply"

    def api_getvar(self, args: str) -> str:
        target, _, name = args.strip().partition(" ")
        found = self._switch.legs.get(target)
        if found is None:
            return "-ERR No such channel!\n"
        return found[1].variables.get(name.strip(), "_undef_")

    def api_setvar(self, args: str) -> str:
        words = args.strip().split(" ", 2)
        found = self._switch.legs.get(words[0]) if words else None
        if found is None:
            return "-ERR No such channel!\n"
        if len(words) < 2:
            return "-USAGE: <uuid> <var> [value]\n"
        found[1].set_var(words[1], words[2] if len(words) > 2 else "")
        return "+OK\n"

    def api_dump(self, args: str) -> str:
        """The channel's data as ``switch_event_serialize`` prints it (CHANNEL_DATA)."""
        found = self._switch.legs.get(args.strip().split(" ")[0])
        if found is None:
            return "-ERR No such channel!\n"
        fs = self._switch.fs
        pairs = compose_headers(
            fs._identity, "CHANNEL_DATA", fs._sequence, fs.wall_clock(),
            ("switch_ivr.c", "switch_ivr_uuid_dump", 0), channel_headers(found[1], variables=True),
        )  # fmt: skip
        return encode_event(EventFormat.PLAIN, pairs).decode()

    def api_bridge(self, args: str) -> str:
        words = args.split()
        legs = self._switch.legs
        if len(words) != 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        first, second = (legs.get(w) for w in words)
        if first is None or second is None:
            return "-ERR Invalid uuid\n"
        self._switch.bridge_legs(first[1], second[1])
        self._bridged[first[1].uuid] = second[1].uuid
        self._bridged[second[1].uuid] = first[1].uuid
        return f"+OK {second[1].uuid}\n"

    def api_transfer(self, args: str) -> str:
        words = args.split()
        found = self._switch.legs.get(words[0]) if words else None
        if found is None:
            return "-ERR No such channel!\n"
        if len(words) < 2:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        leg = found[1]
        leg.destination = words[1]
        leg.context = words[3] if len(words) > 3 else leg.context
        self._switch.emit("CHANNEL_EXECUTE_COMPLETE", leg, post=_app_headers(
            leg.app or "park", leg.app_data, leg.app_uuid, "_none_"))  # fmt: skip
        leg.app = ""
        return "+OK\n"


def _app_headers(
    app: str, arg: str, app_uuid: str, response: str | None = None
) -> list[tuple[str, str]]:
    pairs = [("Application", app), ("Application-Data", arg)]
    if response is not None:
        pairs.append(("Application-Response", response))
    pairs.append(("Application-UUID", app_uuid))
    return [(name, value) for name, value in pairs if value]
