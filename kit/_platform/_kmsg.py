"""Linux: the kernel's own record of whom its OOM killer ended, from ``/dev/kmsg``.

Why: a memory cgroup counts its OOM kills (``oom_kill`` in ``memory.events`` or
``memory.oom_control``) but does not say which process died; the kernel's log does
("Killed process 1234 (python3) ..."), in the pid namespace the kit runs in.  The log is opened
as a run starts and positioned at its end, so only what happened during the run is read.
Reading it needs root (or ``CAP_SYSLOG``, or ``kernel.dmesg_restrict=0``); where it cannot be
opened the kit names the victim from exit statuses instead.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import sys

assert sys.platform == "linux"  # imported on Linux only; tells mypy --platform X to skip the rest elsewhere

KMSG = "/dev/kmsg"
_KILLED = re.compile(r"Killed process (\d+) \(([^)]*)\)")
_MAX_RECORDS = 10_000
"""The most records read at once: a machine printing without pause must not hold the kit."""


def victims_in(lines: list[str]) -> list[tuple[int, str]]:
    """(pid, name) of each process a log line says the OOM killer ended, in order."""
    out = []
    for line in lines:
        m = _KILLED.search(line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


class KmsgLog:
    """``/dev/kmsg`` from the moment it was opened."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def open(cls) -> KmsgLog | None:
        """The log positioned at its end, or None where it cannot be read."""
        try:
            fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            os.lseek(fd, 0, os.SEEK_END)
        except OSError:
            os.close(fd)
            return None
        return cls(fd)

    def _records(self) -> list[str]:
        lines: list[str] = []
        while self._fd is not None and len(lines) < _MAX_RECORDS:
            try:
                data = os.read(self._fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten before we read them: go on with the next
                    continue
                break
            if not data:
                break
            lines.append(data.decode("utf-8", "replace").partition(";")[2])
        return lines

    def oom_victims(self) -> list[tuple[int, str]]:
        return victims_in(self._records())

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
