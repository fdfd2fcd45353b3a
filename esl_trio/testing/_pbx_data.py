"""What the simulated PBX copies from real FreeSWITCH: header layouts, call scripts, tables.

Derived once, by hand, from the recorded FreeSWITCH 1.11 traffic in
``tests/fixtures/freeswitch-1.11`` (``07-channel_*-event-plain.raw`` and the session transcript
``99-full-session-transcript.txt``, which holds both legs of one ``loopback/9196`` call). The
fixtures are not read at runtime, so the wheel does not need them; ``tests/testing/test_pbx.py``
checks these layouts against the recordings.

Layouts name a *key* per header; :mod:`._pbx` fills the keys from a channel's state. A key
starting with ``=`` is a literal value. As in FreeSWITCH (``switch_event_add_header_string``
skips empty strings), a header whose value renders empty is left out.
"""

from __future__ import annotations

from typing import Final, TypeAlias

Layout: TypeAlias = tuple[tuple[str, str], ...]
#: One step of a call script: (leg, running state or None, state number or None, operation).
Step: TypeAlias = tuple[str, str | None, int | None, str]

# -- Event-Calling-File / -Function / -Line-Number --------------------------------------------

#: As recorded, except the four marked: not in the recording, so named after FreeSWITCH's source
#: (``switch_channel.c``, ``switch_ivr_bridge.c``) with approximate line numbers.
CALLING: Final[dict[str, tuple[str, str, int]]] = {
    "CHANNEL_UUID": ("switch_core_session.c", "switch_core_session_set_uuid", 2056),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 302),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", 3279),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        943,
    ),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    # not recorded:
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3595),
    "CHANNEL_PROGRESS_MEDIA": (
        "switch_channel.c",
        "switch_channel_perform_mark_pre_answered",
        3700,
    ),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1737),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1860),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1001),
    "DTMF": ("switch_channel.c", "switch_channel_queue_dtmf", 527),
}

#: Events that carry the ``variable_*`` block (FreeSWITCH's extended channel data). STATE,
#: CALLSTATE and OUTGOING carry the basic block only (recorded).
WITH_VARIABLES: Final = frozenset(
    {
        "CHANNEL_UUID",
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_ANSWER",
        "CALL_UPDATE",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_PARK",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
    }
)

# -- header layouts (recorded order) --------------------------------------------------------

#: The channel block every channel event starts with (after its own leading headers).
CHANNEL_LAYOUT: Final[Layout] = (
    ("Channel-State", "running_state"),
    ("Channel-Call-State", "call_state"),
    ("Channel-State-Number", "state_number"),
    ("Channel-Name", "name"),
    ("Unique-ID", "uuid"),
    ("Call-Direction", "direction"),
    ("Presence-Call-Direction", "direction"),
    ("Channel-HIT-Dialplan", "hit_dialplan"),
    ("Channel-Call-UUID", "call_uuid"),
    ("Answer-State", "answer_state"),
    ("Hangup-Cause", "hangup_cause"),
    ("Channel-Read-Codec-Name", "=L16"),
    ("Channel-Read-Codec-Rate", "=8000"),
    ("Channel-Read-Codec-Bit-Rate", "=128000"),
    ("Channel-Write-Codec-Name", "=L16"),
    ("Channel-Write-Codec-Rate", "=8000"),
    ("Channel-Write-Codec-Bit-Rate", "=128000"),
)

#: A caller profile, prefixed ``Caller-`` (own) or ``Other-Leg-`` (the bridged peer's).
PROFILE_LAYOUT: Final[Layout] = (
    ("Direction", "direction"),
    ("Logical-Direction", "direction"),
    ("Dialplan", "=xml"),
    ("Caller-ID-Name", "caller_name"),
    ("Caller-ID-Number", "caller_number"),
    ("Orig-Caller-ID-Number", "orig_caller_number"),
    ("Callee-ID-Name", "callee_name"),
    ("Callee-ID-Number", "callee_number"),
    ("ANI", "orig_caller_number"),
    ("Destination-Number", "destination"),
    ("Unique-ID", "uuid"),
    ("Source", "=mod_loopback"),
    ("Context", "context"),
    ("Channel-Name", "name"),
    ("Profile-Index", "=1"),
    ("Profile-Created-Time", "created_us"),
    ("Channel-Created-Time", "created_us"),
    ("Channel-Answered-Time", "answer_us"),
    ("Channel-Progress-Time", "progress_us"),
    ("Channel-Progress-Media-Time", "progress_media_us"),
    ("Channel-Hangup-Time", "end_us"),
    ("Channel-Transfer-Time", "=0"),
    ("Channel-Resurrect-Time", "=0"),
    ("Channel-Bridged-Time", "bridge_us"),
    ("Channel-Last-Hold", "=0"),
    ("Channel-Hold-Accum", "=0"),
    ("Screen-Bit", "=true"),
    ("Privacy-Hide-Name", "=false"),
    ("Privacy-Hide-Number", "=false"),
)

