"""An opt-in debug channel, as psutil's ``PSUTIL_DEBUG``: ``KIT_DEBUG=1`` (or ``kit --debug``)
prints what the kit swallowed on purpose (a process that vanished while psutil read it, access
denied, an observer hiccup during clean-up), so the first failures on an untried platform are
diagnosable from a CI log.  Off, it costs one dictionary lookup."""
from __future__ import annotations

import os
import sys
import contextlib

from kit import env

ENV = env.DEBUG


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def log(what: str, exc: BaseException | None = None) -> None:
    """One line on stderr when debugging: what was swallowed, and the exception's type and text."""
    if enabled():
        detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        with contextlib.suppress(OSError, ValueError):
            print(f"kit debug [{os.getpid()}]: {what}{detail}", file=sys.stderr, flush=True)
