"""POSIX without a child subreaper (macOS, the BSDs): orphans go to launchd/init.

Orphans are then found by (pid, create time) snapshots only.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any, Callable


from kit._platform._common import (RunGroup, RunProcess, no_exit_waiter, no_folder_watch, no_kernel_log, no_run_group,
                                   no_stack_signal, ppid_table, proc_reader, start_posix)

assert sys.platform != "win32"  # imported off Windows only; tells mypy --platform win32 to skip the rest

__all__ = ["become_subreaper", "exit_waiter", "folder_watch", "kernel_log", "new_group_kwargs", "ppid_table",
           "proc_reader", "reap", "resume", "run_group", "runs_kept_apart", "stack_signal",
           "start_main", "warm_up"]  # PlatformModule

exit_waiter = no_exit_waiter  # no pidfd: the kit sleeps and asks
folder_watch = no_folder_watch  # no inotify: the events folder is listed at every look
kernel_log = no_kernel_log  # no kernel log to read here: OOM kills are not named
run_group = no_run_group  # no kernel-kept group here: the psutil fallback
stack_signal = no_stack_signal  # macOS has SIGINFO, never tried here: no stacks at a timeout


def become_subreaper() -> bool:
    """No portable subreaper here (always False, idempotent): orphans go to launchd/init, and the
    observer finds them by snapshots instead."""
    return False


def new_group_kwargs() -> dict[str, Any]:
    """Run the example in its own session, so a terminal's Ctrl-C reaches only the kit."""
    return {"start_new_session": True}


def resume(pid: int) -> None:
    """SIGCONT: a relay the script stopped (``os.kill(os.getppid(), SIGSTOP)``) cannot reap its
    ended main process nor say how it ended; resumed, it does."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGCONT)


def reap(pid: int) -> None:
    """Collect the exit status of a process we became parent of, so no zombie stays."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start_main(argv: list[str], group: RunGroup | None, on_started: Callable[[int], None] | None = None,
               **popen: Any) -> tuple[RunProcess, int]:
    """The run's main process: (what the kit waits for: its relay, a process of its own here, the
    relay server is Linux's; the main process's pid); ``on_started(pgid)`` as soon as the run's
    process group exists."""
    return start_posix(argv, group, new_group_kwargs(), on_started, **popen)


def warm_up() -> None:
    """Nothing to start before the first run here (each run starts its own relay)."""


def runs_kept_apart() -> tuple[bool, str]:
    """Never here: runs are told apart by sampling (psutil), so they run one at a time."""
    return False, "runs are told apart by sampling (psutil), not by the kernel"
