"""Sessions: ``matrix`` (the table), ``tests`` (the suite). Logic lives in ``kit``."""
import nox

nox.options.sessions = ["tests", "matrix"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def matrix(session: nox.Session) -> None:
    """Every example under every start method; arguments go to ``python -m kit matrix``."""
    session.install(".")
    session.run("python", "-m", "kit", "matrix", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite; arguments go to pytest."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)
