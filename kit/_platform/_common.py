"""What every platform can do through psutil alone; the OS modules override where they do better."""
from __future__ import annotations

import psutil


def ppid_table() -> dict[int, int]:
    """pid -> parent pid of every process on the machine."""
    table = {}
    for proc in psutil.process_iter(["ppid"]):
        if proc.info["ppid"] is not None:
            table[proc.pid] = proc.info["ppid"]
    return table
