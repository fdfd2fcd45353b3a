"""What the fake dialer copies from a real FreeSWITCH 1.11 outbound session.

Derived once from ``tests/fixtures/freeswitch-1.11/30-outbound-connect-reply.raw`` (the reply to
``connect``: one CHANNEL_DATA header block of a ``loopback/9196`` call parked in
``socket 127.0.0.1:<port> async full``) and ``34-outbound-after-hangup-stream.raw`` (the events
and the linger notice after it). The fixtures are not read at runtime, so the wheel does not need
them; ``tests/testing/test_dialer.py`` checks the connect reply and the whole after-hangup
stream (every event's headers, in order) against the recordings.

A layout names a *key* per header, filled from the call's state by :mod:`._outbound_session`;
a key starting with ``=`` is a literal value.
"""

from __future__ import annotations

from typing import Final, TypeAlias

Layout: TypeAlias = tuple[tuple[str, str], ...]

#: ``Event-Calling-*`` of each event the session fires, as recorded in fixture ``34`` (ANSWER
#: and DESTROY: fixtures ``07-*``; DTMF and BACKGROUND_JOB: not recorded, line approximate).
CALLING: Final[dict[str, tuple[str, str, int]]] = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2029),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        943,
    ),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    "DTMF": ("switch_channel.c", "switch_channel_queue_dtmf", 519),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1557),
}

#: Variables FreeSWITCH sets before CHANNEL_HANGUP_COMPLETE (fixture ``34``), after
#: ``hangup_cause`` / ``hangup_cause_q850``: key per variable, as in :data:`CHANNEL`.
HANGUP_COMPLETE_VARIABLES: Final[Layout] = (
    ("digits_dialed", "=none"),
    ("start_stamp", "start_stamp"),
    ("profile_start_stamp", "start_stamp"),
    ("answer_stamp", "answer_stamp"),
    ("end_stamp", "end_stamp"),
    ("start_epoch", "start_epoch"),
    ("start_uepoch", "start_uepoch"),
    ("profile_start_epoch", "start_epoch"),
    ("profile_start_uepoch", "start_uepoch"),
    ("answer_epoch", "answer_epoch"),
    ("answer_uepoch", "answer_uepoch"),
    ("bridge_epoch", "=0"),
    ("bridge_uepoch", "=0"),
    ("last_hold_epoch", "=0"),
    ("last_hold_uepoch", "=0"),
    ("hold_accum_seconds", "=0"),
    ("hold_accum_usec", "=0"),
    ("hold_accum_ms", "=0"),
    ("resurrect_epoch", "=0"),
    ("resurrect_uepoch", "=0"),
    ("progress_epoch", "=0"),
    ("progress_uepoch", "=0"),
    ("progress_media_epoch", "=0"),
    ("progress_media_uepoch", "=0"),
    ("end_epoch", "end_epoch"),
    ("end_uepoch", "end_uepoch"),
    ("last_app", "last_app"),
    ("last_arg", "last_arg"),
    ("caller_id", '="Outbound Call" <default>'),
    ("duration", "duration"),
    ("billsec", "billsec"),
    ("progresssec", "=0"),
    ("answersec", "answersec"),
    ("waitsec", "=0"),
    ("progress_mediasec", "=0"),
    ("flow_billsec", "duration"),
    ("mduration", "mduration"),
    ("billmsec", "billmsec"),
    ("progressmsec", "=0"),
    ("answermsec", "answermsec"),
    ("waitmsec", "=0"),
    ("progress_mediamsec", "=0"),
    ("flow_billmsec", "mduration"),
    ("uduration", "uduration"),
    ("billusec", "billusec"),
    ("progressusec", "=0"),
    ("answerusec", "answerusec"),
    ("waitusec", "=0"),
    ("progress_mediausec", "=0"),
    ("flow_billusec", "uduration"),
    ("is_loopback", "=1"),
)

#: The headers after the connect reply's channel data (fixture ``30``); ``Reply-Text`` is
#: ``+OK\n``, percent-encoded like every value of the block (``%2BOK%0A``).
CONNECT_TAIL: Final[Layout] = (
    ("Content-Type", "=command/reply"),
    ("Reply-Text", "=+OK\n"),
    ("Socket-Mode", "mode"),
    ("Control", "control"),
)

