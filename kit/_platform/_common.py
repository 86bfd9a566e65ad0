"""What every platform can do through psutil alone; the OS modules override where they do better."""
from __future__ import annotations

from typing import Any, Protocol

import psutil


def ppid_table() -> dict[int, int]:
    """pid -> parent pid of every process on the machine."""
    table = {}
    for proc in psutil.process_iter(["ppid"]):
        if proc.info["ppid"] is not None:
            table[proc.pid] = proc.info["ppid"]
    return table


class RunGroup(Protocol):
    """A run kept by the kernel (Linux: ``kit._platform._cgroup.RunCgroup``).

    Every descendant of the process started with ``popen_kwargs(group)`` is a member,
    whatever it does (double fork, ``setsid``, re-parenting); the totals include exited
    members.
    """

    backend: str  # "cgroup" or "pidns": the evidence it gives (kit.outcomes.Backend)

    def preexec(self) -> None: ...  # the started process joins the group before exec

    def procs(self) -> set[int]: ...  # pids of the run's live processes (a zombie leader with live threads too)

    def threads(self) -> set[int] | None: ...  # thread ids of the run alive now (None: unknown)

    def populated(self) -> bool: ...  # some process of the run is alive

    def cpu_s(self) -> float | None: ...  # CPU seconds of every process ever in the run

    def peak(self) -> int | None: ...  # most tasks (threads included) alive at once

    def kill(self, timeout: float = 5.0) -> list[int]: ...  # SIGKILL all, wait until empty; pids killed

    def close(self, timeout: float = 5.0) -> None: ...  # kill, then remove the group

    def describe(self) -> str: ...

    def paths(self) -> list[str]: ...  # the group's folders, for the guardian


def no_run_group(tag: str) -> tuple[RunGroup | None, str]:
    """Platforms without a kernel-kept process group: always the psutil fallback."""
    return None, "no kernel-kept process group on this platform"


def popen_kwargs_for(new_group: dict[str, Any], group: RunGroup | None) -> dict[str, Any]:
    """``new_group`` (own session / process group), plus joining ``group`` before exec."""
    kwargs = dict(new_group)
    if group is not None:
        kwargs["preexec_fn"] = group.preexec  # runs after setsid (start_new_session), before exec
    return kwargs
