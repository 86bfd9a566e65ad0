"""What the kit's tests share, in the spirit of psutil's test utilities (``psutil.tests``):
imported by test modules as ``from support import ...`` (pytest puts tests/ on ``sys.path``:
no ``__init__.py`` here, the default ``prepend`` import mode), also under ``nox -s tests``.
tests/conftest.py keeps only fixtures and hooks.

* ``reap_children()`` / ``wait_for_pid()`` / ``is_alive()``: process housekeeping with psutil;
  ``reap_children()`` kills with the kit's own tree killer, ``kit._platform.kill_process_tree``
  (as ``Observer.kill_all`` does: one algorithm, as loky shares one between library and tests).
* ``our_processes()``: every process of this test session, wherever it re-parented.
* ``METHODS`` (what this platform has), ``require_method()``, ``variant()`` (a broken script).
* ``run_bounded()``: ``kit.runner.run`` with a test-sized timeout; pytest-timeout
  (pyproject.toml) fails a test that hangs, with every thread's stack.
* ``explain()``, ``tail()``: assertion messages; ``ForeignLoad``: CPU others used meanwhile.
* ``ProcessStarts``: refuses and records every process start within it (the quick loop's guard:
  a test that starts a process must be marked ``slow``).

Every process the tests start inherits ``KIT_TESTS_RUN`` (set below, when tests/conftest.py
first imports this module), and ``kit.runner`` passes the environment on to the launcher and
hence to every process of a run.  That marker tells our processes from those of anything else
running on the same machine (another kit session, a CI job).
"""
from __future__ import annotations

import copy
import multiprocessing
import multiprocessing.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from pathlib import Path

import psutil
import pytest

from kit import _platform
from kit.outcomes import Status
from kit.results import RunResult
from kit.runner import Subject, run
from kit.settings import DEFAULT_SCALE, DEFAULTS, GRACE_S

ALL_METHODS = ("fork", "spawn", "forkserver")
METHODS = multiprocessing.get_all_start_methods()
POSIX = os.name == "posix"
HERE = Path(__file__).resolve().parent
VARIANTS = HERE / "variants"

MARKER = "KIT_TESTS_RUN"
RUN_ID = f"{os.getpid()}-{time.time_ns()}"
os.environ[MARKER] = RUN_ID  # inherited by every process the tests start

#: Seconds ``run()`` may take beyond ``timeout + grace`` to kill the tree and judge.
KILL_SLACK_S = 10.0
#: Seconds one ``Observer._discover`` call may last before it counts as spinning.
SPIN_S = 3.0


# -- processes ---------------------------------------------------------------
def require_method(method: str) -> None:
    """Skip the calling test when this platform lacks ``method``."""
    if method not in METHODS:
        pytest.skip(f"start method {method!r} is not available on {sys.platform}")


def variant(name: str) -> str:
    """Path of a broken script in tests/variants."""
    path = VARIANTS / f"{name}.py"
    assert path.is_file(), path
    return str(path)


def _key(proc: psutil.Process) -> tuple[int, float]:
    try:
        return proc.pid, proc.create_time()
    except psutil.Error:
        return proc.pid, 0.0


def carries_marker(proc: psutil.Process) -> bool:
    try:
        return proc.environ().get(MARKER) == RUN_ID
    except (psutil.Error, OSError):
        return False


def our_processes(guardians: bool = False) -> dict[tuple[int, float], psutil.Process]:
    """Every process that belongs to this test session, pytest itself excluded (and kit
    guardians, unless ``guardians``: a killed kit's guardian exits once it has killed the run).

    Descendants of pytest (zombies included), plus any process anywhere whose
    environment carries this session's marker: a ``kit.launcher`` or an orphan
    that re-parented to init would not be a descendant.
    """
    me = psutil.Process()
    found: dict[tuple[int, float], psutil.Process] = {}
    try:
        for child in me.children(recursive=True):
            found[_key(child)] = child
    except psutil.Error:
        pass
    for proc in psutil.process_iter():
        if proc.pid == me.pid or _key(proc) in found:
            continue
        if carries_marker(proc):
            found[_key(proc)] = proc
    return {k: p for k, p in found.items() if not is_guardian(p) or (guardians and not _ours_guardian(p, me.pid))}


