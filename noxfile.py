"""Sessions: ``matrix`` (the table), ``tests`` (the suite), ``images`` (containers).

Logic lives in ``kit``; each session installs the kit and calls it.  The kit
is installed editable: building container images needs its source checkout
(``docker/Dockerfile``, the sources that the image hash covers).
"""
import nox

nox.options.sessions = ["tests", "matrix"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def matrix(session: nox.Session) -> None:
    """Every example under every start method, on the host and, when a Docker daemon
    answers, in the Linux containers; arguments go to ``python -m kit matrix``."""
    session.install("-e", ".[docker]")
    session.run("python", "-m", "kit", "matrix", *session.posargs)


@nox.session
def images(session: nox.Session) -> None:
    """Build the container images; arguments go to ``python -m kit images``."""
    session.install("-e", ".[docker]")
    session.run("python", "-m", "kit", "images", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite; arguments go to pytest."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)
