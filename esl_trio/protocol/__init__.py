"""The sans-I/O core of esl-trio: bytes in, typed messages out; typed commands to bytes.

Nothing here imports trio or touches a socket (a test enforces it), in the spirit of h11:

* :class:`ClientProtocol` — the client side of one connection: ``receive_data(bytes)``,
  ``next_event()`` → a message, :data:`NEED_DATA` or :data:`CONNECTION_CLOSED`;
  ``send(command)`` → bytes.
* :class:`FrameParser` — framing alone; :func:`classify` — frame → typed message.
* Messages: :class:`AuthRequest`, :class:`CommandReply` (and :class:`ChannelData`, the
  outbound ``connect`` reply), :class:`ApiReply`, :class:`Event`
  (and its families), :class:`DisconnectNotice`, :class:`RudeRejection`, :class:`LogLine`,
  :class:`UnknownFrame`.
* Commands: :class:`Auth`, :class:`UserAuth`, :class:`Api`, :class:`BgApi`,
  :class:`EventSubscribe`, :class:`NixEvent`, … — validated at construction.
* Server role (for fakes and tests): :class:`CommandReader`, :func:`parse_command` and the
  frame builders in :mod:`esl_trio.protocol.server`.
"""

from ._client import ClientProtocol as ClientProtocol
from ._client import ClientState as ClientState
from ._command_reader import CommandReader as CommandReader
from ._command_reader import InvalidCommand as InvalidCommand
from ._command_reader import UnknownCommand as UnknownCommand
from ._command_reader import parse_command as parse_command
from ._commands import FREESWITCH_COMMAND_SPLIT_BYTES as FREESWITCH_COMMAND_SPLIT_BYTES
from ._commands import MAX_BODY_BYTES as MAX_BODY_BYTES
from ._commands import MAX_COMMAND_HEADER_BYTES as MAX_COMMAND_HEADER_BYTES
from ._commands import Api as Api
from ._commands import Auth as Auth
from ._commands import BgApi as BgApi
from ._commands import Command as Command
from ._commands import Connect as Connect
from ._commands import DivertEvents as DivertEvents
from ._commands import EventSubscribe as EventSubscribe
from ._commands import Exit as Exit
from ._commands import FilterAdd as FilterAdd
from ._commands import FilterDelete as FilterDelete
from ._commands import GetVar as GetVar
from ._commands import Linger as Linger
from ._commands import Log as Log
from ._commands import MyEvents as MyEvents
from ._commands import NixEvent as NixEvent
from ._commands import NoEvents as NoEvents
from ._commands import NoLinger as NoLinger
from ._commands import NoLog as NoLog
from ._commands import ReplyKind as ReplyKind
from ._commands import Resume as Resume
from ._commands import SendEvent as SendEvent
from ._commands import SendMsg as SendMsg
from ._commands import UserAuth as UserAuth
from ._errors import EslError as EslError
from ._errors import EventDecodeError as EventDecodeError
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import ProtocolError as ProtocolError
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import TruncatedFrameError as TruncatedFrameError
from ._events import BackgroundJobEvent as BackgroundJobEvent
from ._events import ChannelEvent as ChannelEvent
from ._events import CustomEvent as CustomEvent
from ._events import Event as Event
from ._events import EventEnvelope as EventEnvelope
from ._events import HeartbeatEvent as HeartbeatEvent
from ._events import make_event as make_event
from ._formats import EventFormat as EventFormat
from ._frames import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES
from ._frames import DEFAULT_MAX_HEADER_BYTES as DEFAULT_MAX_HEADER_BYTES
from ._frames import Frame as Frame
from ._frames import FrameParser as FrameParser
from ._headers import Headers as Headers
from ._messages import ApiReply as ApiReply
from ._messages import AuthRequest as AuthRequest
from ._messages import ChannelData as ChannelData
from ._messages import CommandReply as CommandReply
from ._messages import DisconnectNotice as DisconnectNotice
from ._messages import LogLine as LogLine
from ._messages import Message as Message
from ._messages import RudeRejection as RudeRejection
from ._messages import UnknownFrame as UnknownFrame
from ._messages import classify as classify
from ._sentinels import CONNECTION_CLOSED as CONNECTION_CLOSED
from ._sentinels import NEED_DATA as NEED_DATA
from ._sentinels import Sentinel as Sentinel

__all__ = [
    "CONNECTION_CLOSED",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "FREESWITCH_COMMAND_SPLIT_BYTES",
    "MAX_BODY_BYTES",
    "MAX_COMMAND_HEADER_BYTES",
    "NEED_DATA",
    "Api",
    "ApiReply",
    "Auth",
    "AuthRequest",
    "BackgroundJobEvent",
    "BgApi",
    "ChannelData",
    "ChannelEvent",
    "ClientProtocol",
    "ClientState",
    "Command",
    "CommandReader",
    "CommandReply",
    "Connect",
    "CustomEvent",
    "DisconnectNotice",
    "DivertEvents",
    "EslError",
    "Event",
    "EventDecodeError",
    "EventEnvelope",
    "EventFormat",
    "EventSubscribe",
    "Exit",
    "FilterAdd",
    "FilterDelete",
    "Frame",
    "FrameParser",
    "GetVar",
    "Headers",
    "HeartbeatEvent",
    "InvalidCommand",
    "Linger",
    "LocalProtocolError",
    "Log",
    "LogLine",
    "Message",
    "MyEvents",
    "NixEvent",
    "NoEvents",
    "NoLinger",
    "NoLog",
    "ProtocolError",
    "RemoteProtocolError",
    "ReplyKind",
    "Resume",
    "RudeRejection",
    "SendEvent",
    "SendMsg",
    "Sentinel",
    "TruncatedFrameError",
    "UnknownCommand",
    "UnknownFrame",
    "UserAuth",
    "classify",
    "make_event",
    "parse_command",
]
