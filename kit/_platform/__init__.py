"""One API for what differs between operating systems; each OS in its own module.

Nothing outside this package may test ``sys.platform`` or call a POSIX-only
function (``os.killpg``, ``prctl``, ``os.waitpid`` on foreign children,
``Process.cpu_num``).

One OS module is chosen at import (as psutil's ``_psplatform``); what each provides is
declared once, ``PlatformModule``, and mypy checks the chosen module against it.

A run's evidence: ``run_group(tag)`` gives a ``RunGroup`` kept by the kernel (Linux: the
run's own cgroup, ``_cgroup.RunCgroup``) and a one-line description, or ``(None, why not)``
elsewhere and where no cgroup is usable; ``start_main(argv, group)`` starts the run's main
process in its own session and, with a group, inside it before exec (POSIX: under a relay,
``_relay``, so that the script's parent is not the kit).
"""
from __future__ import annotations

import sys

from kit._platform._common import (ExitWaiter, FolderWatch, KernelLog, LimitUnavailable, PlatformModule, ProcReader,
                                   ProcSample, RunGroup, RunProcess, Woke, kill_process_tree, running,
                                   unlink_left)
from kit._platform._cpus import usable_cpu_count
from kit._platform._guardian import Guardian, continue_group, kill_group, stop_group
from kit._platform._relay import server_pid as relay_server_pid

if sys.platform == "win32":
    from kit._platform import _windows as _chosen
elif sys.platform == "linux":
    from kit._platform import _linux as _chosen
else:
    from kit._platform import _posix as _chosen

OS_MODULE: PlatformModule = _chosen  # mypy: the chosen module provides every name of PlatformModule

become_subreaper = OS_MODULE.become_subreaper
exit_waiter = OS_MODULE.exit_waiter
folder_watch = OS_MODULE.folder_watch
kernel_log = OS_MODULE.kernel_log
new_group_kwargs = OS_MODULE.new_group_kwargs
ppid_table = OS_MODULE.ppid_table
reap = OS_MODULE.reap
resume = OS_MODULE.resume
run_group = OS_MODULE.run_group
proc_reader = OS_MODULE.proc_reader
runs_kept_apart = OS_MODULE.runs_kept_apart
stack_signal = OS_MODULE.stack_signal
start_main = OS_MODULE.start_main
warm_up = OS_MODULE.warm_up

__all__ = [
    "OS_MODULE", "ExitWaiter", "FolderWatch", "Guardian", "KernelLog", "LimitUnavailable", "PlatformModule",
    "ProcReader", "ProcSample", "RunGroup", "RunProcess", "Woke", "become_subreaper", "continue_group", "exit_waiter",
    "folder_watch", "kernel_log", "kill_group", "kill_process_tree", "relay_server_pid", "new_group_kwargs",
    "ppid_table", "proc_reader", "reap", "resume", "run_group", "running", "runs_kept_apart", "stack_signal",
    "start_main", "stop_group", "unlink_left", "usable_cpu_count", "warm_up"
]