#: The caller profile as only the ``connect`` reply has it (``Channel`` prefix of
#: ``switch_caller_profile_event_set_data``), before :data:`CHANNEL`; events start at CHANNEL.
PROFILE: Final[Layout] = (
    ("Channel-Direction", "=outbound"),
    ("Channel-Logical-Direction", "=outbound"),
    ("Channel-Dialplan", "=xml"),
    ("Channel-Caller-ID-Name", "=Outbound Call"),
    ("Channel-Caller-ID-Number", "=default"),
    ("Channel-Orig-Caller-ID-Number", "=0000000000"),
    ("Channel-Callee-ID-Number", "=0000000000"),
    ("Channel-ANI", "=0000000000"),
    ("Channel-Destination-Number", "=9196"),
    ("Channel-Unique-ID", "uuid"),
    ("Channel-Source", "=mod_loopback"),
    ("Channel-Context", "=default"),
    ("Channel-Channel-Name", "=loopback/9196-a"),
    ("Channel-Profile-Index", "=1"),
    ("Channel-Profile-Created-Time", "created"),
    ("Channel-Channel-Created-Time", "created"),
    ("Channel-Channel-Answered-Time", "answered"),
    ("Channel-Channel-Progress-Time", "=0"),
    ("Channel-Channel-Progress-Media-Time", "=0"),
    ("Channel-Channel-Hangup-Time", "=0"),
    ("Channel-Channel-Transfer-Time", "=0"),
    ("Channel-Channel-Resurrect-Time", "=0"),
    ("Channel-Channel-Bridged-Time", "=0"),
    ("Channel-Channel-Last-Hold", "=0"),
    ("Channel-Channel-Hold-Accum", "=0"),
    ("Channel-Screen-Bit", "=true"),
    ("Channel-Privacy-Hide-Name", "=false"),
    ("Channel-Privacy-Hide-Number", "=false"),
)

#: The channel's headers of every event (``switch_channel_event_set_data``), in recorded order
#: after the 13 standard ones; once the channel is hung up ``Hangup-Cause`` follows
#: ``Answer-State`` (fixture ``34``).
CHANNEL: Final[Layout] = (
    ("Channel-State", "state"),
    ("Channel-Call-State", "call_state"),
    ("Channel-State-Number", "state_number"),
    ("Channel-Name", "=loopback/9196-a"),
    ("Unique-ID", "uuid"),
    ("Call-Direction", "=outbound"),
    ("Presence-Call-Direction", "=outbound"),
    ("Channel-HIT-Dialplan", "=true"),
    ("Channel-Call-UUID", "uuid"),
    ("Answer-State", "answer_state"),
    ("Channel-Read-Codec-Name", "=L16"),
    ("Channel-Read-Codec-Rate", "=8000"),
    ("Channel-Read-Codec-Bit-Rate", "=128000"),
    ("Channel-Write-Codec-Name", "=L16"),
    ("Channel-Write-Codec-Rate", "=8000"),
    ("Channel-Write-Codec-Bit-Rate", "=128000"),
    ("Caller-Direction", "=outbound"),
    ("Caller-Logical-Direction", "=outbound"),
    ("Caller-Dialplan", "=xml"),
    ("Caller-Caller-ID-Name", "=Outbound Call"),
    ("Caller-Caller-ID-Number", "=default"),
    ("Caller-Orig-Caller-ID-Number", "=0000000000"),
    ("Caller-Callee-ID-Number", "=0000000000"),
    ("Caller-ANI", "=0000000000"),
    ("Caller-Destination-Number", "=9196"),
    ("Caller-Unique-ID", "uuid"),
    ("Caller-Source", "=mod_loopback"),
    ("Caller-Context", "=default"),
    ("Caller-Channel-Name", "=loopback/9196-a"),
    ("Caller-Profile-Index", "=1"),
    ("Caller-Profile-Created-Time", "created"),
    ("Caller-Channel-Created-Time", "created"),
    ("Caller-Channel-Answered-Time", "answered"),
    ("Caller-Channel-Progress-Time", "=0"),
    ("Caller-Channel-Progress-Media-Time", "=0"),
    ("Caller-Channel-Hangup-Time", "hangup_time"),
    ("Caller-Channel-Transfer-Time", "=0"),
    ("Caller-Channel-Resurrect-Time", "=0"),
    ("Caller-Channel-Bridged-Time", "=0"),
    ("Caller-Channel-Last-Hold", "=0"),
    ("Caller-Channel-Hold-Accum", "=0"),
    ("Caller-Screen-Bit", "=true"),
    ("Caller-Privacy-Hide-Name", "=false"),
    ("Caller-Privacy-Hide-Number", "=false"),
)

#: The channel variables at connect time, in recorded order (``variable_<name>`` headers after
#: :data:`CHANNEL`; CHANNEL_STATE events carry none). FreeSWITCH appends a variable that is set
#: again at the end and drops one set to nothing, so the order changes as applications run.
VARIABLES: Final[Layout] = (
    ("variable_direction", "=outbound"),
    ("variable_is_outbound", "=true"),
    ("variable_uuid", "uuid"),
    ("variable_session_id", "=4"),
    ("variable_read_codec", "=L16"),
    ("variable_read_rate", "=8000"),
    ("variable_write_codec", "=L16"),
    ("variable_write_rate", "=8000"),
    ("variable_channel_name", "=loopback/9196-a"),
    ("variable_originate_early_media", "=true"),
    ("variable_originate_endpoint", "=loopback"),
    ("variable_other_loopback_leg_uuid", "other_uuid"),
    ("variable_loopback_leg", "=A"),
    ("variable_endpoint_disposition", "=ANSWER"),
    ("variable_pre_transfer_caller_id_number", "=0000000000"),
    ("variable_channel_cid_flipped", "=yes"),
    ("variable_call_uuid", "uuid"),
    ("variable_current_application_data", "socket_data"),
    ("variable_current_application", "=socket"),
    ("variable_socket_host", "socket_host"),
)
