"""Linux: a run in its own cgroup, so the kernel keeps its membership and CPU for us.

Why: sampling ``/proc`` misses processes that live less than a sample (and undercounts
the most alive at once), costs the kit a share of a core, and ``getrusage(RUSAGE_CHILDREN)``
misses every process nobody waits for (the forkserver's workers).  A cgroup is kept by the kernel:
every descendant of a process placed in it is in it, whatever it does (double fork,
``setsid``, re-parenting to init); ``cgroup.procs`` lists them, ``cpu.stat``
``usage_usec`` counts the CPU of all of them, exited ones included, ``pids.peak`` the
most tasks alive at once, and ``cgroup.kill`` (or freeze + SIGKILL) ends them all,
a fork bomb included.

Layout: ``<our own cgroup>/kit/run-<owner pid>-<owner start>-<owner pid ns>-<n>-<tag>``
in the cgroup v2 tree (found in ``/proc/self/mountinfo``; our cgroup from the ``0::``
line of ``/proc/self/cgroup``), plus the same name in the v1 ``pids`` hierarchy where
one is mounted and writable (hybrid systems: ``pids.peak``), and in v1 ``cpuacct`` /
``freezer`` only when there is no usable v2 tree.  A child of our own cgroup works both
when we sit in the root (hybrid, as root) and when our cgroup holds processes (pure v2,
systemd): the "no internal processes" rule only bites when enabling domain controllers,
and ``cpu.stat`` ``usage_usec`` exists with no controller enabled.  The owner's pid, its
start time and its pid namespace are in the name, so that ``cleanup_stale()`` can remove
the groups of a kit that died without mistaking a reused pid for their owner.

Kernel behaviour relied on (tests/test_cgroup.py checks it on the machine it runs on):
``cgroup.procs`` lists a thread-group leader whose main thread exited while another
thread lives; ``cgroup.kill`` does *not* kill such a process (its threads live on), so
``kill()`` follows ``cgroup.kill`` with freeze + SIGKILL of every listed pid + thaw.
"""
from __future__ import annotations

import errno
import functools
import itertools
import os
import re
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator
import contextlib

from kit._platform._common import LimitUnavailable
from kit._platform._procfs import hierarchies, oom_kill_count, lives, read_cgroup_files, read_stat

assert sys.platform == "linux"  # imported on Linux only; tells mypy --platform X to skip the rest elsewhere

__all__ = ["CgroupStuck", "CgroupUnavailable", "RunCgroup", "available", "cleanup_stale"]

