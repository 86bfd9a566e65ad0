"""What Linux's ``/proc`` says about processes and their cgroups, parsed in one place.

``/proc/PID/stat`` is one line whose second field, the command name, may hold spaces and
parentheses: the fields after it are found from the *last* ``)``.  Every reader of the kit
goes through ``read_stat`` so that rule is written once.

A process's own cgroup is not always under ``/sys/fs/cgroup``: hybrid systems mount
cgroup v2 elsewhere (``/sys/fs/cgroup/unified``) and each v1 hierarchy in its own folder,
and a container may see only part of a tree.  ``hierarchies`` reads where each tree is
mounted (``/proc/self/mountinfo``) and where this process sits in it (``/proc/self/cgroup``),
so the run groups and the CPU quota are looked for in the same places.  Every reader takes a
``root`` (a fake file system in tests).  Plain text parsing: importable on every OS, where
the files are simply missing.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Hierarchy", "ProcStat", "hierarchies", "lives", "own_paths", "parse_stat", "read_cgroup_files", "read_stat"]


class ProcStat(NamedTuple):
    """The fields of ``/proc/PID/stat`` the kit uses (proc(5) numbers them 1, 2, 3, 4, 5, 14, 15, 20, 22, 24, 39)."""

    pid: int
    comm: str  # the command name without its parentheses (may hold spaces and parentheses itself)
    state: str  # R, S, D, Z, X, T, t, I...
    ppid: int
    pgrp: int
    utime: int  # clock ticks of user CPU
    stime: int  # clock ticks of system CPU
    num_threads: int
    starttime: int  # clock ticks after boot
    rss: int | None = None  # resident pages; None: the line ends before it
    processor: int | None = None  # the CPU it last ran on; None: the line ends before it


def parse_stat(data: bytes) -> ProcStat:
    """One ``/proc/PID/stat`` line; ValueError when it is not one."""
    close = data.rfind(b")")
    opening = data.find(b"(")
    if close < 0 or opening < 0 or opening > close:
        raise ValueError(f"not a /proc/PID/stat line: {data[:80]!r}")
    rest = data[close + 2:].split(None, 37)  # state is field 3: field N is rest[N - 3]
    try:
        return ProcStat(int(data[:opening]), data[opening + 1:close].decode("utf-8", "surrogateescape"),
                        rest[0].decode("ascii", "replace"), int(rest[1]), int(rest[2]), int(rest[11]), int(rest[12]),
                        int(rest[17]), int(rest[19]), int(rest[21]) if len(rest) > 21 else None,
                        int(rest[36]) if len(rest) > 36 else None)
    except IndexError:
        raise ValueError(f"a /proc/PID/stat line cut short: {data[:80]!r}") from None


def read_stat(pid: int, tid: int | None = None) -> ProcStat | None:
    """``/proc/PID/stat`` (or one thread's, ``/proc/PID/task/TID/stat``); None when it is gone or unreadable."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path, "rb") as fh:
            return parse_stat(fh.read())
    except (OSError, ValueError):
        return None


def lives(pid: int) -> bool:
    """Some thread of ``pid`` still runs: a thread-group leader whose main thread exited shows Z
    while its other threads live, so each thread's state is read."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        stat = read_stat(pid, int(tid)) if tid.isdigit() else None
        if stat is not None and stat.state not in ("Z", "X"):
            return True
    return False


# -- where the cgroup hierarchies are --------------------------------------------------
@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup tree as seen from this process."""

    version: int  # 2, or 1 for a v1 hierarchy
    controllers: frozenset[str]  # v1: what /proc/self/cgroup names for it ("cpu", "name=systemd"...); v2: empty
    mountpoint: str  # under ``root``
    path: str | None  # this process's cgroup as /proc/self/cgroup names it; None: not listed there
    own: str | None  # the folder of this process's cgroup; None: not listed, or outside the mounted tree
    read_only: bool


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field) if "\\" in field else field


def own_paths(cgroup: str) -> dict[str, str]:
    """``/proc/self/cgroup`` -> {"": v2 path, "pids": v1 path, "name=systemd": v1 path, ...}."""
    paths: dict[str, str] = {}
    for line in cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, ctrls, path = parts
        if hier == "0" and ctrls == "":
            paths[""] = path
        else:
            for ctrl in ctrls.split(","):
                paths[ctrl] = path
    return paths


def _own_dir(path: str, mount_root: str, mountpoint: str) -> str | None:
    """Our cgroup ``path`` inside a tree whose ``mount_root`` is mounted at ``mountpoint``; None if outside it."""
    rel = os.path.relpath(path, mount_root) if mount_root != "/" else path.lstrip("/")
    if rel == ".":
        rel = ""
    if rel.startswith("..") or "/../" in path or path.startswith("/.."):
        return None
    return os.path.join(mountpoint, rel).rstrip("/")


def hierarchies(mountinfo: str, cgroup: str, root: str = "/") -> list[Hierarchy]:
    """Every cgroup mount of ``mountinfo``, in its order, with this process's place in it.

    ``root``: where the file system the two texts describe is (mount points are under it)."""
    own = own_paths(cgroup)
    found: list[Hierarchy] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
            fstype, super_opts = fields[sep + 1], fields[sep + 3]
        except (ValueError, IndexError):
            continue
        if fstype not in ("cgroup2", "cgroup"):
            continue
        mount_root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if root != "/":
            mountpoint = os.path.join(root, mountpoint.lstrip("/"))
        if fstype == "cgroup2":
            version, ctrls = 2, frozenset[str]()
            path = own.get("")
        else:
            version, ctrls = 1, frozenset(super_opts.split(",")) & frozenset(own)
            path = own[min(ctrls)] if ctrls else None
        found.append(Hierarchy(version, ctrls, mountpoint, path,
                               None if path is None else _own_dir(path, mount_root, mountpoint),
                               "ro" in fields[5].split(",")))
    return found


def read_cgroup_files(root: str = "/") -> tuple[str, str]:
    """(``/proc/self/mountinfo``, ``/proc/self/cgroup``) under ``root``; OSError when either is unreadable."""
    texts = []
    for name in ("mountinfo", "cgroup"):
        with open(os.path.join(root, "proc", "self", name), encoding="utf-8", errors="surrogateescape") as fh:
            texts.append(fh.read())
    return texts[0], texts[1]


def oom_kill_count(text: str) -> int | None:
    """The ``oom_kill`` count of a memory cgroup's ``memory.events`` (v2) or ``memory.oom_control``
    (v1): processes of the group the OOM killer ended; None when the file has none."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None
