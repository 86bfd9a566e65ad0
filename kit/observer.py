"""Watch a run's whole process tree from outside it, with psutil.

The observer lives in the process that started the run.  Each ``sample()``
walks the parent links of every process on the machine from the processes it
already knows (the root first), so grandchildren (forkserver workers) and
processes whose parent already died (orphans: the dead parent's pid stays in
their ``ppid`` on Windows, and on Linux they re-parent to us, the subreaper)
are found too.  Processes are keyed by (pid, create time), so a reused pid is
never mistaken for one of ours.

With a run kept by the kernel (``members``: the run group's ``procs()``), the kernel
says who belongs to the run: each sample reads that list only, not the whole process
table, and the observer just names, times and samples those processes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil

from kit import _platform
from kit.outcomes import Role
from kit.results import ProcRecord

PRIVATE_EVERY_NS = 150_000_000
"""Where the tree's PSS/USS is summed (``private_memory``), the first sample after this long reads it:
the kernel walks a process's page tables for it, milliseconds for a few hundred MiB."""
ADMIT_PER_SAMPLE = 64
"""With kernel-kept membership, new pids named per sample: a fork bomb must not stall the loop."""
SAMPLED_PER_SAMPLE = 256
"""With kernel-kept membership, processes read per sample (a rotating share of larger runs)."""
RECHECK_S = 0.1
"""A process admitted with its parent's command line is read again at every sample for this long
(it may exec: a helper execs right after its fork); the samples that read processes read every
process's command line anyway, for its first ``REFRESH_SAMPLES`` readings."""
REFRESH_SAMPLES = 8
CMDLINES_UP_TO = 64
"""With kernel-kept membership, command lines are read only while the run has at most this many
processes: reading one waits for the process's memory map, which a process that forks without
pause (a fork bomb) keeps locked; 30 s of such waits kept a container's kit from its timeout."""

ROLES = {r.value for r in Role}
ROLE_MARKERS = (
    ("multiprocessing.forkserver", Role.FORKSERVER),
    ("multiprocessing.resource_tracker", Role.RESOURCE_TRACKER),
    ("multiprocessing.semaphore_tracker", Role.RESOURCE_TRACKER),
)


@dataclass
class _Seen:
    proc: psutil.Process
    ppid: int
    create_time: float
    first_ns: int
    last_ns: int
    name: str = ""
    cmdline: list[str] = field(default_factory=list)
    gone_ns: int | None = None
    cpu_s: float = 0.0
    cpus: set[int] = field(default_factory=set)
    samples: int = 0
    forked_as: list[str] | None = None  # the parent's command line it was admitted with: exec may follow
    rss_peak: int | None = None  # the most resident memory read
    started: int | None = None  # its identity as the first reading returned it (``_platform.sample_proc``)


def _create_time(pid: int) -> float | None:
    """Create time of whatever process holds ``pid`` now; None when the pid is free."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def role_of(pid: int, root: int, cmdline: list[str], workers: set[int]) -> Role:
    """Name a process's part in the run: main, worker or a multiprocessing helper."""
    if pid == root:
        return Role.MAIN
    if pid in workers:  # forkserver workers carry the forkserver's command line
        return Role.WORKER
    joined = " ".join(cmdline)
    for marker, role in ROLE_MARKERS:
        if marker in joined:
            return role
    if "multiprocessing" in joined:
        return Role.WORKER
    return Role.OTHER


