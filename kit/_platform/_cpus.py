"""How many CPUs this process may really use: affinity and cgroup CPU quotas, as loky's
``cpu_count`` reads them (``os.cpu_count()`` sees neither: a container started with
``--cpus 1`` on a 2-core machine would count 2).

The quota files exist on Linux only; elsewhere ``cgroup_cpu_limit`` finds nothing and the
count is the affinity (where the OS has it) or ``os.cpu_count()``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

_V2_ROOT = Path("/sys/fs/cgroup")
_V1_CPU = Path("/sys/fs/cgroup/cpu")


def _own_v2_dir() -> Path | None:
    """The cgroup v2 folder of this process (``0::/path`` in /proc/self/cgroup)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return _V2_ROOT / line[3:].lstrip("/")
    except OSError:
        return None
    return None


def _v2_limit(folder: Path) -> float | None:
    """``cpu.max`` of ``folder`` and its ancestors: the tightest ``quota / period``."""
    best: float | None = None
    while True:
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            if quota != "max" and float(period) > 0:
                limit = float(quota) / float(period)
                best = limit if best is None else min(best, limit)
        except (OSError, ValueError):
            pass
        if folder == _V2_ROOT or folder.parent == folder:
            return best
        folder = folder.parent


def _v1_limit() -> float | None:
    try:
        quota = float((_V1_CPU / "cpu.cfs_quota_us").read_text())
        period = float((_V1_CPU / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit() -> float | None:
    """The CPU quota in CPUs (1.5 for ``--cpus 1.5``), or None when there is none."""
    own = _own_v2_dir()
    limits = [x for x in (_v2_limit(own) if own else None, _v2_limit(_V2_ROOT), _v1_limit()) if x is not None]
    return min(limits) if limits else None


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