#: ``variable_*`` of each leg when it is created, in recorded order (values are keys).
A_LEG_VARIABLES: Final[Layout] = (
    ("direction", "=outbound"),
    ("is_outbound", "=true"),
    ("session_id", "session_id"),
    ("read_codec", "=L16"),
    ("read_rate", "=8000"),
    ("write_codec", "=L16"),
    ("write_rate", "=8000"),
    ("channel_name", "name"),
    ("uuid", "uuid"),
    ("call_uuid", "uuid"),
)
B_LEG_VARIABLES: Final[Layout] = (
    ("direction", "=inbound"),
    ("uuid", "uuid"),
    ("call_uuid", "uuid"),
    ("session_id", "session_id"),
    ("channel_name", "name"),
    ("read_codec", "=L16"),
    ("read_rate", "=8000"),
    ("write_codec", "=L16"),
    ("write_rate", "=8000"),
)

# -- call scripts -----------------------------------------------------------------------------
# Legs: "a" (loopback/<dest>-a, outbound), "b" (-b, inbound), "first"/"second" (the leg that
# hangs up first, and the other). Operations are event names, with ":<arg>" for CHANNEL_CALLSTATE
# (the new call state) and CHANNEL_EXECUTE (the application; "*" is the originate's). A None
# state leaves the leg's running state or state number as it is.

#: t=0, recorded order (transcript sequence 405-419, CODEC events left out).
CREATE_SCRIPT: Final[tuple[Step, ...]] = (
    ("a", "CS_NONE", 1, "CHANNEL_OUTGOING"),
    ("a", "CS_INIT", 1, "CHANNEL_STATE"),
    ("a", "CS_INIT", 2, "CHANNEL_CREATE"),
    ("b", "CS_INIT", 1, "CHANNEL_STATE"),
    ("a", "CS_INIT", 2, "CHANNEL_ORIGINATE"),
    ("a", "CS_ROUTING", 2, "CHANNEL_STATE"),
    ("b", "CS_INIT", 2, "CHANNEL_CREATE"),
    ("b", "CS_ROUTING", 2, "CHANNEL_CALLSTATE:RINGING"),
    ("a", "CS_CONSUME_MEDIA", 7, "CHANNEL_STATE"),
    ("b", "CS_ROUTING", 2, "CHANNEL_STATE"),
    ("b", "CS_EXECUTE", 4, "CHANNEL_STATE"),
)

#: The far end rings (not recorded: the recorded call was answered at once).
PROGRESS_SCRIPT: Final[tuple[Step, ...]] = (
    ("a", None, None, "CHANNEL_PROGRESS"),
    ("a", None, None, "CHANNEL_CALLSTATE:RINGING"),
)

#: The far end answers: recorded order (sequence 422-432), then the bridge of the two legs.
ANSWER_SCRIPT: Final[tuple[Step, ...]] = (
    ("b", None, None, "CHANNEL_EXECUTE:answer"),
    ("a", None, None, "CHANNEL_ANSWER"),
    ("a", None, None, "CHANNEL_CALLSTATE:ACTIVE"),
    ("b", None, None, "CHANNEL_ANSWER"),
    ("b", None, None, "CHANNEL_CALLSTATE:ACTIVE"),
    ("b", None, None, "CHANNEL_EXECUTE_COMPLETE"),
    ("b", None, None, "CHANNEL_EXECUTE:park"),
    ("a", None, None, "CALL_UPDATE"),
    ("a", "CS_EXECUTE", 4, "CHANNEL_STATE"),
    ("a", None, None, "CHANNEL_EXECUTE:*"),
    ("a", None, None, "CHANNEL_BRIDGE"),
)

#: Recorded order (sequence 436-450); EXECUTE_COMPLETE only for a leg running an application,
#: UNBRIDGE only for a bridged call.
HANGUP_SCRIPT: Final[tuple[Step, ...]] = (
    ("first", None, 10, "CHANNEL_HANGUP"),
    ("first", None, None, "CHANNEL_EXECUTE_COMPLETE"),
    ("first", "CS_HANGUP", 10, "CHANNEL_STATE"),
    ("first", None, None, "CHANNEL_CALLSTATE:HANGUP"),
    ("second", None, 10, "CHANNEL_HANGUP"),
    ("a", None, None, "CHANNEL_UNBRIDGE"),
    ("first", "CS_REPORTING", 11, "CHANNEL_STATE"),
    ("first", None, None, "CHANNEL_HANGUP_COMPLETE"),
    ("second", None, None, "CHANNEL_EXECUTE_COMPLETE"),
    ("second", "CS_HANGUP", 10, "CHANNEL_STATE"),
    ("second", None, None, "CHANNEL_CALLSTATE:HANGUP"),
    ("second", "CS_REPORTING", 11, "CHANNEL_STATE"),
    ("first", "CS_REPORTING", 12, "CHANNEL_DESTROY"),
    ("first", "CS_DESTROY", 12, "CHANNEL_STATE"),
    ("second", "CS_REPORTING", 11, "CHANNEL_HANGUP_COMPLETE"),
    ("second", "CS_REPORTING", 12, "CHANNEL_DESTROY"),
    ("second", "CS_DESTROY", 12, "CHANNEL_STATE"),
)

