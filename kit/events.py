"""Timestamped events that examples record from inside every process.

Each process appends one JSON line per event to its own file,
``<pid>.jsonl`` in the folder named by ``KIT_EVENTS`` (inherited by children
under every start method).  One file per process because append mode is only
atomic across processes on POSIX: on Windows two processes appending to one
file can overwrite each other's lines.  Timestamps come from
``time.perf_counter_ns``, a clock shared by all processes of one machine, so
intervals from different processes compare.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_DIR = "KIT_EVENTS"


@dataclass(frozen=True)
class Event:
    t_ns: int
    pid: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def record(kind: str, **data: Any) -> None:
    """Append one event; a no-op when the script runs outside the kit."""
    folder = os.environ.get(ENV_DIR)
    if not folder:
        return
    pid = os.getpid()
    line = json.dumps({"t": time.perf_counter_ns(), "pid": pid, "kind": kind, "data": data})
    fd = os.open(os.path.join(folder, f"{pid}.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def load(folder: str) -> list[Event]:
    """Read the events of one run, every process's file, in time order; a torn last line
    (a process killed mid-write) is ignored."""
    events = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue
                events.append(Event(raw["t"], raw["pid"], raw["kind"], raw.get("data", {})))
    return sorted(events, key=lambda e: e.t_ns)
