"""Windows: no subreaper, no process groups of the POSIX kind, no ``cpu_num``.

A dead parent's pid stays in its children's ``ppid``, so orphans are found by
(pid, create time) snapshots of everything seen during the run.
"""
from __future__ import annotations

import subprocess
from typing import Any

import psutil

NAME = "windows"


def become_subreaper() -> bool:
    return False


def adopts_orphans() -> bool:
    return False


def cpu_num(proc: psutil.Process) -> int | None:
    return None


def ppid_table() -> dict[int, int]:
    """pid -> parent pid of every process (one system snapshot on Windows)."""
    table = {}
    for proc in psutil.process_iter(["ppid"]):
        if proc.info["ppid"] is not None:
            table[proc.pid] = proc.info["ppid"]
    return table


def new_group_kwargs() -> dict[str, Any]:
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


def reap(pid: int) -> None:
    """Windows keeps no zombies: nothing to collect."""
