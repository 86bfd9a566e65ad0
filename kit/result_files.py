"""The files a command was asked to write (``--json``, ``--markdown``, ``--junit-xml``): tried before
the first run, kept somewhere when writing them still fails at the end.

A run can take minutes, so a path that cannot be written is refused before anything runs: a
directory, a missing folder, a place nothing can be created in, a device that refuses writes
(``/dev/full``), a full disk.  The test leaves nothing behind: a file that did not exist is created
and removed, an existing one is opened for appending and never written, so its content stays as it
was until the results replace it.  A write that fails at the end anyway (the disk filled during the
run) puts the text in a file the kit names, in the current folder or else the temporary folder, and
says so; the command then ends with ``ResultsElsewhere``'s status.  Results are never lost silently.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from kit.errors import ResultsElsewhere, UsageError

STDOUT = "-"
FALLBACK_PREFIX = "kit-results-"
SUFFIXES = {"--json": ".json", "--markdown": ".md", "--junit-xml": ".xml"}
"""A kept file's suffix when the path asked for had none (``/dev/full``)."""
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # a full disk or quota, whatever the permissions say


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _space_left(folder: Path) -> None:
    """A byte written and synced in a scratch file beside the target: a full disk fails here, not after
    the run.  Only a full disk counts; a folder that refuses new files may still hold a writable file."""
    try:
        fd, scratch = tempfile.mkstemp(prefix=".kit-write-test-", dir=folder)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise
        return
    try:
        os.write(fd, b"\0")
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(scratch).unlink()


def _try_existing(p: Path) -> None:
    """Opened for appending and given an empty write: an existing file keeps its content until the
    results come; a file that refuses writes (``/dev/full``, most of ``/proc``) refuses this one too,
    and a terminal or pipe sees nothing."""
    mode = p.stat().st_mode
    flags = os.O_WRONLY | os.O_APPEND | (0 if stat.S_ISREG(mode) else getattr(os, "O_NONBLOCK", 0))
    fd = os.open(p, flags)
    try:
        os.write(fd, b"")
    finally:
        os.close(fd)
    if stat.S_ISREG(mode):
        _space_left(p.parent if str(p.parent) else Path())


def _try_new(p: Path) -> None:
    """Created, a byte written and synced, removed: nothing is left that the user did not have."""
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, b"\0")
        os.fsync(fd)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            p.unlink()


def check(path: str | None, option: str) -> None:
    """Refuse ``path`` (given with ``option``) before anything runs, in one line: UsageError."""
    if not path or path == STDOUT:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option} {path}: is a directory", path=path)
    parent = p.parent if str(p.parent) else Path()
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise UsageError(f"{option} {path}: the folder {parent} {what}", path=path)
    exists = p.exists()
    try:
        if exists:
            _try_existing(p)
        else:
            _try_new(p)
    except OSError as exc:
        what = "cannot write to it" if exists else "cannot create a file there"
        raise UsageError(f"{option} {path}: {what} ({_reason(exc)})", path=path) from None


def fallback_path(path: str, option: str = "", stamp: str | None = None) -> Path:
    """Where results that could not go to ``path`` go: ``kit-results-<time><suffix>`` in the current
    folder, else in the temporary folder; created here (exclusively, never over another file)."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    suffix = Path(path).suffix or SUFFIXES.get(option, ".txt")
    last: OSError | None = None
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        for n in range(100):
            candidate = folder / f"{FALLBACK_PREFIX}{stamp}{f'-{n}' if n else ''}{suffix}"
            try:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                return candidate
            except FileExistsError:
                continue
            except OSError as exc:
                last = exc
                break
    raise last or OSError("no folder to write to")


class ResultFiles:
    """The output paths of one command, checked when made; ``write`` (a path, its text) writes one and
    keeps the text elsewhere when that fails; ``finish`` ends the command with ``ResultsElsewhere``
    when anything went elsewhere."""

    def __init__(self, asked: Mapping[str, str | None]) -> None:
        self.options = {path: option for option, path in asked.items() if path}
        for path, option in self.options.items():
            check(path, option)
        self.elsewhere: list[str] = []

    def write(self, path: str | None, text: str) -> None:
        if not path:
            return
        if path == STDOUT:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return
        try:
            Path(path).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            self.elsewhere.append(self._keep(path, text, _reason(exc)))

    def _keep(self, path: str, text: str, why: str) -> str:
        option = self.options.get(path, "output")
        try:
            where = fallback_path(path, option)
            where.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            return f"{option} {path}: cannot write ({why}), nor anywhere else ({_reason(exc)}): that output is lost"
        return f"{option} {path}: cannot write ({why}); written to {where} instead"

    def step_summary(self, markdown: str) -> None:
        """Append to ``$GITHUB_STEP_SUMMARY`` when it is set; a summary that cannot be written is kept too."""
        from kit import junit

        try:
            junit.append_step_summary(markdown)
        except OSError as exc:
            path = os.environ.get(junit.STEP_SUMMARY, "")
            self.options.setdefault(path, f"${junit.STEP_SUMMARY}")
            self.elsewhere.append(self._keep(path, markdown, _reason(exc)))

    def tell(self, say: Callable[[str], None]) -> None:
        """Say where each output went instead (a command cut short: its own status stands)."""
        for line in self.elsewhere:
            say(f"kit: {line}")
        self.elsewhere = []

    def finish(self) -> None:
        """The command's last step: ResultsElsewhere (its own exit status) if an output went elsewhere."""
        if self.elsewhere:
            lines, self.elsewhere = self.elsewhere, []
            raise ResultsElsewhere("; ".join(lines))