def reap_orphaned_zombies() -> None:
    """Collect the exit status of every child of pytest that has already ended: an orphan of a
    test's subprocess re-parents to pytest when it is a subreaper, and nobody else waits for it."""
    me = psutil.Process()
    for child in me.children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError, OSError):
            continue


def leftovers(before: set[tuple[int, float]]) -> dict[tuple[int, float], psutil.Process]:
    """The processes of this session that were not there ``before`` (``our_processes``) and still
    are: zombies that re-parented to pytest have ended (collected, not counted), also one that
    ended between the collecting and the listing."""
    reap_orphaned_zombies()
    left = {k: p for k, p in our_processes().items() if k not in before}
    if left:
        reap_orphaned_zombies()
        left = {k: p for k, p in left.items() if p.is_running()}
    return left


def _ours_guardian(proc: psutil.Process, me: int) -> bool:
    """This process's own guardian (an in-process run started it): it lives as long as we do.
    (Not "its parent is us": a killed kit's guardian re-parents to us, the subreaper.)"""
    from kit import runner

    from kit._platform import relay_server_pid

    own = runner._guardian
    ours = {own.proc.pid if own is not None else None, relay_server_pid()}
    return proc.pid in ours and os.getpid() == me


def is_guardian(proc: psutil.Process) -> bool:
    """The kit process's guardian (kit/_platform/_guardian.py) and its relay server
    (kit/_platform/_relay.py --serve) live as long as the process that ran its first run (here:
    pytest) by design; they are not a run's leftovers."""
    from kit._platform._relay import SERVER_NAME

    try:
        return proc.name() == SERVER_NAME or any(arg.endswith("_guardian.py") for arg in proc.cmdline())
    except psutil.Error:
        return False


def describe(proc: psutil.Process) -> str:
    """One line for a report: pid, status, command line."""
    try:
        with proc.oneshot():
            cmd = " ".join(proc.cmdline()) or proc.name()
            return f"{proc.pid} [{proc.status()}] ppid={proc.ppid()} {cmd[:120]}"
    except psutil.Error as exc:
        return f"{proc.pid} ({type(exc).__name__})"


def reap_zombie_children() -> None:
    """Collect pytest's dead children: orphans of a SIGKILLed kit re-parent here when pytest is a
    subreaper (any in-process run() makes it one)."""
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                _platform.reap(child.pid)
        except psutil.Error:
            pass


def reap_children(procs: Iterable[psutil.Process] | None = None, timeout: float = 5.0) -> list[int]:
    """Kill and wait every leftover process of this session (``procs`` first); returns their pids.

    Like ``psutil.tests.reap_children``, with the kit's own tree killer
    (``kit._platform.kill_process_tree``): suspend first so nothing forks while we kill, then
    kill, wait, and collect exit statuses so no zombie stays; three rounds at most.
    """
    first = None if procs is None else list(procs)

    def session() -> list[psutil.Process]:
        nonlocal first
        if first is not None:
            named, first = first, None
            return named
        return list(our_processes().values())  # later: whatever is still (or newly) there

    return _platform.kill_process_tree(session, rounds=3, timeout=timeout, reap=reap_zombie_children)


def wait_for_pid(pid: int, timeout: float = 5.0) -> psutil.Process:
    """Wait until ``pid`` shows up in the process table; return it (TimeoutError otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return psutil.Process(pid)
        except psutil.NoSuchProcess:
            if time.monotonic() > deadline:
                raise TimeoutError(f"pid {pid} did not appear within {timeout} s") from None
            time.sleep(0.01)


def is_alive(pid: int, create_time: float | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, if given, is the process created at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 0.01:
            return False  # the pid was reused by another process
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# -- runs ---------------------------------------------------------------------------
def run_bounded(target: Subject, method: str, *, scale: float = DEFAULT_SCALE,
                timeout: float = 20.0, grace: float = GRACE_S) -> RunResult:
    """``run()`` with a test-sized timeout.  A hang in the kit itself (it promises never to hang)
    is caught by pytest-timeout (pyproject.toml), which fails the test with every thread's stack."""
    return run(target, method, DEFAULTS.but(scale=scale, timeout=timeout, grace=grace))


