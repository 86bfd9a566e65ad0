"""Every error a user can cause or meet, each a class with its own exit status, caught once
in ``kit.cli.main`` (as cibuildwheel's ``FatalError`` subclasses are).

A ``KitError`` is reported as one line, ``kit: error: MESSAGE``, and ends the command with
its ``exit_code``.  Anything else that escapes is a bug in the kit: ``main`` prints where
it happened and how to see the traceback (``--debug`` or ``KIT_DEBUG=1``) and exits with
``INTERNAL_ERROR``, never with 2, so a bug never looks like the user's mistake.  Errors
carry their fields (``field``, ``path``...) as psutil's do, for tests and callers.
"""
from __future__ import annotations

from typing import Any

USAGE = 2
"""Bad input: a wrong option, an unknown example, a file that is not kit results."""

FAILED = 1
"""Something the kit tried could not be done (an image build) or a cell did not pass."""

INTERNAL_ERROR = 3
"""A bug in the kit (an unexpected exception)."""

RESULTS_ELSEWHERE = 4
"""The runs finished, but an output file could not be written where asked: it went to a file the
kit names (the message says where)."""


class KitError(Exception):
    """An error the user can act on: one line, no traceback."""

    exit_code = FAILED

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class UsageError(KitError):
    """Bad input (arguments, names, numbers, paths): exit status 2."""

    exit_code = USAGE


class TargetError(UsageError):
    """A target asked for by name cannot run here (no daemon, no image): one line saying why."""


class ReportError(UsageError):
    """A file given to ``kit report`` is not kit results: the message names the file (and field)."""


class MemoryLimitUnavailable(UsageError):
    """``--memory-limit`` cannot be applied here (no memory controller, no permission): said before
    anything runs, never ignored; the remedy is in the message."""


class ResultsElsewhere(KitError):
    """An output path (``--json``...) accepted before the run refused the results at the end (a disk
    that filled up): they are in a file the kit names instead, and the message says which.  Remedy:
    move that file where it belongs, free space or choose another path.  Exit status 4, whatever the
    cells did: a script reading the status must not take the file it asked for as written."""

    exit_code = RESULTS_ELSEWHERE


class EnvironmentProblem(KitError):
    """The machine cannot host a run (no usable temporary folder...): exit status 1."""


def interrupted_status(signum: int) -> int:
    """A shell's exit status for a command ended by signal ``signum`` (130 for SIGINT)."""
    return 128 + signum
