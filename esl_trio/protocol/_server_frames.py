"""Server-role serialisation: the frames FreeSWITCH writes, byte for byte.

Used by :mod:`esl_trio.testing`'s fake FreeSWITCH and by tests. The layouts copy the recorded
traffic in ``fixtures/freeswitch-1.11``: event frames put ``Content-Length`` before
``Content-Type``; replies put ``Content-Type`` first (B-FRAME-13); plain values are
percent-encoded with FreeSWITCH's quirk (B-EVT-2); json carries ``_body``; xml puts
``<Content-Length>`` and ``<body>`` beside ``<headers>`` (B-EVT-12).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from xml.sax.saxutils import escape

from ._formats import EventFormat
from ._frames import encode_frame
from ._percent import encode_value

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

#: The body of the notice FreeSWITCH sends before closing after ``exit`` or a failed auth.
GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
_RUDE = b"Access Denied, go away.\n"

Pairs = Iterable[tuple[str, str]]


def auth_request() -> bytes:
    return encode_frame([("Content-Type", "auth/request")])


def command_reply(text: str, extra: Pairs = ()) -> bytes:
    """``command/reply`` with ``Reply-Text: text`` and optional extra headers after it."""
    return encode_frame([("Content-Type", "command/reply"), ("Reply-Text", text), *extra])


def api_response(output: bytes | str) -> bytes:
    body = output.encode() if isinstance(output, str) else output
    return encode_frame(
        [("Content-Type", "api/response"), ("Content-Length", str(len(body)))], body
    )


def disconnect_notice(body: bytes = GOODBYE, extra: Pairs = ()) -> bytes:
    pairs = [("Content-Type", "text/disconnect-notice"), *extra]
    pairs.append(("Content-Length", str(len(body))))
    return encode_frame(pairs, body)


def rude_rejection() -> bytes:
    return encode_frame(
        [("Content-Type", "text/rude-rejection"), ("Content-Length", str(len(_RUDE)))], _RUDE
    )


def log_data(text: str, *, level: int = 6, file: str = "mod_commands.c", line: int = 1) -> bytes:
    body = text.encode()
    return encode_frame(
        [
            ("Content-Type", "log/data"),
            ("Content-Length", str(len(body))),
            ("Log-Level", str(level)),
            ("Text-Channel", "3"),
            ("Log-File", file),
            ("Log-Func", "log_function"),
            ("Log-Line", str(line)),
            ("User-Data", ""),
        ],
        body,
    )


def encode_event(format: EventFormat, headers: Pairs, body: bytes = b"") -> bytes:
    """The payload of an event frame (the outer frame's body) in ``format``."""
    return _ENCODERS[format](list(headers), body)


def event_frame(format: EventFormat, headers: Pairs, body: bytes = b"") -> bytes:
    """A complete ``text/event-<format>`` frame."""
    payload = encode_event(format, headers, body)
    return encode_frame(
        [("Content-Length", str(len(payload))), ("Content-Type", f"text/event-{format}")],
        payload,
    )


def _plain(pairs: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"{name}: {encode_value(value)}\n" for name, value in pairs]
    if body:
        lines.append(f"Content-Length: {len(body)}\n")
    lines.append("\n")
    return "".join(lines).encode() + body


def _json(pairs: list[tuple[str, str]], body: bytes) -> bytes:
    # A repeated header becomes a repeated key, exactly as FreeSWITCH writes it (a dict
    # could not express that, hence the hand-built object).
    members = [(name, value) for name, value in pairs]
    if body:
        members.append(("Content-Length", str(len(body))))
        members.append(("_body", body.decode("utf-8", "replace")))
    dump = _json_string
    return ("{" + ",".join(f"{dump(n)}:{dump(v)}" for n, v in members) + "}").encode()


def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _xml(pairs: list[tuple[str, str]], body: bytes) -> bytes:
    lines = ["<event>\n  <headers>\n"]
    lines.extend(f"    <{name}>{encode_value(value)}</{name}>\n" for name, value in pairs)
    lines.append("  </headers>\n")
    if body:
        lines.append(f"  <Content-Length>{len(body)}</Content-Length>\n")
        text = escape(body.decode("utf-8", "replace"))
        # FreeSWITCH indents the closing tag after a body ending in a newline.
        pad = "  " if text.endswith("\n") else ""
        lines.append(f"  <body>{text}{pad}</body>\n")
    lines.append("</event>\n")
    return "".join(lines).encode()


_ENCODERS = {EventFormat.PLAIN: _plain, EventFormat.JSON: _json, EventFormat.XML: _xml}
