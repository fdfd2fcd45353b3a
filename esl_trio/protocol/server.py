"""Server-role helpers: the frames FreeSWITCH writes, for fakes and tests.

Public so that users can build wire bytes for their own tests without a server.
"""

from ._server_frames import GOODBYE as GOODBYE
from ._server_frames import api_response as api_response
from ._server_frames import auth_request as auth_request
from ._server_frames import command_reply as command_reply
from ._server_frames import disconnect_notice as disconnect_notice
from ._server_frames import encode_event as encode_event
from ._server_frames import event_frame as event_frame
from ._server_frames import log_data as log_data
from ._server_frames import rude_rejection as rude_rejection

__all__ = [
    "GOODBYE",
    "api_response",
    "auth_request",
    "command_reply",
    "disconnect_notice",
    "encode_event",
    "event_frame",
    "log_data",
    "rude_rejection",
]
