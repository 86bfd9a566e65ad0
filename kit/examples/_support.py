"""What the examples add to the article's code: events and scaled sleeps, and the few calls
that differ by operating system (the pitfall examples need them).

``KIT_SCALE`` multiplies every sleep, so the default matrix is fast and
``--scale 1`` reproduces the article's timings.

OS differences live here, not in the examples (``tests/test_platform_isolation.py`` allows
exactly these in this file): ``kill_self()`` (SIGKILL, or TerminateProcess on Windows) and
``die_with(parent)`` (Linux ``PR_SET_PDEATHSIG``, elsewhere a watchdog thread), and
``private_bytes()`` (Linux ``/proc/self/smaps_rollup``; psutil's USS elsewhere).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

from kit import env
from kit._record import record  # not kit.events (the reader: dataclasses, pathlib, json): every example
# process and every spawn child of one imports this module

TYPE_CHECKING = False  # typing is not imported either (mypy knows the name)
if TYPE_CHECKING:
    import psutil

__all__ = ["record", "pause", "scale", "scaled_count", "kill_self", "die_with", "private_bytes"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL_S = 0.05


def scale() -> float:
    return float(os.environ.get(env.SCALE, "1"))


def scaled_count(n: int, least: int) -> int:
    """The article's ``n`` at ``--scale 1`` and above; at smaller scales fewer (``n * scale``), never
    fewer than ``least``: the default matrix stays cheap where a count only costs CPU time."""
    return n if scale() >= 1 else max(least, round(n * scale()))


def pause(seconds: float) -> None:
    """``time.sleep`` of the article, scaled."""
    time.sleep(seconds * scale())


SMAPS_ROLLUP = "/proc/self/smaps_rollup"


def private_bytes() -> int | None:
    """This process's private memory now (its pages no other process shares: what a fork child has
    copied): Linux, the kernel's summary of its memory map; elsewhere psutil's USS; None where
    neither can say (Linux before 4.14)."""
    if sys.platform != "linux":
        import psutil

        try:
            return int(psutil.Process().memory_full_info().uss)
        except (psutil.Error, AttributeError):
            return None
    try:
        with open(SMAPS_ROLLUP, encoding="ascii") as fh:
            text = fh.read()
    except OSError:
        return None
    kib = sum(int(line.split()[1]) for line in text.splitlines() if line.startswith(("Private_Clean:",
                                                                                         "Private_Dirty:")))
    return kib * 1024


def kill_self() -> None:
    """Die at once, the way ``kill -9`` (or the Task Manager) kills: no atexit hook, no
    multiprocessing clean-up.  POSIX: SIGKILL (exit code -9); Windows: TerminateProcess with
    exit code 9 (``os.kill`` with any other signal number calls it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":
        os.kill(os.getpid(), 9)
    else:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)  # not reached: the signal is delivered before kill() returns


def die_with(parent: int) -> str:
    """Make this process end as soon as ``parent`` ends; returns how ("pdeathsig" or "watchdog").

    Linux, when ``parent`` is this process's real parent (fork, spawn): the kernel sends SIGKILL
    when the parent dies (``prctl(PR_SET_PDEATHSIG)``).  Otherwise (forkserver, whose workers are
    children of the forkserver; macOS; Windows, where ``os.getppid()`` keeps returning a dead
    parent's pid): a daemon thread polls the parent and exits the process when it is gone.
    """
    if sys.platform == "linux" and os.getppid() == parent:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
            if os.getppid() != parent:  # the parent died before prctl: nobody will signal us
                os._exit(1)
            return "pdeathsig"
    import psutil

    try:
        watched = psutil.Process(parent)
    except psutil.NoSuchProcess:
        os._exit(1)
    threading.Thread(target=_watch, args=(watched,), name="die_with", daemon=True).start()
    return "watchdog"


def _watch(parent: psutil.Process) -> None:
    import psutil

    while True:
        try:
            if not parent.is_running() or parent.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.Error:
            break
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)
