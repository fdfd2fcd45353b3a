"""Access to the real FreeSWITCH traffic recorded in ``shared/fixtures`` (read-only)."""

from __future__ import annotations

import os
from pathlib import Path

from esl_trio.protocol import Frame, FrameParser


def fixtures_dir() -> Path:
    """``$ESL_TRIO_FIXTURES``, else ``../shared/fixtures/freeswitch-1.11`` beside the repo."""
    override = os.environ.get("ESL_TRIO_FIXTURES")
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parent.parent
    return repo.parent / "shared" / "fixtures" / "freeswitch-1.11"


FIXTURES = fixtures_dir()


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def frames_of(data: bytes) -> list[Frame]:
    parser = FrameParser()
    parser.feed(data)
    parser.feed(b"")
    return list(parser.frames())


def one_frame(name: str) -> Frame:
    (frame,) = frames_of(raw(name))
    return frame


def raw_files() -> list[str]:
    return sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.raw"))
