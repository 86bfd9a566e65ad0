"""What every platform can do through psutil alone; the OS modules override where they do better."""
from __future__ import annotations

import contextlib
import enum
import os
import subprocess
import time
from collections.abc import Iterable
from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

import psutil

from kit._platform import _relay


class ProcSample(NamedTuple):
    """One look at a live process: what the observer keeps of it at each reading."""

    zombie: bool
    cpu_s: float  # user + system CPU seconds so far
    cpu: int | None  # the CPU it is on now, where known
    rss: int  # resident memory, bytes
    started: int | None = None  # an identity of the process (Linux: its start time in clock ticks), where known


def sample_proc(proc: psutil.Process, started: int | None = None) -> ProcSample | None:
    """``proc`` now, through psutil; None when it is gone.  Raises ``psutil.AccessDenied``."""
    try:
        with proc.oneshot():
            if proc.status() == psutil.STATUS_ZOMBIE:
                return ProcSample(True, 0.0, None, 0)
            times = proc.cpu_times()
            getter = getattr(proc, "cpu_num", None)  # not on macOS nor Windows
            return ProcSample(False, times.user + times.system, getter() if getter else None, proc.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


class ProcReader(Protocol):
    """Samples the processes of one observer (``_platform.proc_reader()``); ``close()`` when done."""

    def sample(self, proc: psutil.Process, started: int | None = None) -> ProcSample | None: ...  # None: gone

    def identify(self, proc: psutil.Process, cmdline: bool = True
                 ) -> tuple[int, str, list[str]] | None: ...  # (ppid, name, command line); None: gone

    def created(self, proc: psutil.Process) -> float: ...  # create time, epoch seconds (after ``identify``)

    def cmdline_changed(self, proc: psutil.Process) -> bool: ...  # since the last call (first: True); True: maybe

    def forget(self, pid: int) -> None: ...  # ``pid`` is gone: nothing kept for it

    def close(self) -> None: ...


class PsutilReader:
    """``ProcReader`` through psutil: nothing kept between samples."""

    def created(self, proc: psutil.Process) -> float:
        return proc.create_time()

    def sample(self, proc: psutil.Process, started: int | None = None) -> ProcSample | None:
        return sample_proc(proc, started)

    def identify(self, proc: psutil.Process, cmdline: bool = True) -> tuple[int, str, list[str]] | None:
        return identify(proc, cmdline)

    def cmdline_changed(self, proc: psutil.Process) -> bool:
        return True  # nothing cheaper than reading it anew

    def forget(self, pid: int) -> None:
        pass

    def close(self) -> None:
        pass


def proc_reader() -> ProcReader:
    return PsutilReader()


class FolderWatch(Protocol):
    """The files written in a folder since the last look."""

    def changed(self) -> set[str] | None: ...  # their names; None: unknown, look at every file

    def fileno(self) -> int: ...  # readable once a file was written (until ``changed()`` reads it); -1: none

    def news_fileno(self) -> int: ...  # readable once a file was created (until ``changed()``); -1: none

    def close(self) -> None: ...


class Woke(enum.IntFlag):
    """What ended an ``ExitWaiter``'s wait (nothing: the time passed)."""

    NOTHING = 0
    ENDED = 1  # the process ended, or may have: ask it
    WRITTEN = 2  # the folder watched too was written (``FolderWatch.changed()`` says what, and rearms it)


class ExitWaiter(Protocol):
    """Sleeps until a process ends, a watched folder is written, or the time passes."""

    def wait(self, seconds: float, written: bool = True, news: bool | None = None) -> Woke:
        """``written=False``: a write to the folder does not wake; ``news`` (default ``written``): a new file does."""
        ...

    def close(self) -> None: ...


def no_exit_waiter(pid: int, folder: FolderWatch | None = None) -> ExitWaiter | None:
    """No way to sleep until a process ends here: the kit sleeps and asks."""
    return None


def no_folder_watch(path: str) -> FolderWatch | None:
    """No way to learn that a folder was written here: it is listed at every look."""
    return None


def identify(proc: psutil.Process, cmdline: bool = True) -> tuple[int, str, list[str]] | None:
    """(parent pid, name, command line) of ``proc`` through psutil; None when it is gone."""
    try:
        with proc.oneshot():
            return proc.ppid(), proc.name(), proc.cmdline() if cmdline else []
    except psutil.Error:
        return None


def ppid_table(stop: float | None = None) -> dict[int, int]:
    """pid -> parent pid of every process on the machine (``stop``, ``time.perf_counter()``:
    what was read by then)."""
    table = {}
    for proc in psutil.process_iter(["ppid"]):
        if stop is not None and time.perf_counter() > stop:
            break
        if proc.info["ppid"] is not None:
            table[proc.pid] = proc.info["ppid"]
    return table


def kill_process_tree(find: Callable[[], Iterable[psutil.Process]], *, rounds: int = 20, timeout: float = 2.0,
                      reap: Callable[[], object] | None = None) -> list[int]:
    """Kill every process ``find()`` names, then whatever it names next, until it names none; the pids killed.

    The one tree killer of the kit and its tests (as loky shares one ``kill_process_tree``
    between library and tests): ``Observer.kill_all`` gives the processes of a run,
    ``tests/support.py``'s ``reap_children`` every process of the test session.  Each round
    freezes every process ``find()`` names, so that none forks meanwhile; asks ``find()`` again,
    for the children forked before the freeze; kills those, waits up to ``timeout`` s for them
    and calls ``reap()`` (collect exit statuses: no zombie stays); at most ``rounds`` rounds,
    and ``reap()`` once more at the end.  This process is never one of them.  psutil only:
    ``suspend``/``kill`` are SIGSTOP/SIGKILL on POSIX, the Windows calls there.
    """
    me = os.getpid()

    def named() -> list[psutil.Process]:
        return [proc for proc in find() if proc.pid != me]

    killed: list[int] = []
    for _ in range(rounds):
        procs = named()
        if not procs:
            break
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.suspend()
        procs = named()  # children forked before the freeze
        for proc in procs:
            try:
                proc.kill()
                killed.append(proc.pid)
            except psutil.Error:
                pass
        _wait_dead(procs, timeout, reap)
    if reap is not None:
        reap()
    return sorted(set(killed))


def _wait_dead(procs: list[psutil.Process], timeout: float, reap: Callable[[], object] | None) -> None:
    """Until every one of ``procs`` is gone or a zombie, at most ``timeout`` s; ``reap()`` between looks.
    (``psutil.wait_procs`` waits for a zombie nobody reaps until the timeout: a killed tree's
    grandchildren re-parent to us only as their parents die.)"""
    end = time.monotonic() + timeout
    while True:
        if reap is not None:
            reap()
        procs = [p for p in procs if running(p)]
        if not procs or time.monotonic() >= end:
            return
        time.sleep(0.01)


def running(proc: psutil.Process) -> bool:
    """``proc`` is still running (neither gone, nor its pid another process's, nor a zombie)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class LimitUnavailable(Exception):
    """A memory limit this group cannot apply; the message says why, in one line."""


class RunGroup(Protocol):
    """A run kept by the kernel (Linux: ``kit._platform._cgroup.RunCgroup``).

    Every descendant of the process started with ``start_main(argv, group)`` is a member,
    whatever it does (double fork, ``setsid``, re-parenting); the totals include exited
    members.
    """

    backend: str  # "cgroup" or "pidns": the evidence it gives (kit.outcomes.Backend)

    def preexec(self) -> None: ...  # the started process joins the group before exec

    def join_paths(self) -> list[str] | None: ...  # files a relay's child writes "0" to; None: preexec only

    def procs(self, every: bool = True) -> set[int]: ...  # pids of the run's live processes (a zombie leader with
    # live threads too); ``every=False``: a cheaper reading where the group spans several hierarchies (the first)

    def threads(self) -> set[int] | None: ...  # thread ids of the run alive now (None: unknown)

    def quick_threads(self) -> frozenset[int] | None: ...  # thread ids as the last ``procs()`` read them, no new
    # reading, the same object while unchanged (None: not kept)

    def populated(self) -> bool: ...  # some process of the run is alive

    def wait_emptied(self, seconds: float) -> None: ...  # sleep, or less where the kernel says the run emptied

    def cpu_s(self) -> float | None: ...  # CPU seconds of every process ever in the run

    def cpu_stall_s(self) -> float | None: ...  # seconds some process of the run waited for a CPU; None: unknown

    def peak(self) -> int | None: ...  # most tasks (threads included) alive at once

    def kill(self, timeout: float = 5.0) -> list[int]: ...  # SIGKILL all, wait until empty; pids killed

    def close(self, timeout: float = 5.0) -> None: ...  # kill, then remove the group

    def describe(self) -> str: ...

    @property
    def memory_kept(self) -> bool: ...  # the kernel keeps the run's own memory (peak, limit, OOM kills)

    def memory_now(self) -> None: ...  # a tick: where only a bound is kept, read it now

    def memory_peak(self) -> int | None: ...  # bytes: the run's peak (memory_kept) or a bound; None: unknown

    def oom_kills(self) -> int | None: ...  # processes the kernel's OOM killer ended in the group; None: unknown

    def limit_memory(self, limit: int) -> None: ...  # swap included; raises an error saying why it cannot

    def paths(self) -> list[str]: ...  # the group's folders, for the guardian


class RunProcess(Protocol):
    """What the kit waits for, the run's main process or its relay: a ``Popen``, or a relay its
    server forked (``_relay.Relayed``)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


@runtime_checkable
class PlatformModule(Protocol):
    """What each OS module (``_linux``, ``_posix``, ``_windows``) provides; ``kit._platform``
    chooses one at import and mypy checks it against this (``--platform linux/darwin/win32``).
    What every OS shares (``unlink_left``, ``kill_group``, ``usable_cpu_count``...) is not here."""

    def become_subreaper(self) -> bool: ...  # orphans of the run re-parent to us (idempotent); whether they do

    def proc_reader(self) -> ProcReader: ...  # samples an observer's processes (``ProcSample``)

    def folder_watch(self, path: str) -> FolderWatch | None: ...  # whether a folder was written; None: cannot tell

    def exit_waiter(self, pid: int, folder: FolderWatch | None = None
                    ) -> ExitWaiter | None: ...  # sleep until a child ends (or ``folder`` is written); None: cannot

    def new_group_kwargs(self) -> dict[str, Any]: ...  # Popen arguments: a session / process group of its own

    def start_main(self, argv: list[str], group: RunGroup | None, on_started: Callable[[int], None] | None = None,
                   **popen: Any) -> tuple[RunProcess, int]: ...  # (what is waited for, main pid)

    def warm_up(self) -> None: ...  # what the first run would otherwise start within its clock (a relay server)

    def ppid_table(self, stop: float | None = None) -> dict[int, int]: ...  # pid -> parent pid of every
    # process on the machine, what was read by ``stop`` (``time.perf_counter()``)

    def reap(self, pid: int) -> None: ...  # collect the exit status of an adopted process

    def resume(self, pid: int) -> None: ...  # continue a stopped relay

    def run_group(self, tag: str) -> tuple[RunGroup | None, str]: ...  # a kernel-kept group, or None, and why

    def runs_kept_apart(self) -> tuple[bool, str]: ...  # whether runs at once can be told apart, and why

    def stack_signal(self) -> int | None: ...  # the signal on which processes write their Python stacks

    def kernel_log(self) -> KernelLog | None: ...  # the kernel's log from now on, where readable (OOM kills named)


class KernelLog(Protocol):
    """The kernel's messages from the moment it was opened (Linux: ``/dev/kmsg``)."""

    def oom_victims(self) -> list[tuple[int, str]]: ...  # (pid, name) the OOM killer ended since; never blocks

    def close(self) -> None: ...


def no_stack_signal() -> int | None:
    """No signal for Python stacks here (``kit.probe`` registers nothing): not tried on this OS."""
    return None


def no_kernel_log() -> KernelLog | None:
    return None


def no_run_group(tag: str) -> tuple[RunGroup | None, str]:
    """Platforms without a kernel-kept process group: always the psutil fallback."""
    return None, "no kernel-kept process group on this platform"


def popen_kwargs_for(new_group: dict[str, Any], group: RunGroup | None) -> dict[str, Any]:
    """``new_group`` (own session / process group), plus joining ``group`` before exec."""
    kwargs = dict(new_group)
    if group is not None:
        kwargs["preexec_fn"] = group.preexec  # runs after setsid (start_new_session), before exec
    return kwargs


def start_posix(argv: list[str], group: RunGroup | None, new_group: dict[str, Any],
                on_started: Callable[[int], None] | None = None, served: bool = False,
                **popen: Any) -> tuple[RunProcess, int]:
    """The run's main process under a relay (``_relay``: the script's parent is not the kit),
    in the relay's own session and inside ``group``; in the kit's container (a pid namespace,
    whose every new process is the run's) directly.  ``on_started(pgid)``: the
    run's process group, as soon as it exists.  (what the kit waits for, main process pid)."""
    join = group.join_paths() if group is not None else []
    if join is None:
        proc = subprocess.Popen(argv, **popen_kwargs_for(new_group, group), **popen)
        if on_started is not None:
            on_started(proc.pid)
        return proc, proc.pid
    return _relay.start(argv, join, on_started, served, **popen)


def unlink_left(rtype: str, name: str) -> bool:
    """Unlink a named semaphore or shared memory block a run left, as its resource tracker
    would have at exit (``resource_tracker._CLEANUP_FUNCS``: POSIX only; Windows names no such
    thing and its table is empty).  True when it existed and is gone now; False when it was
    gone already (the run or its tracker unlinked it) or this kind is unknown here."""
    from multiprocessing import resource_tracker

    table: dict[str, Callable[..., object]] = getattr(resource_tracker, "_CLEANUP_FUNCS", {})  # private, in 3.8-3.15
    cleanup = table.get(rtype)
    if cleanup is None or rtype in ("noop", "dummy"):
        return False
    try:
        cleanup(name)
    except (OSError, ValueError, TypeError):  # FileNotFoundError: already unlinked; a name the script made up
        # (a NUL in it: ValueError) or a table entry of another signature: not ours to force, never the kit's end
        return False
    return True
