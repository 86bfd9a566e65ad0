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
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

from kit._record import ENV_DIR, record

__all__ = ["ENV_DIR", "Event", "Reader", "load", "record"]


@dataclass(frozen=True)
class Event:
    t_ns: int
    pid: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class Reader:
    """Reads a run's events folder incrementally: each ``poll()`` returns only the events
    written since the last one (the runner polls while the run goes on, to stop a crash loop
    early).  A line still being written (no newline yet) waits for the next poll; a malformed
    complete line is ignored and counted in ``bad_lines``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.offsets: dict[str, int] = {}
        self.bad_lines = 0
        self.seen: list[Event] = []  # every event polled so far

    def all(self) -> list[Event]:
        """Everything polled so far, in time order."""
        return sorted(self.seen, key=lambda e: e.t_ns)

    def poll(self, final: bool = False, names: Iterable[str] | None = None) -> list[Event]:
        """New events; ``final``: the run is over, a last line without newline counts too.
        ``names``: only these files were written since the last poll (the others are not looked at)."""
        out: list[Event] = []
        try:
            entries: list[tuple[str, os.DirEntry[str] | None]] = (
                [(e.name, e) for e in os.scandir(self.folder) if e.name.endswith(".jsonl")] if names is None
                else [(n, None) for n in names if n.endswith(".jsonl")])
        except OSError:
            return out
        for name, entry in entries:
            start = self.offsets.get(name, 0)
            try:
                if entry is not None and entry.stat().st_size <= start:
                    continue
                data = _read_from(f"{self.folder}{os.sep}{name}", start)
            except OSError:
                continue
            end = len(data) if final else data.rfind(b"\n") + 1
            self.offsets[name] = start + end
            for line in data[:end].splitlines():
                event = self._parse(line)
                if event is not None:
                    out.append(event)
        self.seen += out
        return out

    def _parse(self, line: bytes) -> Event | None:
        if not line.strip():
            return None
        try:
            raw = json.loads(line.decode("utf-8", "replace"))
            return Event(int(raw["t"]), int(raw["pid"]), str(raw["kind"]), dict(raw.get("data") or {}))
        except (ValueError, KeyError, TypeError, AttributeError):
            self.bad_lines += 1
            return None


def _read_from(path: str, start: int) -> bytes:
    """The bytes of ``path`` from ``start`` on (a descriptor, not a file object: read often)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.lseek(fd, start, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load(folder: str) -> list[Event]:
    """Read the events of one run, every process's file, in time order (malformed lines,
    such as a torn last line of a process killed mid-write, are ignored)."""
    reader = Reader(folder)
    reader.poll(final=True)
    return reader.all()
