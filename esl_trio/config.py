"""Configuration: frozen attrs groups, validated at construction, and the connector."""

from __future__ import annotations

from ._config import BackpressureConfig as BackpressureConfig
from ._config import HeartbeatConfig as HeartbeatConfig
from ._config import Limits as Limits
from ._config import ReplayConfig as ReplayConfig
from ._config import RetryPolicy as RetryPolicy
from ._config import RuntimeConfig as RuntimeConfig
from ._config import SubscriptionConfig as SubscriptionConfig
from ._config import Timeouts as Timeouts
from ._outbound_config import OutboundConfig as OutboundConfig
from ._transport import Connector as Connector
from ._transport import tcp_connector as tcp_connector

__all__ = [
    "BackpressureConfig",
    "Connector",
    "HeartbeatConfig",
    "Limits",
    "OutboundConfig",
    "ReplayConfig",
    "RetryPolicy",
    "RuntimeConfig",
    "SubscriptionConfig",
    "Timeouts",
    "tcp_connector",
]