class Observer:
    """Samples the tree under ``root``; knows every process it ever saw."""

    def __init__(self, root: int, t0_ns: int, adopts_orphans: bool = False,
                 members: Callable[[bool], set[int]] | None = None, ignore: frozenset[int] = frozenset(),
                 parent: int | None = None, private_memory: bool = False) -> None:
        """``adopts_orphans``: this process is the run's subreaper (``_platform.become_subreaper()``
        returned True), so orphans of the run re-parent to it and are found by their parent pid.
        ``members(every)``: the pids of the run as the kernel keeps them (a run group's ``procs``;
        ``every=False`` between the samples that read processes: its cheaper reading); then no
        process table is read and no parent link is judged.  ``ignore``: our own children
        that are not the run's (the kit's guardian), never admitted as adopted orphans.
        ``parent``: the root's parent when it is not this process (the relay, ``_platform._relay``).
        ``private_memory``: nobody else keeps the run's memory: a sample every ``PRIVATE_EVERY_NS`` sums
        the tree's proportional (PSS, Linux) or private (USS) memory, whose highest sum is ``memory_peak``."""
        self.root = root
        self.ignore = ignore
        self._members = members
        self.last_members: set[int] = set()  # the latest ``members()`` answer
        self.t0_ns = t0_ns
        self.me = os.getpid()
        self.seen: dict[int, _Seen] = {}
        self.peak = 0
        self.private_memory = private_memory
        self.memory_peak = 0  # bytes: the highest sum of the tree's PSS/USS in one sample (private_memory)
        self._memory_sum = 0
        self._private_ns = 0  # when the tree's private memory was last summed
        self._private_now = False  # this sample sums it
        self.cpus: set[int] = set()
        self._adopts = adopts_orphans
        self._turn = 0
        self._reader = _platform.proc_reader()  # ``close()`` when the run is over
        self._forked: dict[int, _Seen] = {}  # admitted with the parent's command line (or none): read again
        self._admit(root, self.me if parent is None else parent, time.perf_counter_ns())

    # -- discovery -----------------------------------------------------------
    def _admit(self, pid: int, ppid: int, now: int, created: float | None = None,
               proc: psutil.Process | None = None) -> bool:
        """Start following ``pid``; False when it is already gone."""
        try:
            proc = psutil.Process(pid) if proc is None else proc
            created = proc.create_time() if created is None else created
        except psutil.Error:
            return False
        self.seen[pid] = _Seen(proc, ppid, created, now, now)
        return True

    def _few(self) -> bool:
        """Few enough processes that their command lines may be read (``CMDLINES_UP_TO``)."""
        return len(self.last_members) <= CMDLINES_UP_TO

    @property
    def kernel_kept(self) -> bool:
        """Membership comes from the kernel (a run group), not from parent links."""
        return self._members is not None

    def admit(self, pid: int) -> bool:
        """Follow ``pid``, known to be of the run (listed in its group); False if gone or known.
        Its name and command line are read at once: a helper that lives a few milliseconds
        (a resource tracker on a loaded machine) still gets its role."""
        if pid in self.seen or pid == self.me:
            return False
        try:
            proc = psutil.Process(pid)
            known = self._reader.identify(proc, cmdline=self._few())
            if known is None:
                return False
            created = self._reader.created(proc)
        except psutil.Error:
            return False
        ppid, name, cmdline = known
        admitted = self._admit(pid, ppid, time.perf_counter_ns(), created, proc)
        if admitted:
            seen = self.seen[pid]
            seen.name, seen.cmdline = name, cmdline
            parent = self.seen.get(ppid)
            if self._few() and (not cmdline or (parent is not None and parent.cmdline == cmdline)):
                seen.forked_as = cmdline  # caught between fork and exec (or a real fork): look again soon
                self._forked[pid] = seen
        return admitted

    def _recheck_forked(self, stop: float, read: bool = True) -> None:
        """Processes admitted with their parent's command line (or none yet) are read again at
        every sample for their first ``RECHECK_S``: a helper (resource tracker, forkserver) execs
        right after its fork, and must not keep the name it had for a few milliseconds.  A sample
        that reads processes (``read``) refreshes their command lines itself (``_sample_one``).
        Only the command line is read, the name once it changed."""
        if not self._forked or read or not self._few():
            return
        now = time.perf_counter_ns()
        for pid, seen in list(self._forked.items()):
            if seen.forked_as is None or seen.gone_ns is not None or now - seen.first_ns > RECHECK_S * 1e9:
                seen.forked_as = None
                del self._forked[pid]
                continue
            if time.perf_counter() > stop:
                continue
            if not self._reader.cmdline_changed(seen.proc):
                continue
            try:
                cmdline = seen.proc.cmdline()
                if cmdline and cmdline != seen.forked_as:
                    seen.cmdline, seen.name, seen.forked_as = cmdline, seen.proc.name(), None
                    del self._forked[pid]
            except psutil.Error:
                continue

    def _is_ours(self, ppid: int, created: float) -> bool:
        parent = self.seen.get(ppid)
        if parent is not None:
            if parent.gone_ns is not None and _create_time(ppid) not in (None, parent.create_time):
                return False  # our process is gone and its pid belongs to a stranger now
            # A parent is older than its child; a reused pid would not be.
            return created >= parent.create_time - 0.01
        # On Linux, orphans of the run re-parent to us, the subreaper.
        return self._adopts and ppid == self.me and created >= self.t0_epoch - 0.01

    @property
    def t0_epoch(self) -> float:
        return self.seen[self.root].create_time if self.root in self.seen else 0.0

    def _discover(self, now: int, read: bool = True, deadline: float | None = None) -> None:
        """Admit every new process whose parent is one of ours (or us, for adopted orphans).

        The whole process table is read once per sample, as pid -> ppid only
        (the cheap part); create times are asked only of the few candidates.  Nothing is read
        after ``deadline`` (``time.perf_counter()``): the rest waits for the next sample.
        """
        if self._members is not None:
            self.last_members = self._members(read)
            new = sorted(self.last_members - self.seen.keys())
            stop = time.perf_counter() + 0.05
            for pid in new[:ADMIT_PER_SAMPLE]:  # a fork bomb must not stall the watch loop
                self.admit(pid)
                if time.perf_counter() > stop:
                    break
            self._recheck_forked(stop, read)
            return
        table = _platform.ppid_table(deadline)
        changed = True
        while changed:  # fixpoint: children of newly admitted processes too
            changed = False
            for pid, ppid in list(table.items()):
                if deadline is not None and time.perf_counter() > deadline:
                    return
                ours = ppid in self.seen or ppid == self.me
                if pid in self.seen or pid == self.me or pid in self.ignore or not ours:
                    continue
                del table[pid]  # looked at once per sample, admitted or gone
                created = _create_time(pid)
                if created is not None and self._is_ours(ppid, created):
                    changed |= self._admit(pid, ppid, now, created)

    # -- sampling ------------------------------------------------------------
    def sample(self, budget_s: float | None = None, read: bool = True, deadline: float | None = None) -> int:
        """One look at the tree; returns how many of its processes are alive.

        ``budget_s``: with kernel-kept membership, stop reading processes when it is spent (a
        run of a thousand processes that starve the machine must not stall the watch loop past
        its deadline); the rest are read on the next sample.  ``read=False`` (kernel-kept
        membership only): new members are admitted and counted, no process is read (the kit
        reads them every few samples: its own CPU stays small).  ``deadline``
        (``time.perf_counter()``, sampled membership): nothing is read after it, the run's own
        deadline (a sample of a tree that starves the kit would take minutes: it must not keep
        the run alive past its timeout)."""
        now = time.perf_counter_ns()
        self._discover(now, read, deadline)
        if not read and self._members is not None:
            self.peak = max(self.peak, len(self.last_members))
            return len(self.last_members)
        alive = 0
        self._memory_sum = 0
        self._private_now = self.private_memory and now - self._private_ns >= PRIVATE_EVERY_NS
        if self._private_now:
            self._private_ns = now
        live = [s for s in self.seen.values() if s.gone_ns is None]
        if self._members is not None and (len(live) > SAMPLED_PER_SAMPLE or budget_s is not None):
            # the kernel keeps membership: read a bounded rotating share, count the rest as listed
            self._turn = (self._turn + SAMPLED_PER_SAMPLE) % max(1, len(live))
            share = (live[self._turn:] + live[: self._turn])[:SAMPLED_PER_SAMPLE]
            stop = time.perf_counter() + budget_s if budget_s is not None else None
            for seen in share:
                if stop is not None and time.perf_counter() > stop:
                    break
                if not self._sample_one(seen, now) and seen.proc.pid not in self.last_members:
                    seen.gone_ns = now
            alive = len(self.last_members)
            self.peak = max(self.peak, alive)
            self.memory_peak = max(self.memory_peak, self._memory_sum)  # of the share read: at least
            return alive
        for seen in live:
            if deadline is not None and time.perf_counter() > deadline:
                alive += 1  # unread: alive as far as the kit knows
                continue
            if self._sample_one(seen, now):
                alive += 1
            else:
                seen.gone_ns = now
        self.peak = max(self.peak, alive)
        self.memory_peak = max(self.memory_peak, self._memory_sum)
        return alive

    def _sample_one(self, seen: _Seen, now: int) -> bool:
        proc = seen.proc
        try:
            got = self._reader.sample(proc, seen.started)
            if got is None or got.zombie:
                self._reader.forget(proc.pid)
                return False
            seen.started = got.started
            seen.cpu_s = max(seen.cpu_s, got.cpu_s)
            seen.rss_peak = max(seen.rss_peak or 0, got.rss)
            if self._private_now:
                self._read_private(seen)
            if seen.samples < REFRESH_SAMPLES and self._reader.cmdline_changed(proc):  # a spawn child execs
                with proc.oneshot():  # after fork: refresh early
                    seen.name = proc.name()
                    if self._few():
                        seen.cmdline = proc.cmdline()
            if got.cpu is not None:
                seen.cpus.add(got.cpu)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False
        except psutil.AccessDenied:
            pass
        seen.samples += 1
        seen.last_ns = now
        return True

    def _read_private(self, seen: _Seen) -> None:
        """Its PSS (Linux) or USS, added to the tree's sum where nobody else keeps the run's memory
        (``private_memory``): the kernel walks its memory map for it, so only every ``PRIVATE_EVERY_NS``."""
        try:
            full = seen.proc.memory_full_info()
        except psutil.AccessDenied:
            return
        self._memory_sum += int(getattr(full, "pss", 0) or full.uss)

    # -- what is left --------------------------------------------------------
    def seemed_alive(self, pid: int) -> bool:
        """``pid`` was alive at the latest sample (no I/O: a member then, or not seen gone)."""
        if self._members is not None:
            return pid in self.last_members
        seen = self.seen.get(pid)
        return seen is not None and seen.gone_ns is None

    def lives(self, pid: int) -> bool:
        """``pid`` is alive now: a member of the run group (a zombie leader with live threads
        included), or, sampled, a process that is not a zombie."""
        if self._members is not None:
            return pid in self._members(True)
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def alive(self, include_root: bool = True) -> list[psutil.Process]:
        """Processes of the run still running (zombies excluded)."""
        return [seen.proc for pid, seen in self.seen.items()
                if seen.gone_ns is None and (include_root or pid != self.root) and _platform.running(seen.proc)]

    def kill_all(self) -> list[int]:
        """Freeze the whole tree (so nothing forks meanwhile), then kill it, until none of it is
        left; returns pids.  The tree is what the kit knows alive and what it finds new
        (``_platform.kill_process_tree``, the tests' tree killer too): no process is read for
        its CPU or memory (the sample before the kill did; reading a fork bomb's thousand again
        each round, a starved kit would keep the run alive)."""
        def tree() -> list[psutil.Process]:
            self._discover(time.perf_counter_ns())
            return self.alive()

        return _platform.kill_process_tree(tree, rounds=20, timeout=2, reap=self.reap_adopted)

    def close(self) -> None:
        """Nothing more will be sampled: let go of what the process reader keeps (descriptors)."""
        self._reader.close()

    def reap_adopted(self) -> None:
        """Collect exit statuses of orphans that re-parented to us (no zombies left)."""
        for pid in self.seen:
            if pid != self.root:
                _platform.reap(pid)

    def records(self, workers: set[int], helpers: dict[int, tuple[str, list[str]]] | None = None
                ) -> list[ProcRecord]:
        """What was seen of each process; ``helpers``: (role, command line) the processes said
        themselves (``kit.probe``: a resource tracker or forkserver knows what it is, even when
        psutil read its command line during exec, empty)."""
        def rel(ns: int) -> float:
            return round((ns - self.t0_ns) / 1e9, 4)

        def role(pid: int, s: _Seen) -> Role:
            if helpers and pid in helpers and pid != self.root:
                return Role(helpers[pid][0]) if helpers[pid][0] in ROLES else Role.OTHER
            parent = self.seen.get(s.ppid)
            if parent is not None and parent.cmdline == s.cmdline and pid != self.root:
                return Role.WORKER  # forked from its parent, not exec'd: a forkserver's child is a worker
            return role_of(pid, self.root, s.cmdline, workers)

        return [
            ProcRecord(
                pid=pid,
                ppid=s.ppid,
                name=s.name,
                cmdline=s.cmdline or (helpers or {}).get(pid, ("", []))[1],
                create_time=s.create_time,
                role=role(pid, s),
                first_seen_s=rel(s.first_ns),
                last_seen_s=rel(s.last_ns),
                gone_s=None if s.gone_ns is None else rel(s.gone_ns),
                cpu_s=round(s.cpu_s, 4),
                cpus=sorted(s.cpus),
                rss_peak_bytes=s.rss_peak,
            )
            for pid, s in self.seen.items()
        ]
