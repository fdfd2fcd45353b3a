"""What ``rt.health()`` and ``rt.state_changes()`` report: snapshots, states, transitions."""

from __future__ import annotations

from ._health import ErrorRecord as ErrorRecord
from ._health import HealthSnapshot as HealthSnapshot
from ._health import Permissions as Permissions
from ._health import ReconnectStatus as ReconnectStatus
from ._receivers import ReceiverStatistics as ReceiverStatistics
from ._state import ReconnectPhase as ReconnectPhase
from ._state import RuntimeState as RuntimeState
from ._state import StateChange as StateChange
from ._state import StopReason as StopReason
from ._state import Transition as Transition

__all__ = [
    "ErrorRecord",
    "HealthSnapshot",
    "Permissions",
    "ReceiverStatistics",
    "ReconnectPhase",
    "ReconnectStatus",
    "RuntimeState",
    "StateChange",
    "StopReason",
    "Transition",
]