PARENT = "kit"  #: name of the group that holds the run groups, inside our own cgroup
_NAME = re.compile(r"^run-(\d+)-(\d+)-(\d+)-(\d+)(?:-.*)?$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_V1_WANTED = ("pids", "cpuacct", "freezer", "memory")
_DELEGATE = "systemd-run --user --scope -p Delegate=yes"
_POLL_S = 0.005
_CHUNK = 65536
_seq = itertools.count(1)
_seq_lock = threading.Lock()


class CgroupUnavailable(Exception):
    """No run group can be made here; ``reason`` is one line a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CgroupStuck(RuntimeError):
    """A run group could not be emptied or removed in time (the message names what is left)."""


# -- where the hierarchies are -------------------------------------------------------
@dataclass(frozen=True)
class _Place:
    """One hierarchy as seen from this process: where our own cgroup is in the file system."""

    version: int  # 2, or 1 for a v1 hierarchy
    controllers: frozenset[str]  # v1: the controllers we care about that it carries
    mountpoint: str
    own: str  # directory of our own cgroup (the base for our PARENT group)
    read_only: bool


@functools.lru_cache(maxsize=4)
def _places(mountinfo: str, cgroup: str) -> tuple[list[_Place], list[str]]:
    """Usable hierarchies (v2 first), and one-line notes on those we cannot use (parsed once per
    text: every run group reads the two files again, and they seldom change)."""
    places: list[_Place] = []
    notes: list[str] = []
    seen: set[str] = set()
    for found in hierarchies(mountinfo, cgroup):
        if found.version == 2:
            ctrls, key = frozenset[str](), ""
        else:
            ctrls = found.controllers & frozenset(_V1_WANTED)
            if not ctrls:
                continue
            key = min(ctrls)
        if found.path is None or key in seen:
            continue
        if found.own is None:
            notes.append(f"this process's cgroup {found.path} is outside the cgroup tree mounted at {found.mountpoint}")
            continue
        seen.add(key)
        places.append(_Place(found.version, ctrls, found.mountpoint, found.own, found.read_only))
    places.sort(key=lambda p: -p.version)
    return places, notes


_parsed: tuple[int, list[_Place], list[str]] | None = None
"""(pid, places, notes) as this kit process found them: read once, the hierarchies and our own
cgroup do not change while it runs (a forked child reads them again)."""


def _read_places() -> tuple[list[_Place], list[str]]:
    """The usable hierarchies and our place in each (``/proc/self/mountinfo``, ``/proc/self/cgroup``),
    parsed once per kit process; a failed read is tried again at the next call."""
    global _parsed
    if _parsed is None or _parsed[0] != os.getpid():
        try:
            mountinfo, cgroup = read_cgroup_files()
        except OSError as exc:
            return [], [f"cannot read /proc/self/mountinfo or /proc/self/cgroup ({exc.strerror}): is /proc mounted?"]
        _parsed = (os.getpid(), *_places(mountinfo, cgroup))
    return list(_parsed[1]), list(_parsed[2])  # copies: a run group adds its own notes


# -- who owns a run group ---------------------------------------------------------
def _start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, None if gone."""
    stat = read_stat(pid)
    return None if stat is None else stat.starttime


def _pidns() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


@functools.cache
def _owner(pid: int) -> str:
    """``run-<pid>-<start>-<pid namespace>``: the run groups' names say which kit process owns them
    (``cleanup_stale`` removes those whose owner died); once per kit process."""
    return f"run-{pid}-{_start_ticks(pid) or 0}-{_pidns()}"


def _owner_alive(pid: int, start: int, ns: int) -> bool | None:
    """True/False; None when the owner lived in another pid namespace (we cannot tell)."""
    if ns != _pidns():
        return None
    return _start_ticks(pid) == start


# -- small file helpers ---------------------------------------------------------------
def _read(path: str) -> str | None:
    """A small kernfs file's text; None when it cannot be read (a dozen a run as it starts and ends)."""
    data = _bytes(path)
    return None if data is None else data.decode("ascii", "replace")


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _ints(path: str) -> set[int]:
    text = _read(path)
    return {int(x) for x in text.split()} if text else set()


def _bytes(path: str) -> bytes | None:
    """A small kernfs file's bytes through a descriptor (no file object, one buffer); None when unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _pread_all(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _raw(path: str) -> bytes:
    """A small kernfs file's bytes (empty when unreadable)."""
    return _bytes(path) or b""


def _pread_all(fd: int) -> bytes:
    """Everything in a kernfs file from its start: a read at offset 0 makes the kernel list it anew."""
    chunks = [os.pread(fd, _CHUNK, 0)]
    while len(chunks[-1]) == _CHUNK:
        chunks.append(os.pread(fd, _CHUNK, _CHUNK * len(chunks)))
    return b"".join(chunks)


class _Listing:
    """One list of ids the kernel keeps (``cgroup.procs``, ``cgroup.threads``), read at every tick.

    v2 files are read again through a descriptor kept open (a read at offset 0 starts the list
    anew); a v1 one is opened each time, because a v1 list read twice through one descriptor
    is the list made at the first read.  The parsed set is kept while the bytes do not change."""

    def __init__(self, path: str, keep_open: bool) -> None:
        self.path = path
        self._fd: int | None = None
        self._keep = keep_open
        self._bytes = b""
        self._ids: frozenset[int] = frozenset()

    def read_bytes(self) -> bytes:
        if not self._keep:
            return _raw(self.path)
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            return _pread_all(self._fd)
        except OSError:
            self.close()
            return _raw(self.path)

    def read(self) -> frozenset[int]:
        data = self.read_bytes()
        if data != self._bytes:
            self._bytes, self._ids = data, frozenset(int(x) for x in data.split())
        return self._ids

    @property
    def fd(self) -> int | None:
        """The kept descriptor, once read through it (a read arms a kernfs file's poll)."""
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _leaf(path: str) -> bool:
    """No cgroup nested in ``path`` (kernfs: a directory's link count is 2 + its subdirectories)."""
    try:
        return os.stat(path).st_nlink == 2
    except OSError:
        return False


def _subdirs(path: str) -> Iterator[str]:
    """``path`` and every cgroup below it, deepest first."""
    try:
        if os.stat(path).st_nlink == 2:  # kernfs: 2 + subdirectories; a leaf needs no listing (a stat is cheaper)
            yield path
            return
    except OSError:
        pass
    try:
        entries = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except OSError:
        entries = []
    for entry in entries:
        yield from _subdirs(entry)
    yield path


def _sigkill(pids: Iterable[int]) -> None:
    """SIGKILL through a pidfd where possible (no pid-reuse race once the fd is open)."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            continue
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


def _reason(exc: OSError, where: str, place: _Place | None = None) -> str:
    """One line a person can act on, for an error met at ``where``."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        who = "not root" if os.geteuid() != 0 else "root, but denied"
        return (f"no permission to create cgroups in {where} ({who}, and this cgroup is not delegated to you): "
                f"run as root, or under `{_DELEGATE} <command>`")
    if exc.errno == errno.EROFS:
        mp = place.mountpoint if place else where
        return (f"the cgroup file system at {mp} is read-only (inside a container?): "
                "run on the host, or in a container with a writable cgroup (e.g. --privileged)")
    if exc.errno == errno.ENOENT:
        return f"{where} does not exist (cgroup file system not mounted, or our cgroup vanished)"
    if exc.errno == errno.EAGAIN:
        return f"cannot create more cgroups under {where} (cgroup.max.descendants or cgroup.max.depth reached)"
    return f"cannot create a cgroup in {where}: {exc.strerror or exc}"


# -- one directory of a run -------------------------------------------------------------
@dataclass
class _Dir:
    path: str
    version: int
    controllers: frozenset[str]
    _files: frozenset[str] | None = field(default=None, repr=False, compare=False)

    @property
    def parent(self) -> str:
        return os.path.dirname(self.path)

    def has(self, name: str) -> bool:
        """The directory holds ``name`` (listed once: a run's group is asked about a dozen files)."""
        if self._files is None:
            try:
                self._files = frozenset(os.listdir(self.path))
            except OSError:
                return False
        return name in self._files

    def forget(self) -> None:
        """Controllers were enabled above it: its files are to be listed again."""
        self._files = None

    def label(self) -> str:
        return "v2" if self.version == 2 else "v1 " + ",".join(sorted(self.controllers))


def _make_dir(place: _Place, name: str) -> _Dir:
    """``<own>/kit/<name>`` in ``place``; the parent is made when missing, and may vanish under us
    (another kit, or our own last run, removing it as it empties)."""
    parent = os.path.join(place.own, PARENT)
    path = os.path.join(parent, name)
    for attempt in range(5):
        try:
            os.mkdir(path)
            return _Dir(path, place.version, place.controllers)
        except FileNotFoundError:
            if attempt == 4 or not os.path.isdir(place.own):
                raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(parent)
    raise AssertionError("unreachable")


_unavailable: set[tuple[str, str]] = set()
"""(our cgroup, controller) found not available to it: not asked again by this kit process (a run
group's creation would read two files to say the same)."""


def _enable_v2(place: _Place, controller: str) -> str | None:
    """Make ``controller`` (pids, memory) available to the run groups under ``<own>/kit``; None if
    done, else why not.

    ``pids`` is a threaded controller: enabling it in a cgroup that holds processes is
    allowed while that cgroup has no populated child (cgroup_vet_subtree_control_enable);
    ``memory`` is a domain controller, refused (EBUSY) in a non-root cgroup that holds processes.
    Either changes our own cgroup, so that is done only where the cgroup is ours
    (delegated: owned by us, or marked by systemd's delegate xattr).
    """
    if (place.own, controller) in _unavailable:
        return f"the {controller} controller is not available to our cgroup"
    parent = os.path.join(place.own, PARENT)
    if controller not in (_read(os.path.join(parent, "cgroup.controllers")) or "").split():
        own_ctrls = (_read(os.path.join(place.own, "cgroup.controllers")) or "").split()
        if controller not in own_ctrls:
            _unavailable.add((place.own, controller))
            return f"the {controller} controller is not available to our cgroup"
        if not _delegated(place.own):
            return f"the {controller} controller is not enabled in {place.own}, which is not delegated to us"
        try:
            _write(os.path.join(place.own, "cgroup.subtree_control"), f"+{controller}")
        except OSError as exc:
            return f"cannot enable {controller} in {place.own}: {exc.strerror}"
    if controller not in (_read(os.path.join(parent, "cgroup.subtree_control")) or "").split():
        try:
            _write(os.path.join(parent, "cgroup.subtree_control"), f"+{controller}")
        except OSError as exc:
            return f"cannot enable {controller} in {parent}: {exc.strerror}"
    return None


def _delegated(path: str) -> bool:
    try:
        if os.stat(os.path.join(path, "cgroup.subtree_control")).st_uid == os.geteuid() != 0:
            return True
    except OSError:
        return False
    for attr in ("trusted.delegate", "user.delegate"):
        try:
            if os.getxattr(path, attr) in (b"1", b"1\n"):
                return True
        except OSError:
            continue
    return False


# -- a run ----------------------------------------------------------------------------------
class RunCgroup:
    """One run's group(s): membership, CPU, peak and kill from the kernel."""

    backend = "cgroup"

    def __init__(self, dirs: list[_Dir], notes: list[str] | None = None) -> None:
        self._dirs = dirs
        self._notes = list(notes or [])
        self._closed = False
        v2 = [d for d in dirs if d.version == 2]
        self._v2 = v2[0] if v2 else None
        self._events = os.path.join(v2[0].path, "cgroup.events") if v2 else None  # populated, frozen
        peak = next((d for d in dirs if d.has("pids.peak")), None)
        self._peak_file = os.path.join(peak.path, "pids.peak") if peak else None
        self._peak_src = peak.label() if peak else ""
        if self._v2 is not None and self._v2.has("cpu.stat"):
            self._cpu: tuple[str, float] | None = (os.path.join(self._v2.path, "cpu.stat"), 1e-6)
        else:
            acct = next((d for d in dirs if d.has("cpuacct.usage")), None)
            self._cpu = (os.path.join(acct.path, "cpuacct.usage"), 1e-9) if acct else None
        self._mem = _memory_files(dirs)
        self._mem_why = next((n.partition(": ")[2] for n in self._notes if n.startswith("memory unknown")), "")
        self._threads_in = next(((d, name) for d in dirs for name in ("cgroup.threads", "tasks") if d.has(name)), None)
        self._listings: dict[tuple[str, str], _Listing] = {}
        # v2: the first group's threads, read through a kept descriptor, say whether its processes changed
        v2_threads = dirs[0].version == 2 and self._threads_in == (dirs[0], "cgroup.threads")
        self._quick = (dirs[0], self._listing(dirs[0], "cgroup.threads")) if v2_threads else None
        self._quick_basis: frozenset[int] | None = None
        self._quick_pids: set[int] = set()
        self._nested = False
        self._others: set[int] = set()  # what the other groups listed, as the first group's threads were then
        self._others_basis: frozenset[int] | None = None
        # precomputed for preexec(): nothing but open/write/close in the child
        self._procs_files = tuple(os.fsencode(os.path.join(d.path, "cgroup.procs")) for d in dirs)

    # -- making one
    @classmethod
    def create(cls, tag: str = "") -> RunCgroup:
        """A new run group in every usable hierarchy (raises CgroupUnavailable with a reason)."""
        places, notes = _read_places()
        _cleanup_stale_once(places)
        if not places:
            raise CgroupUnavailable(notes[0] if notes else "no cgroup file system is mounted "
                                    "(no cgroup2 or cgroup line in /proc/self/mountinfo)")
        with _seq_lock:
            seq = next(_seq)
        safe = _UNSAFE.sub("_", tag)[:40]
        name = f"{_owner(os.getpid())}-{seq}" + (f"-{safe}" if safe else "")
        dirs: list[_Dir] = []
        errors: list[str] = []
        v2_ok = False
        pids_note = memory_note = ""
        try:
            for place in places:
                if place.version == 1 and v2_ok and not _v1_needed(place, dirs):
                    continue
                if place.read_only:
                    errors.append(_reason(OSError(errno.EROFS, "read-only"), place.own, place))
                    continue
                if not os.access(os.path.join(place.own, "cgroup.procs"), os.W_OK):
                    # moving a process needs write access to the common ancestor's cgroup.procs
                    errors.append(_reason(OSError(errno.EACCES, "denied"), place.own, place))
                    continue
                try:
                    made = _make_dir(place, name)
                except OSError as exc:
                    errors.append(_reason(exc, os.path.join(place.own, PARENT), place))
                    _rmdir_quiet(os.path.join(place.own, PARENT))
                    continue
                dirs.append(made)
                if place.version == 2:
                    v2_ok = True
                    if not made.has("pids.peak"):  # enabling pids in kit/ gives the run group its files
                        why = _enable_v2(place, "pids")
                        if why is None:
                            made.forget()
                            if not made.has("pids.peak"):
                                why = "this kernel has no pids.peak"
                        if why is not None:
                            pids_note = "pids.peak unknown: " + why
                    if not made.has("memory.current"):  # where memory can be enabled: the run's memory on v2
                        memory_note = _enable_v2(place, "memory") or ""
                        if not memory_note:
                            made.forget()
        except BaseException:
            for made in dirs:
                _remove_dir(made)
            raise
        if not dirs:
            raise CgroupUnavailable(errors[0] if errors else (notes[0] if notes else "no usable cgroup hierarchy"))
        if not v2_ok and errors:
            notes.insert(0, errors[0])
        if pids_note and not any(d.has("pids.peak") for d in dirs):
            notes.append(pids_note)
        if _memory_files(dirs) is None:
            notes.append("memory unknown: " + (memory_note or "no memory controller in a hierarchy we can use"))
        return cls(dirs, notes)

    # -- putting processes in
    def preexec(self) -> None:
        """``Popen(preexec_fn=group.preexec)``: the child joins every group of the run before exec.

        Only os.open/os.write/os.close of precomputed paths ("0" = the writing process).
        A failure raises in the child, and Popen raises SubprocessError in the parent.
        """
        for path in self._procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def join_paths(self) -> list[str]:
        """The ``cgroup.procs`` files the run's main process writes "0" to (under a relay)."""
        return [os.fsdecode(path) for path in self._procs_files]

    def add(self, pid: int) -> None:
        """Put an existing process (all its threads) into every group of the run."""
        data = str(pid).encode()
        for path in self._procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    # -- reading
    def procs(self, every: bool = True) -> set[int]:
        """Every pid in the run (nested groups included), union over the run's groups.

        ``every=False``: the first group only (v2 where there is one), the cheap reading of a
        tick between full ones: a process leaves one hierarchy only by moving itself there.
        With v2 first, the other groups are listed again only when its threads changed since
        they were, or when they held a process the first one did not (one that moved itself)."""
        if self._quick is None:
            pids: set[int] = set()
            for d in self._dirs if every else self._dirs[:1]:
                pids |= self._ids(d, "cgroup.procs")
            return pids
        first = self._quick_procs(*self._quick)
        if not every or len(self._dirs) == 1:
            return first
        if self._others_basis is not self._quick_basis or self._others - first:
            others: set[int] = set()
            for d in self._dirs[1:]:
                others |= self._ids(d, "cgroup.procs")
            self._others, self._others_basis = others, self._quick_basis
        return first | self._others

    def _quick_procs(self, d: _Dir, threads: _Listing) -> set[int]:
        """The first group's processes, listed again only when its threads changed: a process
        that starts, ends or moves to a nested group changes the set of live thread ids (one
        read), and a thread id is not reused while the thread lives.  With nested groups (the
        run made some) it is listed every time."""
        tids = threads.read()
        if tids is self._quick_basis and not self._nested:
            return set(self._quick_pids)
        self._quick_basis = None  # in case the next reading raises
        self._nested = not _leaf(d.path)
        self._quick_pids = self._ids(d, "cgroup.procs")
        self._quick_basis = tids
        return set(self._quick_pids)

    def quick_threads(self) -> frozenset[int] | None:
        """The run's thread ids as the latest ``procs()`` read them (no new reading; the same object
        while they do not change); None where that reading is not kept (no v2 group first, nested groups)."""
        if self._quick is None or self._nested:
            return None
        return self._quick_basis

    def threads(self) -> set[int] | None:
        """Thread ids of the run alive now (v2 ``cgroup.threads``, v1 ``tasks``); None if unknown.

        A process's main thread has the process's pid as its id; any other id is a thread."""
        if self._threads_in is None:
            return None
        return self._ids(*self._threads_in)

    def _listing(self, d: _Dir, name: str) -> _Listing:
        listing = self._listings.get((d.path, name))
        if listing is None:
            listing = self._listings[(d.path, name)] = _Listing(os.path.join(d.path, name), keep_open=d.version == 2)
        return listing

    def _ids(self, d: _Dir, name: str) -> set[int]:
        """The ids listed in ``name`` of ``d`` and of the groups nested in it (the run may make some)."""
        ids = set(self._listing(d, name).read())
        if not _leaf(d.path):
            for sub in _subdirs(d.path):
                if sub != d.path:
                    ids |= _ints(os.path.join(sub, name))
        return ids

    def populated(self) -> bool:
        """Some live process is in the run (v2 ``cgroup.events``; v1: ``cgroup.procs`` not empty)."""
        if self._events is not None:
            text = self._kept(self._events).read_bytes()
            if text:
                return b"populated 1" in text
        return bool(self.procs())

    def wait_emptied(self, seconds: float) -> None:
        """Sleep ``seconds``, or less: until the run is empty, as v2 ``cgroup.events`` says (the
        kernel wakes a poll for POLLPRI as ``populated`` flips).  Without v2, a sleep."""
        fd = self._kept(self._events).fd if self._events is not None else None
        if fd is None:  # never read (nor armed) through a kept descriptor: nothing to wait on
            time.sleep(seconds)
            return
        waiter = select.poll()  # POLLPRI only: kernfs reports its files always readable
        waiter.register(fd, select.POLLPRI)
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            with contextlib.suppress(InterruptedError):
                waiter.poll(left * 1000)
            if not self.populated():  # the read re-arms the poll; a notification the kernel held back
                return  # (at most one per 10 ms per file) may arrive for an older change: wait on

    def _kept(self, path: str) -> _Listing:
        """A small file of the run's groups read at every tick, through a descriptor kept open
        (v2 and v1 control files alike write their text anew at each read from offset 0)."""
        listing = self._listings.get((path, ""))
        if listing is None:
            listing = self._listings[(path, "")] = _Listing(path, keep_open=True)
        return listing

    def cpu_s(self) -> float | None:
        """CPU seconds used by every process ever in the run, exited ones included; None if unknown."""
        if self._cpu is None:
            return None
        path, unit = self._cpu
        text = _read(path)
        if text is None:
            return None
        if unit == 1e-9:
            return int(text) * unit
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) * unit
        return None

    def cpu_stall_s(self) -> float | None:
        """Seconds during which some process of the run was ready to run and waited for a CPU (v2
        ``cpu.pressure``, "some" total: the kernel's pressure stall information); None if unknown."""
        if self._v2 is None:
            return None
        return some_stall_s(_read(os.path.join(self._v2.path, "cpu.pressure")))

    def peak(self) -> int | None:
        """Most tasks (threads included) alive in the run at once, from ``pids.peak``; None if unknown."""
        if self._peak_file is None:
            return None
        text = _read(self._peak_file)
        return int(text) if text and text.strip().isdigit() else None

    # -- memory
    @property
    def memory_kept(self) -> bool:
        """The kernel keeps the run's memory: its peak, its limit, its OOM kills."""
        return self._mem is not None

    def memory_now(self) -> None:
        """Nothing to read per tick: the kernel keeps the peak."""

    def memory_peak(self) -> int | None:
        """The most memory the run used at once (bytes; swap included where the kernel counts it),
        every process ever in it included; None if unknown."""
        if self._mem is None:
            return None
        for path in self._mem.peaks:
            text = _read(path)
            if text is not None and text.strip().isdigit():
                return int(text)
        return None

    def oom_kills(self) -> int | None:
        """Processes of the run the kernel's OOM killer ended so far; None if unknown."""
        if self._mem is None:
            return None
        return oom_kill_count(self._kept(self._mem.events).read_bytes().decode("ascii", "replace"))

    def limit_memory(self, limit: int) -> None:
        """At most ``limit`` bytes for the whole run, swap included; raises CgroupUnavailable why not."""
        if self._mem is None:
            raise LimitUnavailable("the memory controller is not available to the run's cgroup "
                                   f"({self._mem_why or 'no memory files in its group'})")
        try:
            for path in self._mem.limits:
                _write(path, str(limit) if not path.endswith("swap.max") else "0")
        except OSError as exc:
            raise LimitUnavailable(f"cannot write the memory limit to {path}: {exc.strerror}") from exc

    def paths(self) -> list[str]:
        """The run's directories, one per hierarchy."""
        return [d.path for d in self._dirs]

    def describe(self) -> str:
        """One line: where the run's groups are and what each number comes from."""
        first = self._dirs[0]
        parts = [f"cgroup {first.label()} {first.path}"]
        for d in self._dirs[1:]:
            parts.append(f"{d.label()} {d.path}")
        if self._peak_file:
            parts.append(f"pids.peak from {self._peak_src}")
        elif not any(n.startswith("pids.peak") for n in self._notes):
            parts.append("pids.peak unknown")
        if self._cpu:
            parts.append("cpu from " + ("v2 cpu.stat" if self._cpu[1] == 1e-6 else "v1 cpuacct.usage"))
        else:
            parts.append("cpu unknown")
        if self._mem is not None:
            parts.append(f"memory from {self._mem.label}")
        parts.append("kill via " + self._kill_means())
        return ", ".join(parts + self._notes)

    # -- ending
    def _kill_means(self) -> str:
        if self._v2 is not None and self._v2.has("cgroup.kill"):
            return "cgroup.kill + freeze/SIGKILL"
        if self._freezer() is not None:
            return "freeze/SIGKILL/thaw"
        return "SIGKILL per pid" + (" with pids.max=0" if self._pids_max_files() else "")

    def _freezer(self) -> tuple[str, str, str] | None:
        """(file, freeze value, thaw value) of the run's freezer, if any."""
        if self._v2 is not None and self._v2.has("cgroup.freeze"):
            return os.path.join(self._v2.path, "cgroup.freeze"), "1", "0"
        for d in self._dirs:
            if d.has("freezer.state"):
                return os.path.join(d.path, "freezer.state"), "FROZEN", "THAWED"
        return None

    def _pids_max_files(self) -> list[str]:
        return [os.path.join(d.path, "pids.max") for d in self._dirs if d.has("pids.max")]

    def _live(self) -> set[int]:
        return {pid for pid in self.procs() if lives(pid)}

    def _empty(self) -> bool:
        return not self.populated() and not self._live()

    def _wait_empty(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while True:
            if self._empty():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(_POLL_S)

    def kill(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL everything in the run and wait until it is empty; returns the pids seen and killed.

        ``cgroup.kill`` first (it also stops forks racing with it); then, for what is
        left (a process whose main thread exited survives ``cgroup.kill``), freeze,
        SIGKILL each listed pid, thaw, and again until empty.  ``pids.max`` is 0 meanwhile,
        so nothing forks.  Raises CgroupStuck if the run is not empty after ``timeout``.
        """
        if self._empty():  # the run ended (and nothing joins an empty group but by moving there): nothing to stop
            return []
        deadline = time.monotonic() + timeout
        seen: set[int] = set()
        limits: dict[str, str] = {}
        for path in self._pids_max_files():
            old = _read(path)
            try:
                _write(path, "0")
                limits[path] = (old or "max").strip()
            except OSError:
                pass
        try:
            kill_file = os.path.join(self._v2.path, "cgroup.kill") if self._v2 and self._v2.has("cgroup.kill") else None
            freezer = self._freezer()
            rounds = 0
            while True:
                live = self._live()
                seen |= live
                if not live and self._empty():
                    return sorted(seen)
                if time.monotonic() > deadline:
                    raise CgroupStuck(f"run group {self._dirs[0].path} still holds {sorted(live)[:20]} "
                                      f"after {timeout:g} s")
                rounds += 1
                if kill_file is not None:
                    try:
                        _write(kill_file, "1")
                    except OSError:
                        kill_file = None
                    if kill_file is not None and self._wait_empty(min(0.05, max(0.0, deadline - time.monotonic()))):
                        continue
                if freezer is not None:
                    _write_quiet(freezer[0], freezer[1])
                    try:
                        self._wait_frozen(freezer, min(0.1, max(0.0, deadline - time.monotonic())))
                        live = self._live()
                        seen |= live
                        _sigkill(live)
                    finally:
                        _write_quiet(freezer[0], freezer[2])
                else:
                    live = self._live()
                    seen |= live
                    _sigkill(live)
                self._wait_empty(min(0.05, max(0.0, deadline - time.monotonic())))
        finally:
            for path, value in limits.items():
                _write_quiet(path, value)

    def _wait_frozen(self, freezer: tuple[str, str, str], seconds: float) -> None:
        end = time.monotonic() + seconds
        events = os.path.join(os.path.dirname(freezer[0]), "cgroup.events")
        while time.monotonic() < end:
            if freezer[1] == "1":
                if "frozen 1" in (_read(events) or ""):
                    return
            elif (_read(freezer[0]) or "").strip() == "FROZEN":
                return
            time.sleep(_POLL_S)

    def close(self, timeout: float = 5.0) -> None:
        """Kill the run, then remove every directory made for it (and ``kit`` if left empty). Idempotent.

        A process we started and have not waited for is a zombie, which does not keep a
        group busy; raises CgroupStuck if a directory cannot be removed in time.
        """
        if self._closed:
            return
        self.kill(timeout)
        for listing in self._listings.values():
            listing.close()
        self._listings.clear()
        deadline = time.monotonic() + timeout
        for d in self._dirs:
            while True:
                try:
                    _remove_dir(d, strict=True)
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise CgroupStuck(f"cannot remove {d.path}: {exc.strerror}") from None
                    time.sleep(_POLL_S)
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> RunCgroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RunCgroup {self.paths()}{' closed' if self._closed else ''}>"


@dataclass(frozen=True)
class _Memory:
    """Where a run's memory is kept: its peak (first that reads), OOM kill count, limit files in
    the order they are written."""

    peaks: tuple[str, ...]
    events: str
    limits: tuple[str, ...]
    label: str


def _memory_files(dirs: list[_Dir]) -> _Memory | None:
    """The run's memory files: v2 ``memory.peak`` (kernel 5.19+) and ``memory.events``, or v1's
    ``max_usage_in_bytes`` (with swap where accounted) and ``memory.oom_control``."""
    for d in dirs:
        join = functools.partial(os.path.join, d.path)
        if d.version == 2 and d.has("memory.peak"):
            limits: tuple[str, ...] = ("memory.max", "memory.swap.max") if d.has("memory.swap.max") else ("memory.max",)
            return _Memory((join("memory.peak"),), join("memory.events"), tuple(map(join, limits)),
                           "v2 memory.peak")
        if d.version == 1 and d.has("memory.max_usage_in_bytes"):
            swap = d.has("memory.memsw.max_usage_in_bytes")
            peaks = ("memory.memsw.max_usage_in_bytes",) if swap else ()
            limits = ("memory.limit_in_bytes",) + (("memory.memsw.limit_in_bytes",) if swap else ())
            return _Memory(tuple(map(join, peaks + ("memory.max_usage_in_bytes",))), join("memory.oom_control"),
                           tuple(map(join, limits)), "v1 memory.max_usage_in_bytes" + (" (memsw)" if swap else ""))
    return None


def _v1_needed(place: _Place, dirs: list[_Dir]) -> bool:
    """With a v2 group made: v1 pids for pids.peak if v2 has none; v1 freezer if v2 cannot kill/freeze."""
    v2 = next(d for d in dirs if d.version == 2)
    if "pids" in place.controllers and not v2.has("pids.peak"):
        return True
    if "freezer" in place.controllers and not (v2.has("cgroup.kill") or v2.has("cgroup.freeze")):
        return True
    if "memory" in place.controllers and not v2.has("memory.current"):
        return True
    return "cpuacct" in place.controllers and not v2.has("cpu.stat")


def _write_quiet(path: str, value: str) -> None:
    with contextlib.suppress(OSError):
        _write(path, value)


def _rmdir_quiet(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _remove_dir(d: _Dir, strict: bool = False) -> None:
    """rmdir the run's directory (nested groups first), then its ``kit`` parent if now empty."""
    for sub in _subdirs(d.path):
        try:
            os.rmdir(sub)
        except FileNotFoundError:
            pass
        except OSError:
            if strict:
                raise
    _rmdir_quiet(d.parent)  # EBUSY / ENOTEMPTY while other runs use it: fine


def some_stall_s(text: str | None) -> float | None:
    """The "some" total of a ``cpu.pressure`` file, in seconds; None when there is none."""
    for line in (text or "").splitlines():
        fields = line.split()
        if fields and fields[0] == "some":
            for field in fields[1:]:
                key, _, value = field.partition("=")
                if key == "total" and value.isdigit():
                    return int(value) / 1e6
    return None


# -- leftovers of dead kits ---------------------------------------------------------------
_stale_checked = False
"""``cleanup_stale`` ran in this kit process (before its first run, or at its first run group)."""


def _cleanup_stale_once(places: list[_Place]) -> None:
    global _stale_checked
    if not _stale_checked:  # once per kit process: a dead kit's groups are there before it starts
        _stale_checked = True
        cleanup_stale(places)


def warm_up() -> None:
    """What a kit process's first run group would do within its run's clock, done before it: the
    hierarchies read and parsed (``/proc/self/mountinfo``), the groups of dead kits removed.  Once:
    every run calls it, and later ones read nothing."""
    if _stale_checked:
        return
    with contextlib.suppress(OSError, CgroupStuck):
        _cleanup_stale_once(_read_places()[0])


def cleanup_stale(places: list[_Place] | None = None) -> int:
    """Remove the run groups whose owning kit process died, killing their processes first.

    Looks in ``<own cgroup>/kit`` of every hierarchy; a group whose owner lived in another
    pid namespace is left alone.  Returns how many runs were removed.
    """
    if places is None:  # given by create(), which has just read them
        places, _ = _read_places()
    runs: dict[str, list[_Dir]] = {}
    for place in places:
        parent = os.path.join(place.own, PARENT)
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            m = _NAME.match(name)
            if m is None or not os.path.isdir(os.path.join(parent, name)):
                continue
            if _owner_alive(int(m.group(1)), int(m.group(2)), int(m.group(3))) is False:
                runs.setdefault(name, []).append(_Dir(os.path.join(parent, name), place.version, place.controllers))
    removed = 0
    for dirs in runs.values():
        dirs.sort(key=lambda d: -d.version)
        try:
            RunCgroup(dirs).close()
            removed += 1
        except (CgroupStuck, OSError):
            continue
    return removed


def available() -> tuple[bool, str]:
    """(True, what a run group here looks like) or (False, why not: one line)."""
    try:
        with RunCgroup.create("probe") as group:
            return True, group.describe()
    except CgroupUnavailable as exc:
        return False, exc.reason
    except (OSError, CgroupStuck) as exc:
        return False, f"cgroups: {exc}"
