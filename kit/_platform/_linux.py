"""Linux: ``prctl(PR_SET_CHILD_SUBREAPER)`` makes every orphan of the run our child."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import subprocess
import sys

import psutil

assert sys.platform == "linux"  # imported on Linux only; tells mypy --platform X to skip the rest elsewhere

from typing import Any, Callable  # noqa: E402

from kit._platform import _cgroup, _pidns  # noqa: E402
from kit._platform._common import KernelLog, RunGroup, start_posix  # noqa: E402
from kit._platform._kmsg import KmsgLog  # noqa: E402
from kit._platform._posix import new_group_kwargs, reap, resume  # noqa: E402 - after the assert, for mypy
from kit._platform._procfs import read_stat  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

__all__ = ["become_subreaper", "cpu_num", "kernel_log", "new_group_kwargs", "ppid_table", "reap", "resume", "run_group",
           "runs_kept_apart", "stack_signal", "start_main"]  # PlatformModule


def stack_signal() -> int | None:
    """The signal on which a run's processes write their Python stacks (``kit.probe``): the
    last real-time signal, which nothing of Python or multiprocessing uses (the C library keeps
    the first ones).  A process without the probe (not Python) dies of it: it is sent only
    at a timeout, just before the whole run is killed anyway."""
    return int(signal.SIGRTMAX)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (an orphan re-parents to it, not to
    init: none escapes) and say whether it is one.  Idempotent.  The kernel keeps the flag, and
    it is asked each time, so no module state can disagree with it (the flag is not inherited
    across fork: a forked copy of the kit must set it again).  Whoever relies on adopting orphans
    (the runner, for ``Observer(adopts_orphans=...)``) calls this and passes on what it returns."""
    libc = _libc()
    flag = ctypes.c_int(0)
    if libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0 and flag.value:
        return True
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def kernel_log() -> KernelLog | None:
    """The kernel's log from now on (``/dev/kmsg``: root here), None where it cannot be read."""
    return KmsgLog.open()


def run_group(tag: str) -> tuple[RunGroup | None, str]:
    """A new cgroup for one run (stale groups of dead kits are removed first), or, in the kit's
    own container, its pid namespace; None and why not otherwise."""
    if _pidns.wanted():
        namespace = _pidns.PidNsGroup()
        return namespace, namespace.describe()
    try:
        group = _cgroup.RunCgroup.create(tag)
    except _cgroup.CgroupUnavailable as exc:
        return None, exc.reason
    except (OSError, _cgroup.CgroupStuck) as exc:
        return None, f"cgroups: {exc}"
    return group, group.describe()


def start_main(argv: list[str], group: RunGroup | None, on_started: Callable[[int], None] | None = None,
               **popen: Any) -> tuple[subprocess.Popen[bytes], int]:
    """The run's main process: (Popen of what the kit waits for, the main process's pid);
    ``on_started(pgid)`` as soon as the run's process group exists."""
    return start_posix(argv, group, new_group_kwargs(), on_started, **popen)


def cpu_num(proc: psutil.Process) -> int | None:
    return proc.cpu_num()


def ppid_table() -> dict[int, int]:
    """pid -> parent pid from /proc/*/stat: one small read per process, cheaper
    than psutil's per-process objects, and the observer does it every sample."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name))
        if stat is not None:  # None: gone meanwhile
            table[stat.pid] = stat.ppid
    return table


def runs_kept_apart() -> tuple[bool, str]:
    """Whether runs in progress at once can be told apart: each in its own cgroup (not in the kit's
    container, whose pid namespace is one run's group); (False, why not) otherwise."""
    if _pidns.wanted():
        return False, "the container's pid namespace is the evidence of one run at a time"
    ok, why = _cgroup.available()
    return (True, why) if ok else (False, f"no cgroup for each run ({why})")
