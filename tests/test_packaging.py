"""Packaging: sdist and wheel build, carry the license and metadata, and the wheel works in an
empty venv (issue 8 items 12, 14, 15).

The venv test uses the real network and real time: it installs trio and attrs from the package
index into a fresh virtual environment, like a user would, then runs ``esl-trio demo`` from it.
"""

from __future__ import annotations

import email
import email.message
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import esl_trio

REPO = Path(__file__).resolve().parent.parent
BASE = "https://github.com/esl-trio/esl-trio"


def run(*args: str | Path, timeout: float = 300, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist), built once for the module."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, REPO, cwd=out)
    (wheel,) = out.glob("esl_trio-*.whl")
    (sdist,) = out.glob("esl_trio-*.tar.gz")
    return wheel, sdist


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_issue8_item14_license_ships_in_repo_sdist_and_wheel(dist: tuple[Path, Path]) -> None:
    wheel, sdist = dist
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 esl-trio developers" in text
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(name).decode() == text
    with tarfile.open(sdist) as archive:
        (member,) = [m for m in archive.getmembers() if m.name.endswith("/LICENSE")]
        extracted = archive.extractfile(member)
        assert extracted is not None and extracted.read().decode() == text
    meta = wheel_metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_issue8_item14_project_urls(dist: tuple[Path, Path]) -> None:
    urls = dict(u.split(", ", 1) for u in wheel_metadata(dist[0]).get_all("Project-URL") or [])
    assert urls == {
        "Homepage": BASE,
        "Source": BASE,
        "Documentation": f"{BASE}/tree/main/docs",
        "Changelog": f"{BASE}/blob/main/CHANGELOG.md",
        "Issues": f"{BASE}/issues",
    }


def test_issue8_item15_platform_classifiers_are_the_posix_ones(dist: tuple[Path, Path]) -> None:
    """The runtime reads and writes POSIX socket descriptors directly (os.read / os.write);
    nothing Windows is claimed."""
    classifiers = wheel_metadata(dist[0]).get_all("Classifier") or []
    systems = sorted(c for c in classifiers if c.startswith("Operating System"))
    assert systems == [
        "Operating System :: MacOS :: MacOS X",
        "Operating System :: POSIX",
        "Operating System :: POSIX :: Linux",
    ]


def test_issue8_item12_testing_extra_and_pytest_entry_point(dist: tuple[Path, Path]) -> None:
    wheel = dist[0]
    meta = wheel_metadata(wheel)
    testing = sorted(
        r.split(";")[0].strip() for r in meta.get_all("Requires-Dist") or [] if "'testing'" in r
    )
    assert testing == ["pytest-trio>=0.8", "pytest>=8.3"]  # what users need, nothing of ours
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(name).decode()
    assert "[pytest11]\nesl_trio.testing.pytest_plugin = esl_trio.testing.pytest_plugin" in (
        entry_points
    )


def test_wheel_installs_into_an_empty_venv_and_runs_the_demo(
    dist: tuple[Path, Path], tmp_path: Path
) -> None:
    wheel, sdist = dist
    assert esl_trio.__version__ in wheel.name

    names = zipfile.ZipFile(wheel).namelist()
    assert "esl_trio/py.typed" in names
    assert "esl_trio/testing/__init__.py" in names
    assert not any(n.startswith("tests/") for n in names)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        assert any(n.endswith("/README.md") for n in names)
        # tests/ ships, so the recorded traffic it reads ships with it (fresh-clone issue).
        assert any("/tests/fixtures/freeswitch-1.11/" in n and n.endswith(".raw") for n in names)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel)
    # Installed from the wheel, not from this checkout (so run away from the checkout).
    code = "import esl_trio, esl_trio.testing; print(esl_trio.__file__)"
    location = run(python, "-c", code, cwd=tmp_path)
    assert str(venv) in location
    assert esl_trio.__version__ in run(venv / "bin" / "esl-trio", "--version", cwd=tmp_path)
    output = run(venv / "bin" / "esl-trio", "demo", timeout=60, cwd=tmp_path)
    assert "health" in output.lower()
