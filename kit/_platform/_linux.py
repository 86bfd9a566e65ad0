"""Linux: ``prctl(PR_SET_CHILD_SUBREAPER)`` makes every orphan of the run our child."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import select
import signal
import sys
import threading
import time

import psutil

assert sys.platform == "linux"  # imported on Linux only; tells mypy --platform X to skip the rest elsewhere

from typing import Any, Callable  # noqa: E402

from kit._platform import _cgroup, _pidns, _relay  # noqa: E402
from kit._platform import _common  # noqa: E402
from kit._platform._common import KernelLog, ProcSample, RunGroup, RunProcess, Woke, start_posix  # noqa: E402
from kit._platform._kmsg import KmsgLog  # noqa: E402
from kit._platform._posix import new_group_kwargs, reap, resume  # noqa: E402 - after the assert, for mypy
from kit._platform._procfs import parse_stat, read_stat  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

__all__ = ["become_subreaper", "exit_waiter", "folder_watch", "kernel_log", "new_group_kwargs", "ppid_table",
           "proc_reader", "reap", "resume", "run_group", "runs_kept_apart", "stack_signal",
           "start_main", "warm_up"]  # PlatformModule


def stack_signal() -> int | None:
    """The signal on which a run's processes write their Python stacks (``kit.probe``): the
    last real-time signal, which nothing of Python or multiprocessing uses (the C library keeps
    the first ones).  A process without the probe (not Python) dies of it: it is sent only
    at a timeout, just before the whole run is killed anyway."""
    return int(signal.SIGRTMAX)


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library: glibc's by its usual name, else as ``find_library`` finds it (which may run
    ``ldconfig``: a process started inside the first run's window)."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (an orphan re-parents to it, not to
    init: none escapes) and say whether it is one.  Idempotent.  The kernel keeps the flag, and
    it is asked each time, so no module state can disagree with it (the flag is not inherited
    across fork: a forked copy of the kit must set it again).  Whoever relies on adopting orphans
    (the runner, for ``Observer(adopts_orphans=...)``) calls this and passes on what it returns."""
    libc = _libc()
    flag = ctypes.c_int(0)
    if libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0 and flag.value:
        return True
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def kernel_log() -> KernelLog | None:
    """The kernel's log from now on (``/dev/kmsg``: root here), None where it cannot be read."""
    return KmsgLog.open()


def run_group(tag: str) -> tuple[RunGroup | None, str]:
    """A new cgroup for one run (stale groups of dead kits are removed first), or, in the kit's
    own container, its pid namespace; None and why not otherwise."""
    if _pidns.wanted():
        namespace = _pidns.PidNsGroup()
        return namespace, namespace.describe()
    try:
        group = _cgroup.RunCgroup.create(tag)
    except _cgroup.CgroupUnavailable as exc:
        return None, exc.reason
    except (OSError, _cgroup.CgroupStuck) as exc:
        return None, f"cgroups: {exc}"
    return group, group.describe()


def start_main(argv: list[str], group: RunGroup | None, on_started: Callable[[int], None] | None = None,
               **popen: Any) -> tuple[RunProcess, int]:
    """The run's main process: (what the kit waits for: its relay, forked by this kit process's relay
    server; the main process's pid); ``on_started(pgid)`` as soon as the run's process group exists."""
    return start_posix(argv, group, new_group_kwargs(), on_started, served=True, **popen)


def warm_up() -> None:
    """Before the first run's clock: the relay server started (``_relay.serve``), and, outside the
    kit's own container, the cgroup hierarchies parsed and dead kits' groups removed."""
    _relay.warm_up()
    if not _pidns.wanted():
        _cgroup.warm_up()