# -- reporting and measuring -----------------------------------------------------
def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def explain(result: RunResult) -> str:
    """Everything needed to understand a surprising result, for an assertion message."""
    checks = "\n".join(f"  {'ok ' if c.ok else 'BAD'} {c.check}: {c.reason}" for c in result.checks)
    return (
        f"{result.subject} under {result.method}: {result.status} -- {result.reason}\n"
        f"exitcode={result.exitcode} wall={result.wall_s}s cores={result.cores_used} "
        f"peak={result.peak_processes} orphans={[o.pid for o in result.orphans]}\n"
        f"checks:\n{checks or '  (none)'}\n"
        f"--- stdout (tail) ---\n{tail(result.stdout)}\n--- stderr (tail) ---\n{tail(result.stderr)}"
    )


def _busy_cpu_s() -> float:
    from kit.runner import machine_busy_s

    return machine_busy_s()


def _children_cpu_s() -> float | None:
    """CPU of every descendant waited for so far (a run's whole tree, once reaped); None off POSIX."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ForeignLoad:
    """CPU that processes other than the run and pytest used meanwhile (steal included).

    The kit's ``uses_cores`` check is only meaningful on an otherwise idle
    machine; this measures whether it was, without touching the check.  The
    run's own CPU comes from the kernel (``RUSAGE_CHILDREN``: the run's tree is
    reaped by the time ``run()`` returns), not from the kit: a kit that lost
    its workers' CPU must fail, not look like a busy machine.
    """

    def __enter__(self) -> ForeignLoad:
        self.busy0, self.own0, self.t0 = _busy_cpu_s(), time.process_time(), time.perf_counter()
        self.children0 = _children_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.busy = _busy_cpu_s() - self.busy0
        self.own = time.process_time() - self.own0
        self.wall = time.perf_counter() - self.t0
        end = _children_cpu_s()
        self.children = None if end is None or self.children0 is None else end - self.children0

    def cores(self, result: RunResult) -> float:
        """Average cores used by everything else during the run."""
        run_cpu = result.cpu_s if self.children is None else self.children
        return max(0.0, self.busy - self.own - run_cpu) / self.wall if self.wall > 0 else 0.0


#: Above this many cores used by others during a ``cpu`` run, its verdict is inconclusive.
FOREIGN_CORES_MAX = 0.15


def as_platform(rs: list[RunResult], os_name: str, python: str, default: str, target: str = "host",
                available: tuple[str, ...] = ("fork", "spawn", "forkserver")) -> list[RunResult]:
    """Copies of real results relabelled as another platform; unavailable methods become skipped."""
    out = []
    for r in copy.deepcopy(rs):
        assert r.platform is not None
        r.platform.os, r.platform.python, r.platform.default_method, r.platform.place = \
            os_name, python, default, target
        if r.method not in available:
            r.status, r.reason = Status.SKIPPED, f"{r.method} is not available on {os_name}"
        out.append(r)
    return out


# -- the quick loop ---------------------------------------------------------------
class ProcessStartRefused(RuntimeError):
    """Raised where a process would have started inside ``ProcessStarts``."""


class ProcessStarts:
    """Within it, every way Python starts a process raises ``ProcessStartRefused`` and is
    recorded in ``attempts`` (a test may catch the error; the record stays).

    Covers ``subprocess`` (hence ``kit.runner.run``, ``python -m kit``, asyncio and ``os.popen``),
    ``multiprocessing`` (fork through ``os.fork``; spawn and forkserver through
    ``multiprocessing.util.spawnv_passfds`` on POSIX, ``_winapi.CreateProcess`` on Windows),
    ``os.fork``/``forkpty``/``posix_spawn*`` and ``os.system``.  Containers are not processes
    of ours: tests marked docker are slow by rule (tests/conftest.py).
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: list[tuple[object, str, object]] = []

    def _targets(self) -> list[tuple[object, str]]:
        names: list[tuple[object, str]] = [(os, n) for n in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system")
                                           if hasattr(os, n)]
        names += [(subprocess.Popen, "_execute_child"), (multiprocessing.util, "spawnv_passfds")]
        if sys.platform == "win32":
            import _winapi

            names.append((_winapi, "CreateProcess"))
        return names

    def _refuse(self, owner: object, name: str) -> Callable[..., Any]:
        what = f"{getattr(owner, '__name__', owner)}.{name}"

        def refused(*args: object, **kwargs: object) -> Any:
            self.attempts.append(what)
            raise ProcessStartRefused(f"{what}: this test starts a process but is not marked slow")

        return refused

    def __enter__(self) -> ProcessStarts:
        for owner, name in self._targets():
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, self._refuse(owner, name))
        return self

    def __exit__(self, *exc: object) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)