#: ``switch_channel_callstate_t``.
CALL_STATE_NUMBERS: Final = {
    "DOWN": 0,
    "DIALING": 1,
    "RINGING": 2,
    "EARLY": 3,
    "ACTIVE": 4,
    "HELD": 5,
    "RING_WAIT": 6,
    "HANGUP": 7,
    "UNHELD": 8,
}

# -- CDR variables set before CHANNEL_HANGUP_COMPLETE (recorded order) ------------------------

#: ``<name>_stamp`` for the moments that happened (recorded: start, profile_start, answer, end).
STAMPS: Final = ("start", "profile_start", "answer", "bridge", "progress", "progress_media", "end")
#: ``<name>_epoch`` / ``<name>_uepoch``, 0 when the moment did not happen.
EPOCHS_BEFORE_HOLD: Final = ("start", "profile_start", "answer", "bridge", "last_hold")
EPOCHS_AFTER_HOLD: Final = ("resurrect", "progress", "progress_media", "end")
#: (seconds, milliseconds, microseconds variable names, from moment, to moment): the duration
#: groups are written seconds first, then milliseconds, then microseconds.
DURATIONS: Final = (
    ("duration", "mduration", "uduration", "start", "end"),
    ("billsec", "billmsec", "billusec", "answer", "end"),
    ("progresssec", "progressmsec", "progressusec", "start", "progress"),
    ("answersec", "answermsec", "answerusec", "start", "answer"),
    ("waitsec", "waitmsec", "waitusec", "start", "bridge"),
    ("progress_mediasec", "progress_mediamsec", "progress_mediausec", "start", "progress_media"),
    ("flow_billsec", "flow_billmsec", "flow_billusec", "start", "end"),
)

#: Q.850 (and FreeSWITCH-specific) hangup cause codes.
HANGUP_CAUSES: Final = {
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_DESTINATION": 3,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "CALL_REJECTED": 21,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "NORMAL_UNSPECIFIED": 31,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
    "ORIGINATOR_CANCEL": 487,
    "SYSTEM_SHUTDOWN": 501,
    "LOSE_RACE": 502,
    "MANAGER_REQUEST": 503,
    "ALLOTTED_TIMEOUT": 602,
    "USER_NOT_REGISTERED": 606,
}

# -- api output -------------------------------------------------------------------------------


def _columns(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


#: ``show channels``: the columns of FreeSWITCH's ``channels`` table.
CHANNEL_COLUMNS: Final = _columns(
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,"
    "application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,"
    "write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,"
    "callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,"
    "initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"
)
#: ``show calls``: FreeSWITCH's ``basic_calls`` view (a channel, its bridged peer as ``b_*``).
CALL_COLUMNS: Final = _columns(
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,presence_id,"
    "presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,"
    "hostname,sent_callee_name,sent_callee_num,b_uuid,b_direction,b_created,b_created_epoch,"
    "b_name,b_state,b_cid_name,b_cid_num,b_ip_addr,b_dest,b_presence_id,b_presence_data,"
    "b_accountcode,b_callstate,b_callee_name,b_callee_num,b_callee_direction,b_sent_callee_name,"
    "b_sent_callee_num,call_created_epoch"
)
#: The part of a ``basic_calls`` row that describes one channel (the ``b_`` side has these).
CALL_CHANNEL_COLUMNS: Final = CALL_COLUMNS[: CALL_COLUMNS.index("b_uuid")]

ORIGINATE_SYNTAX: Final = (
    "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] "
    "[<cid_num>] [<timeout_sec>]"
)
KILL_SYNTAX: Final = "<uuid> [cause]"
HUPALL_SYNTAX: Final = "<cause> [<var> <value>]"

# -- call outcomes ----------------------------------------------------------------------------

#: Destinations that fail, as (hangup cause, seconds after the originate). NO_ANSWER rings
#: for the call's ``originate_timeout`` when it has one (FreeSWITCH's default is 60 s).
OUTCOMES: Final[dict[str, tuple[str, float]]] = {
    "busy": ("USER_BUSY", 0.3),
    "no-answer": ("NO_ANSWER", 60.0),
    "no-route": ("NO_ROUTE_DESTINATION", 0.05),
    "rejected": ("CALL_REJECTED", 0.3),
}

# -- the call generator -----------------------------------------------------------------------

#: Extensions of FreeSWITCH's default dialplan (echo, music on hold, IVR demo, conference...)
#: and its directory users, the generator dials among them.
DESTINATIONS: Final = ("9196", "9195", "9664", "5000", "3000", "9198", *map(str, range(1000, 1020)))
CALLERS: Final = tuple(map(str, range(1000, 1020)))
