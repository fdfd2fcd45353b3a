"""Access to the real FreeSWITCH traffic recorded in ``tests/fixtures`` (read-only)."""

from __future__ import annotations

from pathlib import Path

from esl_trio.protocol import Frame, FrameParser


def fixtures_dir() -> Path:
    """``tests/fixtures/freeswitch-1.11``: inside the repository, so a fresh clone has it."""
    return Path(__file__).resolve().parent / "fixtures" / "freeswitch-1.11"


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
