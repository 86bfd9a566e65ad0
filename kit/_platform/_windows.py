"""Windows: no subreaper, no process groups of the POSIX kind, no ``cpu_num``.

A dead parent's pid stays in its children's ``ppid``, so orphans are found by
(pid, create time) snapshots of everything seen during the run.
"""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable


from kit._platform._common import (RunGroup, RunProcess, no_exit_waiter, no_folder_watch, no_kernel_log, no_run_group,
                                   no_stack_signal, popen_kwargs_for, ppid_table, proc_reader)

assert sys.platform == "win32"  # imported on Windows only; tells mypy --platform X to skip the rest elsewhere

__all__ = ["become_subreaper", "exit_waiter", "folder_watch", "kernel_log", "new_group_kwargs", "ppid_table",
           "proc_reader", "reap", "resume", "run_group", "runs_kept_apart", "stack_signal",
           "start_main", "warm_up"]  # PlatformModule

exit_waiter = no_exit_waiter  # no pidfd: the kit sleeps and asks
folder_watch = no_folder_watch  # no inotify: the events folder is listed at every look
kernel_log = no_kernel_log  # no kernel log to read here: OOM kills are not named
run_group = no_run_group  # no kernel-kept group here: the psutil fallback
stack_signal = no_stack_signal  # faulthandler.register does not exist on Windows


def become_subreaper() -> bool:
    """No subreaper on Windows (always False, idempotent): a dead parent's pid stays in its
    children's ``ppid``, and the observer finds orphans by snapshots."""
    return False


def new_group_kwargs() -> dict[str, Any]:
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


def reap(pid: int) -> None:
    """Windows keeps no zombies: nothing to collect."""


def resume(pid: int) -> None:
    """No relay here (the main process is the kit's child): nothing to resume."""


def start_main(argv: list[str], group: RunGroup | None, on_started: Callable[[int], None] | None = None,
               **popen: Any) -> tuple[RunProcess, int]:
    """The run's main process, the kit's own child (no relay here: no fork); ``group`` is
    always None (``run_group`` gives none)."""
    proc = subprocess.Popen(argv, **popen_kwargs_for(new_group_kwargs(), group), **popen)
    if on_started is not None:
        on_started(proc.pid)
    return proc, proc.pid


def warm_up() -> None:
    """Nothing to start before the first run here."""


def runs_kept_apart() -> tuple[bool, str]:
    """Never here: runs are told apart by sampling (psutil), so they run one at a time."""
    return False, "runs are told apart by sampling (psutil), not by the kernel"
