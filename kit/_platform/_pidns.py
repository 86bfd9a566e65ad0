"""A run inside the kit's own container: the container's pid namespace is the run group.

The kit's containers (``kit.container``) run one cell at a time, and their pid namespace
holds only the container's init, the kit, its guardian and the run.  So the run's members are
exactly the processes that appeared after the group was made: no parent link to follow, no pid
to trust, nothing that double-forks away.  The run's CPU is the container's own CPU counter
(cgroup v1 ``cpuacct.usage`` or v2 ``cpu.stat``, readable though not writable in a container)
around the run, less the kit's own.  Used only where the kit's container says so
(``KIT_PIDNS=1``, set by ``kit.container.run``): elsewhere a pid namespace may hold anything.
"""
from __future__ import annotations

import os
import resource
import signal
import sys
import time
from pathlib import Path

from kit import env
from kit._platform._procfs import oom_kill_count, read_stat

assert sys.platform == "linux"  # tells mypy --platform X to skip the rest elsewhere

ENV = env.PIDNS
_CPU_FILES = (Path("/sys/fs/cgroup/cpuacct/cpuacct.usage"), Path("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage"))
_CPU_STAT = Path("/sys/fs/cgroup/cpu.stat")
_MEMORY = (  # (peak, now, OOM kills) of the container: cgroup v1, then v2
    (Path("/sys/fs/cgroup/memory/memory.max_usage_in_bytes"), Path("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
     Path("/sys/fs/cgroup/memory/memory.oom_control")),
    (Path("/sys/fs/cgroup/memory.peak"), Path("/sys/fs/cgroup/memory.current"), Path("/sys/fs/cgroup/memory.events")),
)


def _number(path: Path | None) -> int | None:
    try:
        return int(path.read_text()) if path is not None else None
    except (OSError, ValueError):
        return None


def _oom_kills(path: Path | None) -> int | None:
    try:
        return oom_kill_count(path.read_text()) if path is not None else None
    except OSError:
        return None


def wanted() -> bool:
    return os.environ.get(ENV) == "1"


def _container_cpu_s() -> float | None:
    for path in _CPU_FILES:
        try:
            return int(path.read_text()) / 1e9
        except (OSError, ValueError):
            continue
    try:
        for line in _CPU_STAT.read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    except (OSError, ValueError):
        pass
    return None


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _all_pids() -> set[int]:
    return {int(e.name) for e in os.scandir("/proc") if e.name.isdigit()}


def _alive(pid: int) -> bool:
    """Not a zombie, or a zombie leader whose other threads still run.  Cheaper than
    ``_procfs.lives`` (one read per live process, the task list only for a zombie): here every
    pid of the namespace is asked at every sample, and a fork bomb makes them many."""
    stat = read_stat(pid)
    if stat is None:
        return False
    if stat.state != "Z":
        return True
    try:
        tasks = [t.name for t in os.scandir(f"/proc/{pid}/task")]
    except OSError:
        return False
    return len(tasks) > 1


class PidNsGroup:
    """Every process that appeared in this pid namespace after the group was made."""

    backend = "pidns"

    def __init__(self) -> None:
        self._before = _all_pids()  # init, the kit, its guardian: never the run's
        self._cpu0 = _container_cpu_s()
        self._own0 = _own_cpu_s()
        self._closed = False
        self._peak_file: Path | None
        self._now_file: Path | None
        self._oom_file: Path | None
        self._peak_file, self._now_file, self._oom_file = next(
            ((peak, now, oom) for peak, now, oom in _MEMORY if now.exists()), (None, None, None))
        self._peak0 = _number(self._peak_file)  # the container's peak before the run: another cell's, or the kit's
        self._oom0 = _oom_kills(self._oom_file) or 0
        self._base = _number(self._now_file) or 0  # what the container held as the run began: the kit, init
        self._most = self._base

    def preexec(self) -> None:
        """Nothing to join (the namespace already holds the run); the run gets the lowest CPU
        priority, so that a run that saturates the container (a fork bomb up to the pids limit)
        cannot starve the kit of the CPU it needs to time it out and kill it.  On CPUs the run
        has to itself, its priority changes nothing it measures.  And the run's processes are the
        OOM killer's first choice (raising one's own score needs no privilege): under the container's
        memory limit the kit that watches them must outlive them."""
        os.nice(19)
        try:
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            try:
                os.write(fd, b"1000")
            finally:
                os.close(fd)
        except OSError:
            pass

    def join_paths(self) -> None:
        """None: no relay here (it would be a new process of the namespace, taken for the run's);
        the kit in a container is the container's, and the container is the sandbox."""
        return None

    def procs(self, every: bool = True) -> set[int]:
        return {pid for pid in _all_pids() - self._before if _alive(pid)}

    def threads(self) -> set[int] | None:
        return None

    def quick_threads(self) -> frozenset[int] | None:
        return None

    def populated(self) -> bool:
        return bool(self.procs())

    def wait_emptied(self, seconds: float) -> None:
        time.sleep(seconds)  # the namespace's end has no notification the kit can wait on

    def cpu_s(self) -> float | None:
        now = _container_cpu_s()
        if now is None or self._cpu0 is None:
            return None
        return max(0.0, (now - self._cpu0) - (_own_cpu_s() - self._own0))

    def cpu_stall_s(self) -> float | None:
        return None  # the container's pressure includes the kit's own waits: not the run's

    def peak(self) -> int | None:
        return None

    memory_kept = False  # the container's memory, not the run's: a bound

    def memory_now(self) -> None:
        """Read the container's memory now (the kit's tick): its highest reading is the run's bound
        when the container's own peak did not rise during the run."""
        now = _number(self._now_file)
        if now is not None:
            self._most = max(self._most, now)

    def memory_peak(self) -> int | None:
        """The container's peak while the run lived, less what it held as the run began (the kit and
        the container's init; what the kit grew meanwhile stays in: a bound); the container's peak
        counter when it rose during the run, else its highest reading on the kit's ticks."""
        if self._now_file is None:
            return None
        self.memory_now()
        peak = _number(self._peak_file)
        if peak is not None and self._peak0 is not None and peak > self._peak0:
            return max(0, peak - self._base)
        return max(0, self._most - self._base)

    def oom_kills(self) -> int | None:
        """Processes the OOM killer ended in the container since the group was made."""
        now = _oom_kills(self._oom_file)
        return None if now is None else now - self._oom0

    def limit_memory(self, limit: int) -> None:
        """The container's limit is Docker's (``--memory``): nothing to set from inside."""

    def kill(self, timeout: float = 5.0) -> list[int]:
        """Stop every member (nothing forks meanwhile), then kill them, until none is left."""
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = self.procs()
            if not members:
                break
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for pid in (members if sig == signal.SIGSTOP else self.procs() | members):
                    try:
                        os.kill(pid, sig)
                        killed.add(pid)
                    except OSError:
                        pass
            self._reap()
            time.sleep(0.01)
        self._reap()
        return sorted(killed)

    @staticmethod
    def _reap() -> None:
        """Orphans of the run re-parent to the kit (its subreaper): collect their exit statuses."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def close(self, timeout: float = 5.0) -> None:
        if not self._closed:
            self.kill(timeout)
            self._closed = True

    def describe(self) -> str:
        return ("the container's pid namespace (one run at a time), CPU from the container's own counter, "
                "memory from the container's (the kit's included)")

    def paths(self) -> list[str]:
        return []  # the container ends with the kit: no guardian needed