_TICKS = os.sysconf("SC_CLK_TCK")
_boot_time = functools.cache(psutil.boot_time)
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _kept_budget() -> int:
    """Descriptors all readers together may keep open: a quarter of this process's limit, at most 1024."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1024 if soft == resource.RLIM_INFINITY else max(0, min(1024, soft // 4))


def _split_cmdline(data: str) -> list[str]:
    """``/proc/PID/cmdline`` as psutil splits it (a process that rewrote it may use spaces)."""
    if not data:
        return []
    sep = "\0" if data.endswith("\0") else " "
    if data.endswith(sep):
        data = data[:-1]
    args = data.split(sep)
    return data.split(" ") if sep == "\0" and len(args) == 1 and " " in data else args


class StatReader:
    """Samples processes from ``/proc/PID/stat``, through a descriptor kept open for each of the
    first ``keep`` processes it follows (within the budget of every reader of the kit process):
    a read at offset 0 makes the kernel write the line anew, and the descriptor belongs to that
    process, not to its pid (a pid reused by another process reads as gone).  ``close()``
    closes them all."""

    _lock = threading.Lock()
    _kept = 0  # descriptors kept by every reader
    _budget: int | None = None

    def __init__(self, keep: int = 64) -> None:
        self._fds: dict[int, int] = {}
        self._keep = keep
        self._cmdlines: dict[int, bytes] = {}
        self._cmd_fds: dict[int, int] = {}
        self._starttimes: dict[int, int] = {}  # clock ticks after boot, as ``identify`` read them

    def sample(self, proc: psutil.Process, started: int | None = None) -> ProcSample | None:
        """``proc`` now; None when it is gone or, given ``started``, when its pid is another process's."""
        pid = proc.pid
        data = self._read(pid)
        if data is None:
            return None
        if not data:
            return _common.sample_proc(proc, started)
        try:
            st = parse_stat(data)
        except ValueError:
            return _common.sample_proc(proc, started)
        if started is not None and st.starttime != started:
            self.forget(pid)
            return None
        if st.state in ("Z", "X"):
            return ProcSample(True, 0.0, None, 0, st.starttime)
        return ProcSample(False, (st.utime + st.stime) / _TICKS, st.processor, (st.rss or 0) * _PAGE, st.starttime)

    def _read(self, pid: int) -> bytes | None:
        """The line of ``pid``; None when it is gone, empty when it cannot be read."""
        fd = self._fds.get(pid)
        kept = fd is not None
        try:
            if fd is None:
                fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
                if len(self._fds) < self._keep and self._reserve():
                    self._fds[pid], kept = fd, True
            return os.pread(fd, 4096, 0)
        except (FileNotFoundError, ProcessLookupError):  # gone (ESRCH: through a kept descriptor)
            self.forget(pid)
            return None
        except OSError:
            self.forget(pid)
            return b""
        finally:
            if fd is not None and not kept:
                os.close(fd)

    @classmethod
    def _reserve(cls) -> bool:
        with cls._lock:
            if cls._budget is None:
                cls._budget = _kept_budget()
            if cls._kept >= cls._budget:
                return False
            cls._kept += 1
            return True

    def identify(self, proc: psutil.Process, cmdline: bool = True) -> tuple[int, str, list[str]] | None:
        """(parent pid, name, command line) of ``proc`` as psutil gives them, from one read of
        ``/proc/PID/stat`` and one of ``/proc/PID/cmdline`` (``cmdline=False``: not read, empty),
        which also starts ``cmdline_changed``; None when it is gone."""
        data = self._read(proc.pid)
        if not data:
            return None if data is None else _common.identify(proc, cmdline)
        try:
            st = parse_stat(data)
        except ValueError:
            return _common.identify(proc, cmdline)
        name = st.comm
        self._starttimes[proc.pid] = st.starttime
        args: list[str] = []
        if cmdline:
            self.cmdline_changed(proc)
            args = _split_cmdline(os.fsdecode(self._cmdlines.get(proc.pid, b"")))
        if len(name) >= 15 and args and os.path.basename(args[0]).startswith(name):  # the kernel keeps 15 bytes
            name = os.path.basename(args[0])
        return st.ppid, name, args

    def created(self, proc: psutil.Process) -> float:
        """``proc.create_time()`` from the start time ``identify`` read (psutil's formula: clock ticks
        after boot, plus the boot time), the boot time read once per kit process: psutil reads
        ``/proc/stat`` again at every call."""
        started = self._starttimes.get(proc.pid)
        return proc.create_time() if started is None else started / _TICKS + _boot_time()

    def cmdline_changed(self, proc: psutil.Process) -> bool:
        """The bytes of ``/proc/PID/cmdline`` differ from those of the last call (the first call
        says True), or cannot be read: an exec since then, or maybe one.  The descriptor is
        kept like the stat one's: a read shows the process's memory as it is then."""
        pid = proc.pid
        fd = self._cmd_fds.get(pid)
        kept = fd is not None
        try:
            if fd is None:
                fd = os.open(f"/proc/{pid}/cmdline", os.O_RDONLY | os.O_CLOEXEC)
                if pid in self._fds and self._reserve():
                    self._cmd_fds[pid], kept = fd, True
            data = os.pread(fd, 65536, 0)
        except OSError:
            return True
        finally:
            if fd is not None and not kept:
                os.close(fd)
        changed = self._cmdlines.get(pid) != data
        self._cmdlines[pid] = data
        return changed

    def forget(self, pid: int) -> None:
        self._cmdlines.pop(pid, None)
        self._starttimes.pop(pid, None)
        for fds in (self._fds, self._cmd_fds):
            fd = fds.pop(pid, None)
            if fd is not None:
                os.close(fd)
                with self._lock:
                    StatReader._kept -= 1

    def close(self) -> None:
        for pid in list(self._fds) + list(self._cmd_fds):
            self.forget(pid)


