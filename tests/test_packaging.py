"""Packaging: sdist and wheel build, and the wheel works in an empty venv (issue: packaging).

Real network and real time: it installs trio and attrs from the package index into a fresh
virtual environment, like a user would, then runs ``esl-trio demo`` from it.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import esl_trio

REPO = Path(__file__).resolve().parent.parent


def run(*args: str | Path, timeout: float = 300, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_wheel_installs_into_an_empty_venv_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, REPO, cwd=tmp_path)
    (wheel,) = dist.glob("esl_trio-*.whl")
    (sdist,) = dist.glob("esl_trio-*.tar.gz")
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
