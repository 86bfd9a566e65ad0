"""Timestamped events that examples record from inside every process.

Each process appends one JSON line per event to the file named by
``KIT_EVENTS`` (inherited by children under every start method).  Lines are
short and written with a single ``write`` in append mode, so processes do not
interleave.  Timestamps come from ``time.perf_counter_ns``, a clock shared by
all processes of one machine, so intervals from different processes compare.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

ENV_FILE = "KIT_EVENTS"


@dataclass(frozen=True)
class Event:
    t_ns: int
    pid: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def record(kind: str, **data: Any) -> None:
    """Append one event; a no-op when the script runs outside the kit."""
    path = os.environ.get(ENV_FILE)
    if not path:
        return
    line = json.dumps({"t": time.perf_counter_ns(), "pid": os.getpid(), "kind": kind, "data": data})
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def load(path: str) -> list[Event]:
    """Read the events of one run in time order; a torn last line is ignored."""
    events = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue
                events.append(Event(raw["t"], raw["pid"], raw["kind"], raw.get("data", {})))
    except FileNotFoundError:
        return []
    return sorted(events, key=lambda e: e.t_ns)
