"""Developer sessions: ``nox -s tests lint typecheck bench docs``.

CI does not need nox (``.ci/run`` installs and runs the same tools directly); these sessions
are the convenient way to run one piece locally in an isolated environment.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "uv|virtualenv"


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """``mypy --strict`` over the package, every docs example and the tools (as ``.ci/run``)."""
    session.install("-e", ".[lint,docs]")  # docs: griffe, for the docs-build extensions
    session.run("mypy", "--strict", "esl_trio")
    session.run("mypy", "--strict", "docs/examples")
    session.run("mypy", "--strict", "tools", "docs/_ext")


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".")
    session.run("python", "benchmarks/bench_protocol.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the MkDocs site; warnings (broken links, bad references) are errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "-d", "site")
