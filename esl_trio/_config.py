"""Configuration: frozen attrs classes, grouped, validated at construction.

Change a value with :func:`attrs.evolve`::

    config = attrs.evolve(config, retry=RetryPolicy.disabled())

The password is never part of ``repr()``, health, logs or replay captures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import attrs

from ._event_names import check_event_names
from .protocol import EventFormat
from .protocol._frames import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES

if TYPE_CHECKING:
    import random

    from ._replay import ReplaySink

__all__ = [
    "BackpressureConfig",
    "HeartbeatConfig",
    "Limits",
    "ReplayConfig",
    "RetryPolicy",
    "RuntimeConfig",
    "SubscriptionConfig",
    "Timeouts",
]


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Capped exponential backoff between reconnect attempts (B-CFG-1…3).

    ``delay(n) = min(initial_delay * multiplier ** (n - 1), max_delay)`` for attempt ``n`` ≥ 1,
    then scaled by a random factor in ``[1 - jitter, 1]`` when ``jitter`` > 0 (stamina's
    "full jitter" would make the first retry arbitrarily fast; a bounded jitter keeps it sane).
    ``max_attempts`` = 0 means retry forever.
    """

    enabled: bool = True
    initial_delay: float = attrs.field(default=1.0, validator=_positive)
    multiplier: float = 2.0
    max_delay: float = attrs.field(default=60.0, validator=_positive)
    max_attempts: int = 0
    jitter: float = 0.0
    #: Whether a failure of the *first* connect is retried (False: it raises at once).
    retry_first_connect: bool = False

    def __attrs_post_init__(self) -> None:
        if self.multiplier < 1.0:
            raise ValueError(f"multiplier must be >= 1.0, got {self.multiplier!r}")
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay must be >= initial_delay")
        if self.max_attempts < 0:
            raise ValueError("max_attempts must be >= 0 (0 = unlimited)")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """Never reconnect: the first loss ends the runtime."""
        return cls(enabled=False)

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` failed attempts leave no retry."""
        return not self.enabled or (self.max_attempts > 0 and attempts >= self.max_attempts)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based)."""
        if attempt <= 0 or not self.enabled:
            return 0.0
        exponent = min(attempt - 1, 1000)  # no float overflow for absurd attempt counts
        base = min(self.initial_delay * self.multiplier**exponent, self.max_delay)
        if self.jitter and rng is not None:
            base *= 1.0 - self.jitter * rng.random()
        return base


@attrs.frozen(kw_only=True)
class HeartbeatConfig:
    """Liveness: any inbound frame is activity (B-HB-*).

    After ``interval`` seconds of silence the connection is "not live" and one probe
    (``api status``) is sent when no command is outstanding; after another ``interval`` it is
    declared dead and the reconnect path is taken (never the drain path).
    """

    enabled: bool = True
    interval: float = attrs.field(default=30.0, validator=_positive)
    #: Also subscribe to FreeSWITCH's HEARTBEAT event (every 20 s by default) as a free source
    #: of inbound activity.
    subscribe_heartbeat: bool = False

    @classmethod
    def disabled(cls) -> HeartbeatConfig:
        return cls(enabled=False)


@attrs.frozen(kw_only=True)
class Timeouts:
    """The runtime's own deadlines, in seconds of trio time (B-CFG-6, G-17 avoided)."""

    #: TCP connect + greeting + authentication.
    handshake: float = attrs.field(default=10.0, validator=_positive)
    #: One ``api`` reply. Expiry means the socket is stuck: the connection is recycled.
    api: float = attrs.field(default=30.0, validator=_positive)
    #: Acceptance of ``bgapi`` and replies to other commands (subscriptions, filters, …).
    command: float = attrs.field(default=10.0, validator=_positive)
    #: A ``bgapi`` job's completion, counted from its acceptance; survives reconnects.
    bgapi_completion: float = attrs.field(default=120.0, validator=_positive)
    #: Re-applying subscriptions and filters after (re)authentication.
    restore: float = attrs.field(default=10.0, validator=_positive)
    #: One socket write (a peer that stops reading must not stall us forever).
    write: float = attrs.field(default=10.0, validator=_positive)
    #: Sending ``exit`` at the end of the drain (best effort: the socket is closed anyway).
    #: Covers waiting for a command still being written; the write itself is bounded by
    #: :attr:`write`.
    exit: float = attrs.field(default=1.0, validator=_positive)


@attrs.frozen(kw_only=True)
class BackpressureConfig:
    """Bounds on accepted work (B-BP-*) and the shutdown drain (B-DRAIN-*)."""

    #: Queued + in-flight commands + pending bgapi jobs; above it new work is refused at once.
    max_inflight: int = attrs.field(default=1000, validator=_at_least_one)
    #: How long leaving the runtime waits for accepted work to settle.
    drain_timeout: float = attrs.field(default=5.0, validator=_positive)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("give event names as a list or tuple, not a single string")
    return tuple(value)


def _event_names(value: Iterable[str]) -> tuple[str, ...]:
    """Upper-cased and checked now: a misspelt name would otherwise subscribe to nothing."""
    return check_event_names(_names(value), allow_all=True)


def _filters(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = value.items() if isinstance(value, Mapping) else value
    return tuple((str(h), str(v)) for h, v in pairs)


@attrs.frozen(kw_only=True)
class SubscriptionConfig:
    """The desired subscription state the runtime starts from (and restores after reconnects).

    BACKGROUND_JOB is always added (bgapi completions need it, B-BG-11 [REC]) and kept
    reachable past user filters.
    """

    #: Event names, checked against FreeSWITCH's own list (``UnknownEventNameError``).
    events: tuple[str, ...] = attrs.field(default=(), converter=_event_names)
    all: bool = False
    custom: tuple[str, ...] = attrs.field(default=(), converter=_names)
    filters: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_filters)
    format: EventFormat = attrs.field(default=EventFormat.JSON, converter=EventFormat)


@attrs.frozen(kw_only=True)
class Limits:
    """Bounds against a hostile or broken peer (B-FRAME-11)."""

    max_header_bytes: int = attrs.field(default=DEFAULT_MAX_HEADER_BYTES, validator=_at_least_one)
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_at_least_one)
    #: Bytes asked of the socket per read: large reads keep the reader ahead of the server.
    receive_size: int = attrs.field(default=256 * 1024, validator=_at_least_one)


def _sinks(value: Iterable[ReplaySink]) -> tuple[ReplaySink, ...]:
    # A typed converter: with ``converter=tuple`` mypy cannot infer the item type, and
    # ``ReplayConfig(sinks=[sink])`` fails to type-check for users.
    return tuple(value)


@attrs.frozen(kw_only=True)
class ReplayConfig:
    """Replay capture: artifacts go to synchronous sinks. Off when empty."""

    #: Any iterable of sinks (a list is fine); kept as a tuple.
    sinks: tuple[ReplaySink, ...] = attrs.field(default=(), converter=_sinks)


def _port(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 < value < 65536:
        raise ValueError(f"port must be within 1..65535, got {value!r}")


def _host(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"host must be a non-empty name without spaces, got {value!r}")


def _group(cls: type) -> Any:
    """A clear TypeError when a group is given as something else (e.g. a dict)."""

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, cls):
            raise TypeError(
                f"{attribute.name} must be a {cls.__name__}, got {type(value).__name__}: "
                f"use {cls.__name__}(...)"
            )

    return check


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """Everything :func:`open_esl_runtime` needs. Only ``host`` has no default."""

    host: str = attrs.field(validator=_host)
    port: int = attrs.field(default=8021, validator=_port)
    password: str = attrs.field(default="ClueCon", repr=False)
    #: ``user@domain`` for ``userauth`` (B-AUTH-5); None for plain ``auth``.
    user: str | None = None
    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=_group(RetryPolicy))
    heartbeat: HeartbeatConfig = attrs.field(
        factory=HeartbeatConfig, validator=_group(HeartbeatConfig)
    )
    timeouts: Timeouts = attrs.field(factory=Timeouts, validator=_group(Timeouts))
    backpressure: BackpressureConfig = attrs.field(
        factory=BackpressureConfig, validator=_group(BackpressureConfig)
    )
    subscriptions: SubscriptionConfig = attrs.field(
        factory=SubscriptionConfig, validator=_group(SubscriptionConfig)
    )
    limits: Limits = attrs.field(factory=Limits, validator=_group(Limits))
    replay: ReplayConfig = attrs.field(factory=ReplayConfig, validator=_group(ReplayConfig))

    def __attrs_post_init__(self) -> None:
        if any(c in self.password for c in "\r\n\0"):
            raise ValueError("password contains a line break or NUL byte")
        if self.user is not None and (
            self.user.count("@") != 1
            or ":" in self.user
            or any(c.isspace() or c == "\0" for c in self.user)
        ):
            raise ValueError(f"user must look like 'name@domain', got {self.user!r}")

    @property
    def address(self) -> str:
        """``host:port`` (no credentials): safe for logs and health."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> RuntimeConfig:
        """``esl://[user@domain:]password@host[:port]`` (percent-encode special characters).

        A ``#``, ``/`` or ``?`` left unencoded would end the host part early (part of the
        password would become the host), so such a URL raises :class:`ValueError`; the
        message never repeats the URL.
        """
        if url[:6].lower() == "esl://" and any(c in url[6:].removesuffix("/") for c in "#?/"):
            # An unencoded '#', '/' or '?' in the password ends the authority early: the rest
            # of the password would become the host. Never echo the URL: it holds the password.
            raise ValueError(_UNENCODED)
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unbalanced '[': urllib's message is enough, not the URL
            raise ValueError(_EXPECTED) from None
        if parts.scheme != "esl" or not parts.hostname:
            raise ValueError(_EXPECTED)
        user, password = _credentials(parts.username, parts.password)
        values: dict[str, Any] = {"host": parts.hostname, "password": password, "user": user}
        if parts.port is not None:
            values["port"] = parts.port
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> RuntimeConfig:
        """From ``ESL_TRIO_URL``, or ``ESL_TRIO_HOST``/``_PORT``/``_PASSWORD``/``_USER``."""
        env = os.environ if environ is None else environ
        if url := env.get("ESL_TRIO_URL"):
            return cls.from_url(url, **overrides)
        values: dict[str, Any] = {"host": env.get("ESL_TRIO_HOST", "127.0.0.1")}
        if port := env.get("ESL_TRIO_PORT"):
            values["port"] = int(port)
        if password := env.get("ESL_TRIO_PASSWORD"):
            values["password"] = password
        if user := env.get("ESL_TRIO_USER"):
            values["user"] = user
        values.update(overrides)
        return cls(**values)


_EXPECTED = "expected a URL like esl://password@host:8021"
_UNENCODED = (
    "the esl:// URL has a '#', '/' or '?' after the scheme, which ends the host part early; "
    "percent-encode them in the password ('#' as %23, '/' as %2F, '?' as %3F; also '@' as "
    "%40, ':' as %3A, '%' as %25)"
)


def _credentials(username: str | None, password: str | None) -> tuple[str | None, str]:
    """(user, password) from a URL's userinfo, split *before* percent-decoding.

    ``esl://pw@host`` is a plain password; ``esl://1000@default:pw@host`` is userauth. A plain
    password containing ``:`` or ``@`` must be percent-encoded; an unencoded ``a:b`` whose left
    side is not ``user@domain`` is still taken as one password.
    """
    if username is None:
        return None, "ClueCon"
    if password is None:
        return None, unquote(username)
    user = unquote(username)
    if user.count("@") == 1:
        return user, unquote(password)
    return None, f"{user}:{unquote(password)}"