_IN_NONBLOCK_CLOEXEC = os.O_NONBLOCK | os.O_CLOEXEC  # inotify_init1 takes the open(2) flags' values
_IN_WRITTEN = 0x2 | 0x100 | 0x80  # IN_MODIFY | IN_CREATE | IN_MOVED_TO
_IN_NEW = 0x100 | 0x80  # IN_CREATE | IN_MOVED_TO: a file that was not there
_IN_Q_OVERFLOW = 0x4000


class FolderWatch:
    """The files written in a folder since the last look (inotify): a folder nothing wrote to
    need not be listed again, nor the files nobody wrote to read.  Two descriptors: every write
    (``fileno``), and the files created only (``news_fileno``): a kit deaf to the chatter of
    the files it knows still hears a new one at once."""

    def __init__(self, fd: int, new_fd: int = -1) -> None:
        self._fd, self._new_fd = fd, new_fd

    def changed(self) -> set[str] | None:
        """The names of the files written since the last call; None when unknown (the kernel's
        queue overflowed, an error): look at every file."""
        if self._fd < 0:
            return None
        names = _names(self._fd)
        created = _names(self._new_fd) if self._new_fd >= 0 else set()  # read to rearm: its names are in both
        return None if names is None or created is None else names | created

    def fileno(self) -> int:
        return self._fd

    def news_fileno(self) -> int:
        return self._new_fd

    def close(self) -> None:
        for fd in (self._fd, self._new_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._new_fd = -1


def _names(fd: int) -> set[str] | None:
    """The names an inotify descriptor has queued (read empty); None if it overflowed or failed."""
    names: set[str] = set()
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return names
        except OSError:
            return None
        at = 0
        while at + 16 <= len(data):  # struct inotify_event: wd, mask, cookie, len, then the name
            mask, size = int.from_bytes(data[at + 4:at + 8], sys.byteorder), int.from_bytes(data[at + 12:at + 16],
                                                                                             sys.byteorder)
            if mask & _IN_Q_OVERFLOW:
                return None
            names.add(os.fsdecode(data[at + 16:at + 16 + size].rstrip(b"\0")))
            at += 16 + size


def folder_watch(path: str) -> FolderWatch | None:
    """A ``FolderWatch`` of ``path``; None where inotify cannot be used (without its second
    descriptor a watch hears every write, new files included, just as well)."""
    libc = _libc()
    fds: list[int] = []
    for mask in (_IN_WRITTEN, _IN_NEW):
        fd = libc.inotify_init1(_IN_NONBLOCK_CLOEXEC)
        if fd >= 0 and libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:
            os.close(fd)
            fd = -1
        if fd < 0 and not fds:
            return None
        fds.append(fd)
    return FolderWatch(*fds)


class ExitWaiter:
    """Sleeps until a process ends, a watched folder is written, or the time passes (its pidfd
    and the folder's inotify descriptors, polled): the end of a run is seen at once, a process
    of the run writing an event wakes the kit, and a wait is one system call."""

    def __init__(self, fd: int, folder: _common.FolderWatch | None = None) -> None:
        self._fd = fd
        self._folder = folder.fileno() if folder is not None else -1
        news = folder.news_fileno() if folder is not None else -1
        self._news = news if news >= 0 else self._folder  # no creations-only descriptor: every write is news
        self._ended = _poll(fd)  # the process's end only
        self._created = _poll(fd, self._news)  # ... or a file created in the folder
        self._any = _poll(fd, self._folder)  # ... or any write there (creations included)

    def wait(self, seconds: float, written: bool = True, news: bool | None = None) -> Woke:
        """What ended the wait: ``Woke.ENDED`` (ask the process), ``Woke.WRITTEN`` (the caller
        reads the folder's ``changed()``, else the next wait returns at once), or nothing.
        ``written=False``: a write to the folder does not end this wait; ``news`` (as ``written``
        unless given): a file created there does."""
        news = written if news is None else news
        poll = self._any if written else self._created if news else self._ended
        try:
            # rounded up: a wait never ends early (a caller waiting out a time would spin)
            ready = poll.poll(max(0, math.ceil(seconds * 1000)))
        except OSError:
            return Woke.ENDED
        woke = Woke.NOTHING
        for fd, _ in ready:
            woke |= Woke.ENDED if fd == self._fd else Woke.WRITTEN
        return woke

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _poll(*fds: int) -> select.poll:
    poll = select.poll()
    for fd in fds:
        if fd >= 0:
            poll.register(fd, select.POLLIN)
    return poll


def exit_waiter(pid: int, folder: _common.FolderWatch | None = None) -> ExitWaiter | None:
    """An ``ExitWaiter`` of ``pid`` (a child of ours, not yet waited for), also woken when ``folder``
    is written; None without pidfds."""
    try:
        return ExitWaiter(os.pidfd_open(pid), folder)
    except (AttributeError, OSError):  # Python before 3.9, Linux before 5.3
        return None


def proc_reader() -> StatReader:
    """A reader of processes for one observer (``StatReader``)."""
    return StatReader()


def ppid_table(stop: float | None = None) -> dict[int, int]:
    """pid -> parent pid from /proc/*/stat: one small read per process, cheaper
    than psutil's per-process objects, and the observer does it every sample.  ``stop``
    (``time.perf_counter()``): what was read by then (a starved kit must not read on)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        if stop is not None and time.perf_counter() > stop:
            break
        stat = read_stat(int(entry.name))
        if stat is not None:  # None: gone meanwhile
            table[stat.pid] = stat.ppid
    return table


def runs_kept_apart() -> tuple[bool, str]:
    """Whether runs in progress at once can be told apart: each in its own cgroup (not in the kit's
    container, whose pid namespace is one run's group); (False, why not) otherwise."""
    if _pidns.wanted():
        return False, "the container's pid namespace is the evidence of one run at a time"
    ok, why = _cgroup.available()
    return (True, why) if ok else (False, f"no cgroup for each run ({why})")
