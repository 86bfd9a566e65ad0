"""How many CPUs this process may really use: affinity and cgroup CPU quotas, as loky's
``cpu_count`` reads them (``os.cpu_count()`` sees neither: a container started with
``--cpus 1`` on a 2-core machine would count 2).

The quota is looked for where this process's cgroup really is (``_procfs.hierarchies``, the
finder the run groups use too): a v2 tree is not always at ``/sys/fs/cgroup`` (hybrid systems
mount it at ``/sys/fs/cgroup/unified``), and a v1 quota may be set on our own cgroup or an
ancestor rather than on the hierarchy's root.  The quota files exist on Linux only; elsewhere
``cgroup_cpu_limit`` finds nothing and the count is the affinity (where the OS has it) or
``os.cpu_count()``.
"""
from __future__ import annotations

import math
import os

from kit._platform._procfs import Hierarchy, hierarchies, read_cgroup_files


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def _v2_limit(folder: str) -> float | None:
    """``cpu.max``: ``quota period``, or ``max period`` for none."""
    text = _read(os.path.join(folder, "cpu.max"))
    try:
        quota, period = (text or "").split()[:2]
        return float(quota) / float(period) if quota != "max" and float(period) > 0 else None
    except ValueError:
        return None


def _v1_limit(folder: str) -> float | None:
    """``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; a quota of -1 is none."""
    try:
        quota = float(_read(os.path.join(folder, "cpu.cfs_quota_us")) or "")
        period = float(_read(os.path.join(folder, "cpu.cfs_period_us")) or "")
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _tightest(hierarchy: Hierarchy) -> float | None:
    """The tightest quota of our cgroup in ``hierarchy`` and its ancestors up to the mount point
    (a parent's quota bounds every child)."""
    if hierarchy.own is None:
        return None
    read = _v2_limit if hierarchy.version == 2 else _v1_limit
    best: float | None = None
    folder = hierarchy.own
    while True:
        limit = read(folder)
        if limit is not None:
            best = limit if best is None else min(best, limit)
        if folder == hierarchy.mountpoint or len(folder) <= len(hierarchy.mountpoint):
            return best
        folder = os.path.dirname(folder)


def cgroup_cpu_limit(root: str = "/") -> float | None:
    """The CPU quota in CPUs (1.5 for ``--cpus 1.5``), or None when there is none.

    ``root``: where ``proc/self`` and the cgroup mounts are (a fake file system in tests)."""
    try:
        mountinfo, cgroup = read_cgroup_files(root)
    except OSError:
        return None
    limits = [_tightest(h) for h in hierarchies(mountinfo, cgroup, root) if h.version == 2 or "cpu" in h.controllers]
    found = [x for x in limits if x is not None]
    return min(found) if found else None


def usable_cpu_count() -> int:
    """CPUs this process may run on: affinity, then a cgroup quota (rounded up), at least 1."""
    getter = getattr(os, "process_cpu_count", None)  # 3.13+: affinity-aware
    count = getter() if getter else None
    if count is None:
        affinity = getattr(os, "sched_getaffinity", None)
        count = len(affinity(0)) if affinity else os.cpu_count()
    count = count or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return count
