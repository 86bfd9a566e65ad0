"""Run one example or script under one start method, observed, with a timeout.

The data flow of a run: start ``kit.launcher`` (the run's main process) with its output
going to bounded pipe readers (``kit.output``), watch it (the ``Observer`` looks at the tree as
often as it changes, ``kit.cadence``; a new process of the run and the main process's end wake
the kit; the events folder is read so that a crash loop is stopped early) until the main process
exits, the timeout hits or the kit is interrupted, wait a short grace for helpers to leave,
call whatever is still alive an orphan, kill the whole tree, then hand one frozen
``Observation`` to the pure judge (``kit.judge``).  Starting, watching, timing out and
killing live here; deciding does not.

Evidence: on Linux, where a cgroup can be made (``kit._platform.run_group``), the run's main
process joins its own cgroup before exec and the kernel keeps the run: membership (every
descendant, whatever it does), the CPU of every process including exited ones, the end
(the group is empty) and the kill (``cgroup.kill``).  psutil then only names the processes
the group lists, sampling them and nothing else (``Backend.CGROUP``).  Elsewhere, or when no
cgroup is usable, the observer samples the whole process table (``Backend.PSUTIL``: processes
living less than a sample are missed).  ``Observation.unmeasured`` says, in words, what the
chosen backend could not measure.

``KIT_EVIDENCE`` chooses: unset or ``auto`` (a cgroup where usable, else psutil), ``psutil``
(always sample, as on other platforms), ``cgroup`` (a cgroup or an ``EnvironmentProblem``
saying why none can be made).
"""
from __future__ import annotations

import atexit
import dataclasses
import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, Callable, Protocol
from pathlib import Path

import kit
import psutil

from kit import cadence, debug, env, events, judge, oom, runtime, _platform
from kit.catalogue import EXAMPLE, SUITE, Subject, example_subject, script_subject
from kit.deadlines import DEADLINES
from kit.errors import EnvironmentProblem, MemoryLimitUnavailable
from kit.observation import End, Observation
from kit.observer import Observer
from kit._platform import ExitWaiter, FolderWatch, Guardian, KernelLog, LimitUnavailable, RunGroup, RunProcess, Woke
from kit.interpreter import Interpreter
from kit.outcomes import DEFAULT, Backend, Ev, MemorySource, Method, Status, resolve_method
from kit.output import Capture
from kit.results import PlatformInfo, ProcRecord, RunResult
from kit.stop import STOP, Interrupted, Stopped
from kit.settings import DEFAULTS, Settings

__all__ = ["Interrupted", "Slot", "Stopped", "Subject", "example_subject", "overlap_safe", "run", "script_subject"]

INTERVAL_S = cadence.FAST_S
"""Between two looks where nothing adapts: the grace after the main process, the stacks asked for."""
SAMPLE_BUDGET_S = 0.05
"""With kernel-kept membership, the most one sample may spend naming processes: the deadline is
checked between samples, so a huge run must not make one sample last."""
EVIDENCE_VAR = env.EVIDENCE
OOM_SETTLE_S = 5.0
"""After the OOM killer ended a Pool worker, how long the main process may go on before the run is
stopped: a Pool never gives back the task a killed worker held, so a map() or get() waiting for it
waits forever (the kernel's count of OOM kills and the parent's view of the worker say so)."""
CRASH_LOOP_DEATHS = 5
"""A crash loop, stopped early: while the main process lives, the same child death this many
times, and this many processes started since that death first happened (a Pool replacing its
workers).  Ten children that each die once, started before the first death, are not a loop."""
KIT_ROOT = str(Path(kit.__file__).resolve().parent.parent)
HOOK_DIR = str(Path(kit.__file__).resolve().parent / "_hook")


class Slot(Protocol):
    """A run's place among the runs a scheduler lets run at once (``kit.schedule``).

    Once the main process has exited, a run only waits (at most the grace) for what it left
    behind to leave: ``release()`` lends its place to the next run.  A second attempt (the
    first was inconclusive) starts processes again: ``reclaim()`` waits for a place first.
    """

    def release(self) -> None: ...

    def reclaim(self) -> None: ...


_warm_lock = threading.Lock()
_warmed: dict[str, bool] = {}


def warm_bytecode(folder: str = str(Path(kit.__file__).resolve().parent)) -> bool:
    """Compile the kit's own modules once per kit process, where their bytecode is missing or stale.

    Every Python process of a run imports ``kit.probe`` (and the main process the launcher)
    from the kit's package.  With ``PYTHONDONTWRITEBYTECODE`` set (common in Dockerfiles and CI)
    or an editable install never imported before, each process would compile them from source
    again: about 2 ms of CPU per process, a few hundred processes per matrix.  Only the kit's
    own package folder is written (what ``pip install`` does at install time); a folder that
    cannot be written is left alone.  False when some module could not be compiled."""
    import compileall  # once per kit process, not in the runs

    with _warm_lock:  # runs start from several threads: one compiles, the others wait for it and use its answer
        if folder not in _warmed:
            _warmed[folder] = bool(compileall.compile_dir(folder, quiet=2))  # quiet=2: prints nothing, even on errors
        return _warmed[folder]


def child_env(events_path: str, scale: float, interpreter: Interpreter | None = None, method: str = ""
              ) -> dict[str, str]:
    """The run's environment: the events folder, unbuffered UTF-8 output, and the kit's hook on
    ``PYTHONPATH``.  Under the kit's own interpreter the hook and the kit's package folder; under
    a user's (``interpreter``) only the staged runtime (``kit.runtime``): nothing else of the kit's
    environment may shadow the project's packages."""
    out = dict(os.environ)
    out.update({
        env.EVENTS: events_path,
        env.SCALE: repr(scale),
        env.METHOD: method,
        "PYTHONUNBUFFERED": "1",  # pipes are not TTYs: keep lines in order
        "PYTHONUTF8": "1",  # the article's messages must print on any console
        "PYTHONIOENCODING": "utf-8",
    })
    signum = _platform.stack_signal()
    if signum is not None:  # each process writes its Python stacks on this signal (kit.probe): sent at a timeout
        out[env.STACK_SIGNAL] = str(signum)
    # the hook first: its sitecustomize installs kit.probe in every Python process of the run
    if interpreter is None:
        warm_bytecode()
        out["PYTHONPATH"] = os.pathsep.join(p for p in (HOOK_DIR, KIT_ROOT, out.get("PYTHONPATH")) if p)
    else:
        staged = _staged(interpreter)
        out["PYTHONPATH"] = staged.pythonpath(out.get("PYTHONPATH"))
    return out


@functools.cache
def _staged(interpreter: Interpreter) -> runtime.Runtime:
    """The runtime staged once per kit process, its bytecode written for ``interpreter``."""
    staged = runtime.stage()
    staged.compile_for(interpreter.path, interpreter.cache_tag)
    return staged


def _temp_dir() -> tempfile.TemporaryDirectory[str]:
    try:
        return tempfile.TemporaryDirectory(prefix="kit-")
    except OSError as exc:
        raise EnvironmentProblem(f"no usable temporary folder ({exc.strerror or exc}): set TMPDIR to a "
                                 "writable folder") from None


def run(subject: Subject, method: str, settings: Settings = DEFAULTS, slot: Slot | None = None) -> RunResult:
    """Run ``subject`` under ``method`` (or ``default``); never hangs, never leaves a process behind.

    ``slot``: the run's place in a schedule, lent while the run waits out its grace.
    Raises ``Interrupted`` (carrying the interrupted run's result) on Ctrl-C, after cleaning up.
    """
    interp = settings.interpreter if subject.kind != EXAMPLE else None
    requested = method
    own_default = interp.default_method if interp is not None and method == DEFAULT else ""
    method = own_default or resolve_method(method)
    here = _here() if interp is None else platform_of(interp)
    if method not in multiprocessing.get_all_start_methods():
        return RunResult(subject.name, Method(method), Status.SKIPPED, f"{method} is not available on {here.os}",
                         scale=settings.scale, platform=here, requested_method=requested)
    prepare()
    if interp is None:  # once per kit process, before the run's clock and its watcher's CPU start
        warm_bytecode()
    STOP.began()
    try:
        return _run(subject, method, requested, settings, here, slot)
    finally:
        STOP.ended()


def _run(subject: Subject, method: str, requested: str, settings: Settings, here: PlatformInfo,
         slot: Slot | None = None) -> RunResult:
    if STOP.signum:  # asked to stop before this run began
        result = RunResult(subject.name, Method(method), Status.INTERRUPTED,
                           f"not run: the kit was stopped ({STOP.name()})",
                           scale=settings.scale, platform=here, requested_method=requested)
        raise Interrupted(result, STOP.signum)
    for attempt in (1, 2):
        if attempt == 2 and slot is not None:
            slot.reclaim()
        key: str | None = None
        try:
            with _temp_dir() as tmp:
                events_dir = str(Path(tmp) / "events")
                Path(events_dir).mkdir()
                key = guardian().add("folder", [tmp])  # a kit killed meanwhile leaves no folder behind either
                obs = _observe(subject, method, settings, here, events_dir, slot)
        finally:
            if key is not None:  # removed with the with-block: the guardian has nothing left to remove
                guardian().done(key)
        result = judge.judge(obs, subject.checks_for(method), subject.facts, suite=subject.kind == SUITE)
        if result.status is not Status.INCONCLUSIVE or attempt == 2 or STOP.signum:
            break
        first = result.reason  # the machine was too busy to decide: once more
    if attempt == 2:
        result.reason += f" (second attempt; the first was inconclusive too: {first})" \
            if result.status is Status.INCONCLUSIVE else f" (second attempt; the first was inconclusive: {first})"
    result.requested_method = requested
    if obs.end is End.INTERRUPTED:
        raise Interrupted(result, int(getattr(signal.Signals, obs.stop_reason, signal.SIGINT)))
    return result


def prepare() -> None:
    """Start what every run of this kit process needs, once, before any run's clock: the guardian,
    and the platform's warm-up (Linux: the relay server; the cgroup hierarchies read, dead kits'
    groups removed).  The guardian and the relay server are processes whose start-up overlaps
    whatever the kit does next (a matrix calls this before it plans, ``run`` before it compiles the
    kit's bytecode).  Idempotent; each is started again if it died."""
    guardian()
    _platform.warm_up()


_guardian: Guardian | None = None


def guardian() -> Guardian:
    """This kit process's guardian, started with its first run: if the kit dies (SIGKILL, or a
    script that kills its parent), it kills every run still registered (``kit._platform._guardian``)."""
    global _guardian
    with _guardian_lock:  # overlapping runs start from several threads
        if _guardian is None or _guardian.proc.poll() is not None:
            _guardian = Guardian()
            atexit.register(_guardian.close)  # a normal exit waits for it: it never outlives us as a zombie
        return _guardian


_guardian_lock = threading.Lock()
_launchers: set[int] = set()
"""Main processes of the runs in progress (this process's own children): never reaped by another
run's clean-up, which reaps pids of its own that exited long ago (a pid is reused, 32768 here)."""


def overlap_safe() -> tuple[bool, str]:
    """Whether runs in progress at the same time can be told apart here: each in its own cgroup.
    Sampled evidence (psutil) admits orphans adopted by the kit to the run in progress, and a
    container's pid namespace is the run: (False, why) there."""
    choice = os.environ.get(EVIDENCE_VAR, "").strip().lower() or "auto"
    if choice == "psutil":
        return False, f"{EVIDENCE_VAR}=psutil: runs are told apart by sampling"
    return _platform.runs_kept_apart()


def _run_group(subject: Subject) -> tuple[RunGroup | None, str]:
    """The run's kernel-kept group as ``KIT_EVIDENCE`` asks, or None and why not."""
    choice = os.environ.get(EVIDENCE_VAR, "").strip().lower() or "auto"
    if choice not in ("auto", "cgroup", "psutil"):
        raise EnvironmentProblem(f"{EVIDENCE_VAR}={choice!r}: use auto, cgroup or psutil")
    if choice == "psutil":
        return None, f"{EVIDENCE_VAR}=psutil"
    group, why = _platform.run_group(Path(subject.name).stem)
    if group is None and choice == "cgroup":
        raise EnvironmentProblem(f"{EVIDENCE_VAR}=cgroup, but no cgroup can be made here: {why}")
    return group, why


def check_memory_limit(settings: Settings) -> None:
    """Before anything runs on the host: ``settings.memory_limit`` can be applied to a run here, or a
    ``MemoryLimitUnavailable`` says why not (one line)."""
    if settings.memory_limit is None:
        return
    group, why = _run_group(example_subject("hello"))
    try:
        _apply_limit(group, why, settings.memory_limit)
    finally:
        if group is not None:
            group.close()


def _apply_limit(group: RunGroup | None, why_not: str, limit: int) -> None:
    """``group`` holds at most ``limit`` bytes, or ``MemoryLimitUnavailable`` says why not (never ignored)."""
    try:
        if group is None:
            raise LimitUnavailable(f"the run gets no cgroup of its own ({why_not})")
        group.limit_memory(limit)
    except LimitUnavailable as exc:
        raise MemoryLimitUnavailable(
            f"--memory-limit cannot be applied here: {exc}; it needs the memory controller of a cgroup "
            "the kit may write (root on Linux), or --targets docker") from None


_platforms: dict[str, PlatformInfo] = {}


def _here() -> PlatformInfo:
    """This machine and this interpreter, as every run's result names them: read once per kit
    process and place (the usable CPUs are a cgroup's files to read: not at every run), a copy each."""
    place = os.environ.get(env.TARGET, "host")
    if place not in _platforms:
        _platforms[place] = PlatformInfo.here(place)
    return dataclasses.replace(_platforms[place])


def platform_of(interp: Interpreter) -> PlatformInfo:
    """Where a run in the user's interpreter happens: this machine, that Python."""
    here = _here()
    return dataclasses.replace(here, python=interp.version_text, implementation=interp.implementation,
                               default_method=interp.default_method or here.default_method,
                               methods=list(interp.methods) or here.methods, executable=interp.path)


PSUTIL_UNMEASURED = ("processes that live less than a sampling interval (20 ms) and their CPU",
                     "membership: processes are the run's by parent links and create times, sampled every 20 ms")


def _observe(subject: Subject, method: str, settings: Settings, here: PlatformInfo, events_dir: str,
             slot: Slot | None = None) -> Observation:
    """One run, observed: started (``_Launch``), watched and stopped (``_Live``), then read back."""
    live = _Launch(subject, method, settings, events_dir).start()
    live.watch(slot)
    return live.observation(here)


class _Launch:
    """Everything a run needs before its main process exists, then its start.

    The guardian learns the run before its main process exists, so a kit killed while the run
    starts leaves nothing: the cgroup is made (and registered) first; a process group, as the
    relay starts.  A main process that cannot join the cgroup is started again without one."""

    def __init__(self, subject: Subject, method: str, settings: Settings, events_dir: str) -> None:
        self.subject, self.method, self.settings, self.events_dir = subject, method, settings, events_dir
        self.adopts = _platform.become_subreaper()
        self.cpu0 = time.thread_time()  # this thread watches this run (others may watch theirs meanwhile)
        self.busy0 = machine_busy_s()
        self.watcher = guardian()  # before the run starts: never taken for one of its adopted orphans
        self.group, self.why_not = _run_group(subject)
        self.keys = [self.watcher.add("cgroup", self.group.paths())] if self.group is not None else []
        self.kmsg: KernelLog | None = None
        self.pgid: int | None = None  # the run's process group (its relay's), once started
        if settings.memory_limit is not None:
            try:
                _apply_limit(self.group, self.why_not, settings.memory_limit)
            except MemoryLimitUnavailable:
                self._forget_group()  # the run does not start
                raise
        self.written = _platform.folder_watch(events_dir)  # before the run: its first event counts
        if self.group is not None and self.group.memory_kept:
            self.kmsg = _platform.kernel_log()  # who the OOM killer ended, as the kernel names them

    def _started(self, pgid: int) -> None:
        self.pgid = pgid
        if not self.keys:
            self.keys.append(self.watcher.add("pgid", [str(pgid)]))

    def _forget_group(self) -> None:
        if self.kmsg is not None:
            self.kmsg.close()
            self.kmsg = None
        for key in self.keys:
            self.watcher.done(key)
        self.keys.clear()
        if self.group is not None:
            self.group.close()
            self.group = None

    def _launch(self, out_w: int, err_w: int) -> tuple[RunProcess, int]:
        """(what the kit waits for: the main process or its relay, the main process's pid).  A script
        or a suite runs in the user's interpreter when the settings name one; an example always in
        the kit's."""
        interp = self.settings.interpreter if self.subject.kind != EXAMPLE else None
        python = interp.path if interp is not None else sys.executable
        return _platform.start_main(
            [python, "-W", "default", "-m", "kit.launcher", self.method, *self.subject.launcher_args], self.group,
            self._started, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
            env=child_env(self.events_dir, self.settings.scale, interp, self.method), cwd=self.subject.cwd or None,
        )

    def start(self) -> _Live:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        t0 = time.perf_counter_ns()
        try:
            try:
                proc, main = self._launch(out_w, err_w)
            except subprocess.SubprocessError as exc:  # the child could not join the group
                if self.group is None:
                    raise
                self._forget_group()
                if self.settings.memory_limit is not None:  # without the group, no limit: never run unlimited
                    raise MemoryLimitUnavailable(f"--memory-limit: the run could not join its cgroup ({exc})"
                                                 ) from None
                self.why_not = f"joining the run's cgroup failed ({exc})"
                t0 = time.perf_counter_ns()
                proc, main = self._launch(out_w, err_w)
        except BaseException:
            self._forget_group()
            if self.written is not None:
                self.written.close()
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        _launchers.update({proc.pid, main})
        return _Live(self, proc, main, t0, Capture(out_r), Capture(err_r))


class _Live:
    """A run whose main process was started: watched until it ends (or the timeout, or a stop),
    stopped (every process killed, the group closed), then turned into one ``Observation``."""

    def __init__(self, launch: _Launch, proc: RunProcess, main: int, t0: int, out: Capture,
                 err: Capture) -> None:
        self.launch, self.proc, self.main, self.t0, self.out, self.err = launch, proc, main, t0, out, err
        self.group = launch.group
        self.reader = events.Reader(launch.events_dir)
        self.events = _Events(self.reader, launch.written)
        self.observer = Observer(main, t0, adopts_orphans=launch.adopts,
                                 members=self.group.procs if self.group is not None else None,
                                 ignore=frozenset({launch.watcher.proc.pid, proc.pid,  # the kit's own
                                                   _platform.relay_server_pid() or 0}),
                                 parent=proc.pid if proc.pid != main else None,
                                 private_memory=self.group is None or self.group.memory_peak() is None)
        self.tally = _Tally(self.group)
        self.end, self.stop_reason, self.end_ns = End.EXITED, "", t0
        self.stacks: dict[int, str] = {}
        self.orphans: set[int] = set()
        self.settled_ns: int | None = None
        self.settled_members: frozenset[int] | None = None  # the group's pids at the first look after main's exit
        self.killed: list[int] = []
        self.cpu_total: float | None = None
        self.cpu_stall: float | None = None
        self.task_peak: int | None = None
        self.memory_peak: int | None = None
        self.oom_kills: int | None = None
        self.oom_victims: list[tuple[int, str]] = []

    def watch(self, slot: Slot | None) -> None:
        """Until the main process ends (then the grace for what it left), the deadline or a stop;
        whatever happens, the run is stopped before this returns."""
        settings = self.launch.settings
        deadline_ns, pgid = self.t0 + int(settings.timeout * 1e9), self.launch.pgid
        try:
            try:
                if pgid is not None:  # stopped at its deadline even when it starves the watch loop
                    DEADLINES.arm(id(self), deadline_ns, functools.partial(_platform.stop_group, pgid))
                try:
                    self.end, self.stop_reason, self.end_ns = _watch(
                        self.proc, self.observer, self.events, deadline_ns, self.tally, self.main)
                finally:
                    if DEADLINES.disarm(id(self)) and self.end not in (End.TIMEOUT, End.INTERRUPTED) \
                            and pgid is not None:
                        _platform.continue_group(pgid)  # it ended just before its deadline: helpers go on
                self._phase(f"watched: {self.end.value}")
                if self.end is End.EXITED:
                    if slot is not None:  # only leftovers now: another run may start meanwhile
                        slot.release()
                    self.orphans, self.settled_ns, self.settled_members = _outliving(
                        self.observer, settings.grace, self.group, self.tally)
                elif self.end in (End.TIMEOUT, End.INTERRUPTED):  # where it was; no new reading of the run (a
                    # fork bomb starves the kit: each reading costs seconds), the whole run stopped at once
                    # but the few asked for their stacks (each wake-up of a starved kit costs a scheduler round)
                    o = self.observer
                    self.stacks = ask_for_stacks(o.last_members if o.kernel_kept else
                                                 {pid for pid, s in o.seen.items() if s.gone_ns is None},
                                                 self.launch.events_dir, first=self.main,
                                                 stopped=pgid is not None and _platform.stop_group(pgid))
                    self._phase(f"stacks: {len(self.stacks)}")
            except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into one by kit.cli
                self.end, self.end_ns = End.INTERRUPTED, time.perf_counter_ns()
                self.stop_reason = signal.Signals(getattr(exc, "signum", signal.SIGINT)).name
        finally:
            self._stop()

    def _phase(self, what: str) -> None:
        """On the debug channel: a step of the run's end and when (a starved kit's slow steps, named)."""
        if debug.enabled():
            debug.log(f"{self.launch.subject.name} under {self.launch.method}: {what} at "
                      f"+{(time.perf_counter_ns() - self.t0) / 1e9:.2f} s")

    def _stop(self) -> None:
        """Kill the whole run, wait for its main process, read the group's totals and close it."""
        try:
            self.killed = _kill(self.observer, self.group, self.launch.pgid)
            self._phase(f"killed: {len(self.killed)}")
        finally:
            if self.proc.poll() is None:  # the kill failed (a kit bug, said on the debug channel): never hang
                self.proc.kill()
            self.proc.wait()
            _launchers.difference_update({self.proc.pid, self.main})
            try:
                if self.group is not None:
                    self.cpu_total = self.group.cpu_s()
                    self.cpu_stall = self.group.cpu_stall_s()
                    self.task_peak = self.group.peak()
                    self.memory_peak = self.group.memory_peak()
                    self.oom_kills = self.group.oom_kills()
                    if self.launch.kmsg is not None and self.oom_kills:
                        self.oom_victims = self.launch.kmsg.oom_victims()
                    _close(self.group, self.observer)
            finally:  # descriptors the watching kept: never left open, whatever the clean-up met
                self.observer.close()
                if self.launch.kmsg is not None:
                    self.launch.kmsg.close()
                if self.launch.written is not None:
                    self.launch.written.close()
            self.launch.watcher.done(self.launch.keys[0])
            self._phase("closed")

    def _records(self, all_events: list[events.Event]) -> tuple[list[ProcRecord], set[object]]:
        """Every process of the run, named, with the stacks asked for; zombies reaped, IPC names unlinked."""
        workers = {e.data.get("child") for e in all_events if e.kind == Ev.PROCESS_STARTED}
        for pid in self.tally.members_ever | set(self.killed) | {w for w in workers if isinstance(w, int)}:
            if pid not in _launchers:  # another run's main process under a reused pid: that run's to wait for
                _platform.reap(pid)  # orphans re-parented to us and killed unseen: no zombie stays
        helpers = {e.pid: (str(e.data.get("role")), [str(a) for a in e.data.get("argv") or []])
                   for e in all_events if e.kind == Ev.HELPER}
        records = [dataclasses.replace(r, stack=self.stacks[r.pid]) if r.pid in self.stacks else r
                   for r in self.observer.records({w for w in workers if isinstance(w, int)}, helpers)]
        return records, workers

    def _figures(self, records: list[ProcRecord], workers: set[object], all_events: list[events.Event]
                 ) -> tuple[Backend, float, int, bool, tuple[str, ...]]:
        """Who kept the run, its CPU, its peak (and whether the kernel counted it), what was not measured."""
        sampled_cpu = sum(r.cpu_s for r in records)
        if self.group is None:
            return (Backend.PSUTIL, sampled_cpu, self.observer.peak, False,
                    PSUTIL_UNMEASURED + (f"no kernel-kept run group: {self.launch.why_not}",))
        cpu_s = self.cpu_total if self.cpu_total is not None else sampled_cpu
        peak, exact, unmeasured = _cgroup_figures(self.tally, self.observer, records, workers, self.task_peak,
                                                  self.cpu_total is None,
                                                  any(e.kind == Ev.THREAD_STARTED for e in all_events))
        return Backend(self.group.backend), cpu_s, peak, exact, unmeasured

    def observation(self, here: PlatformInfo) -> Observation:
        stdout, stderr = self.out.finish(), self.err.finish()
        self.reader.poll(final=True)
        all_events = self.reader.all()
        records, workers = self._records(all_events)
        self._phase(f"records: {len(records)}")
        unlinked = _unlink_ipc_left(all_events)
        backend, cpu_s, peak, peak_exact, unmeasured = self._figures(records, workers, all_events)
        t0, launch = self.t0, self.launch
        kit_cpu = time.thread_time() - launch.cpu0
        window = (time.perf_counter_ns() - t0) / 1e9
        busy = machine_busy_s() - launch.busy0
        others = max(0.0, busy - cpu_s - kit_cpu) / window if window > 0 else None
        return Observation(
            subject=launch.subject.name, method=launch.method, scale=launch.settings.scale, platform=here,
            main_pid=self.main, end=self.end, exitcode=self.proc.returncode if self.end is End.EXITED else None,
            wall_s=(self.end_ns - t0) / 1e9, cpu_s=cpu_s, peak_processes=peak, peak_exact=peak_exact,
            peak_tasks=self.task_peak if self.group is not None else None, timeout_s=launch.settings.timeout,
            events=tuple(all_events), processes=tuple(records), orphans=frozenset(self.orphans),
            killed=tuple(self.killed), stdout=stdout, stderr=stderr, backend=backend, unmeasured=unmeasured,
            observer_cpu_s=kit_cpu, stop_reason=self.stop_reason, bad_event_lines=self.reader.bad_lines,
            others_cores=others, cpu_stall_s=self.cpu_stall,
            settled_s=None if self.settled_ns is None else (self.settled_ns - t0) / 1e9,
            settled_members=self.settled_members,
            unlinked=unlinked, t0_ns=t0, **self._memory(records, all_events),
        )

    def _memory(self, records: list[ProcRecord], all_events: list[events.Event]) -> dict[str, Any]:
        """The run's memory figures and OOM kills, as Observation fields: the kernel's where it keeps
        the run's memory (or the container's, a bound), else the sampled tree's."""
        group, o = self.group, self.observer
        source: MemorySource | None
        if self.memory_peak is not None and group is not None:
            source = MemorySource.CGROUP if group.memory_kept else MemorySource.CONTAINER
            peak: int | None = self.memory_peak
        else:
            source, peak = (MemorySource.SAMPLED, o.memory_peak) if o.memory_peak else (None, None)
        ours = ({r.pid for r in records} | self.tally.members_ever | {e.pid for e in all_events}
                | {c for e in all_events if isinstance(c := e.data.get("child"), int)})
        tally = self.tally
        return dict(
            memory_peak_bytes=peak, memory_source=source, memory_limit_bytes=self.launch.settings.memory_limit,
            oom_kills=self.oom_kills, oom_victims=tuple(v for v in self.oom_victims if v[0] in ours),
            oom_at_s=None if tally.oom_ns is None else round((tally.oom_ns - self.t0) / 1e9, 3),
        )


def _unlink_ipc_left(recorded: Iterable[events.Event]) -> tuple[str, ...]:
    """Named semaphores and shared memory the run handed to its resource tracker and never took
    back, unlinked now that every process of the run has ended (``kit.probe`` records both).

    The tracker unlinks such leftovers as it exits; a run the kit killed (a timeout, a stop, the
    orphans after the grace) lost its tracker with it, and each of its semaphores would stay in
    ``/dev/shm`` until reboot.  What the run or its tracker unlinked is gone: nothing is said of
    it.  Returns "<kind> <name>" of what the kit unlinked."""
    held: dict[tuple[str, str], None] = {}
    for e in recorded:
        key = (str(e.data.get("rtype")), str(e.data.get("name")))
        if e.kind == Ev.RESOURCE_REGISTERED:
            held[key] = None
        elif e.kind == Ev.RESOURCE_UNREGISTERED:
            held.pop(key, None)
    return tuple(f"{rtype} {name}" for rtype, name in held if _platform.unlink_left(rtype, name))


STACKS_WAIT_S = 0.5
"""At a timeout, the longest the kit waits for the run's processes to write their stacks."""
STACK_BYTES = 64 * 1024
"""Of each process's stacks, the most kept (faulthandler writes at most 100 threads of 100 frames)."""
STACKS_ASKED = 32
"""The most processes asked for their stacks (the main process first): a fork bomb's thousand are not."""


def ask_for_stacks(pids: Iterable[int], events_dir: str, first: int | None = None, stopped: bool = False
                   ) -> dict[int, str]:
    """Ask each of ``pids`` (``first`` before the others, at most ``STACKS_ASKED``) for every
    thread's Python stack; what they wrote, by pid.  Only a process whose probe is armed is asked:
    ``kit.probe`` creates ``<pid>.stacks`` as it registers the signal, and writes there on
    ``_platform.stack_signal()``; any other process (not Python, or still starting) would die of
    the signal, and as a zombie nobody waits for.  Waits until the files stop growing, at most
    ``STACKS_WAIT_S`` (a stopped process writes nothing).  ``stopped``: the run was stopped
    (``_platform.stop_group``); each process asked is continued after the signal, the rest stay
    stopped until the kill."""
    signum = _platform.stack_signal()
    if signum is None:
        return {}
    folder = Path(events_dir)
    candidates = sorted(set(pids) | ({first} if first is not None else set()), key=lambda p: (p != first, p))
    armed = [pid for pid in candidates[:4 * STACKS_ASKED] if (folder / f"{pid}.stacks").exists()]
    asked = []
    for pid in armed[:STACKS_ASKED]:
        try:
            os.kill(pid, signum)
            asked.append(pid)
        except OSError:  # gone meanwhile
            continue
        if stopped:
            _platform.resume(pid)  # the signal waits for it: handled as it continues

    def sizes() -> dict[int, int]:
        out = {}
        for pid in asked:
            try:
                out[pid] = (folder / f"{pid}.stacks").stat().st_size
            except OSError:
                out[pid] = -1
        return out

    deadline, before = time.monotonic() + STACKS_WAIT_S, None
    while asked and time.monotonic() < deadline:
        time.sleep(INTERVAL_S)
        now = sizes()
        if now == before and all(n > 0 for n in now.values()):
            break
        before = now
    stacks = {}
    for pid in asked:
        try:
            with (folder / f"{pid}.stacks").open("rb") as f:
                text = f.read(STACK_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        if text.strip():
            stacks[pid] = text
    return stacks


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (every process, steal included) since boot;
    the difference around a run is what everything used meanwhile (also benchmarks/, tests)."""
    t = psutil.cpu_times()
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)  # guest is inside user
    return float(total - t.idle - getattr(t, "iowait", 0.0))


class _Tally:
    """What the run group's snapshots showed, tick by tick: processes and threads alive at once."""

    def __init__(self, group: RunGroup | None) -> None:
        self.group = group
        self.most_procs = 0  # most processes listed by the group in one snapshot
        self.extra_threads = 0  # most threads beyond one per process in one snapshot
        self.threads_known = True
        self.members_ever: set[int] = set()  # every pid a snapshot listed, to reap after the kill
        self.ooms = 0  # OOM kills the group counted so far
        self.oom_ns: int | None = None  # when the kit first saw the count rise
        self._last: tuple[set[int], set[int]] = (set(), set())  # (members, threads) of the latest tick
        self._quick: frozenset[int] | None = None  # the threads the look had read as that tick began

    def tick(self, members: set[int], read: bool = True) -> None:
        """``members``: the group's processes just read; threads are read next, then processes again.
        ``read``: a tick on which processes are read: memory and OOM kills are read too.

        A thread id that is in neither process list is a thread beyond a process's main thread
        (a process forked between the reads is in the second list, one that exited in the first)."""
        if self.group is None:
            return
        if read:
            self.group.memory_now()
            ooms = self.group.oom_kills()
            if ooms and ooms > self.ooms:
                self.ooms = ooms
                self.oom_ns = self.oom_ns or time.perf_counter_ns()
        self.most_procs = max(self.most_procs, len(members))
        quick = self.group.quick_threads()
        if quick is not None and quick is self._quick and members == self._last[0]:
            return  # the look's own reading of the threads found them as at the last tick: nothing new
        self._quick = quick
        tids = self.group.threads()
        if tids is None:
            self.members_ever |= members
            self.threads_known = False
            return
        if (members, tids) == self._last:  # nothing started or ended since: the same count as then
            return
        self._last = (members, tids)
        self.members_ever |= members
        extra = tids - members
        if extra:
            extra -= self.group.procs(False)
        self.extra_threads = max(self.extra_threads, len(extra))


def _cgroup_figures(tally: _Tally, observer: Observer, records: list[ProcRecord], workers: set[object],
                    task_peak: int | None, cpu_unknown: bool, threads_started: bool
                    ) -> tuple[int, bool, tuple[str, ...]]:
    """Peak processes, whether that is the kernel's count (not a lower bound from samples), and
    the list of what is not measured, for a run kept by a cgroup or a container's pid namespace.

    The kernel counts tasks (``pids.peak``: threads included), not processes.  It is taken as
    the peak of processes when no process of the run started a Python thread (``threads_started``:
    ``kit.probe`` says so; a Pool or a Queue does) and no snapshot showed a second thread in any
    process; otherwise the peak is the most processes seen alive in one snapshot (a lower bound:
    a short run may be seen once, as one process).
    """
    sampled = max(observer.peak, tally.most_procs, 2 if workers else 1)  # a parent lives as its child starts
    unmeasured = ["CPU per process and the CPUs each ran on: sampled every 80-100 ms (the run's total is exact)",
                  "names, command lines and roles of processes that lived less than the time between two looks "
                  "(20 ms after a process ended or one started without announcing itself, up to 100 ms otherwise; "
                  "a Python process of the run announces itself as it starts and wakes the kit)"]
    never_seen = {w for w in workers if isinstance(w, int)} - {r.pid for r in records}
    if never_seen:
        unmeasured[-1] += f": {len(never_seen)} started child(ren) never sampled"
    exact = (task_peak is not None and tally.threads_known and tally.extra_threads == 0 and task_peak >= sampled
             and not threads_started)
    if task_peak is not None and exact:
        peak = task_peak
        unmeasured.append(f"peak processes: the kernel's pids.peak ({task_peak} tasks), taken as processes "
                          "because no process started a Python thread and no snapshot showed a thread "
                          "beyond one per process; a thread of C code living less than a look's interval would count")
    else:
        peak = sampled
        bound = f"; pids.peak: at most {task_peak} tasks, threads included" if task_peak is not None else ""
        unmeasured.append(f"peak processes: the most alive in one snapshot ({sampled}){bound}")
    if cpu_unknown:
        unmeasured.append("the run's CPU total: no cpu.stat or cpuacct.usage, summed from samples instead")
    return peak, exact, tuple(unmeasured)


def _quietly(what: str, fn: Callable[[], object]) -> None:
    """A step of the clean-up that must not stop the next ones (said on the debug channel)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - clean-up goes on; KIT_DEBUG=1 shows what failed
        debug.log(f"clean-up: {what} failed", exc)


def _close(group: RunGroup, observer: Observer) -> None:
    """Remove the run group; reap what re-parented to us, so no zombie stays."""
    try:
        group.close()
    except Exception as exc:  # noqa: BLE001 - CgroupStuck or an OSError: nothing must stay running
        debug.log("closing the run group failed; killing what psutil sees", exc)
        _quietly("killing the tree", observer.kill_all)
        group.close()
    finally:
        _quietly("sampling", observer.sample)
        observer.reap_adopted()


def _kill(observer: Observer, group: RunGroup | None = None, pgid: int | None = None) -> list[int]:
    """Kill the whole run (the group: every member, however hidden); a second Ctrl-C must not abort it.
    ``pgid``: the run's process group, stopped first where no run group keeps the run."""
    def once() -> list[int]:
        if group is None:
            return _kill_sampled(observer, pgid)
        try:
            killed = group.kill()
        except Exception as exc:  # noqa: BLE001 - CgroupStuck or an OSError: kill what psutil sees, then again
            debug.log("killing the run group failed; killing what psutil sees", exc)
            return sorted(set(observer.kill_all()) | set(group.kill()))
        _quietly("sampling", observer.sample)
        observer.reap_adopted()
        return killed

    for _ in range(3):
        try:
            return once()
        except KeyboardInterrupt:
            continue
        except Exception as exc:  # noqa: BLE001 - an observer bug must not leave the run alive
            debug.log("killing the run failed; killing its process group instead", exc)
            if group is not None:
                _quietly("killing the run group", group.kill)
            _platform.kill_group(observer.root if pgid is None else pgid)  # the run's process group: all but
            # setsid escapees
            _quietly("reaping", observer.reap_adopted)
            break
    return []


def _kill_sampled(observer: Observer, pgid: int | None) -> list[int]:
    """Kill a run no kernel keeps: its process group stopped at once (a fork bomb stops forking,
    and the kit is no longer starved by it), the last look at its processes (bounded: their CPU
    and memory until now), then its tree named and killed; what the group still holds, killed."""
    stopped = pgid is not None and _platform.stop_group(pgid)
    _quietly("sampling", functools.partial(observer.sample, deadline=time.perf_counter() + SAMPLE_BUDGET_S))
    try:
        return observer.kill_all()
    finally:
        if stopped and pgid is not None:
            _platform.kill_group(pgid, leader=False)  # stopped, never named (none expected): killed, not left
            # stopped (the group's alone: its leader's pid may be free by now)


class _Events:
    """The run's events folder while the run goes on: only the files written since the last look
    are read, where the platform can tell (``_platform.folder_watch``)."""

    def __init__(self, reader: events.Reader, written: FolderWatch | None) -> None:
        self.reader, self.written = reader, written
        self._pending: set[str] = set()  # written since the last read: noted by ``drain``
        self._unknown = False  # the watch lost track (its queue overflowed): read every file
        self._seen: set[str] = set()  # every file written so far
        self.announced: set[int] = set()  # the processes that created a file: each a Python process of the run

    def drain(self) -> bool:
        """Take what the watch knows (it woke the kit: rearm it); whether that is news: a file no
        process of the run had written before (a new process announcing itself: ``kit.probe``
        creates its stacks file as it starts), or the watch lost track."""
        if self.written is None:
            return False
        names = self.written.changed()
        if names is None:
            self._unknown = True
            return True
        self._pending |= names
        new = names - self._seen
        if new:
            self._seen |= new
            self.announced.update(int(pid) for pid, _, _ in (n.partition(".") for n in new) if pid.isdigit())
        return bool(new)

    def poll(self) -> list[events.Event]:
        if self.written is None:
            return self.reader.poll()
        self.drain()
        names, unknown = self._pending, self._unknown
        self._pending, self._unknown = set(), False
        if unknown:
            return self.reader.poll()
        return self.reader.poll(names=names) if names else []


def _watch(proc: RunProcess, observer: Observer, reader: _Events,
           deadline_ns: int, tally: _Tally | None = None, main: int | None = None) -> tuple[End, str, int]:
    """Look at the run until the main process ends, the deadline passes, or children die in a loop.

    ``proc`` is the main process or its relay (``main`` its pid): a relay that ended while the
    main process lives was killed by the script (``os.kill(os.getppid(), ...)``).  Between two
    looks the kit sleeps (``kit.cadence``: longer while nothing changes) until ``proc`` ends or a
    process of the run writes an event, where the platform can tell (a pidfd, inotify): the end
    is seen at once, a new process soon after its start."""
    waiter = _platform.exit_waiter(proc.pid, reader.written)
    try:
        return _Watch(proc, observer, reader, tally, main, waiter).until(deadline_ns)
    finally:
        if waiter is not None:
            waiter.close()


class _Watch:
    """The watch loop's state: what the events said so far (deaths, starts, Pool workers the OOM
    killer ended), and the cadence of the looks."""

    def __init__(self, proc: RunProcess, observer: Observer, reader: _Events, tally: _Tally | None,
                 main: int | None, waiter: ExitWaiter | None) -> None:
        self.proc, self.observer, self.reader, self.tally, self.waiter = proc, observer, reader, tally, waiter
        self.relayed = main if main is not None and main != proc.pid else None  # the main process, under a relay
        self.cadence = cadence.Cadence(adaptive=observer.kernel_kept)
        self.deaths: Counter[str] = Counter()
        self.first_death: dict[str, int] = {}
        self.starts: list[int] = []
        self.pool_killed: list[str] = []  # Pool workers a SIGKILL ended, as their parent saw
        self.ended_since_events = False  # a look found a process ended since the events were last read

    def until(self, deadline_ns: int) -> tuple[End, str, int]:
        proc, observer = self.proc, self.observer
        ended = True  # proc may have ended: ask it (the waiter says when it may have)
        members: set[int] = set()
        while True:
            if STOP.signum:
                return End.INTERRUPTED, STOP.name(), time.perf_counter_ns()
            if time.perf_counter_ns() >= deadline_ns and proc.poll() is None:  # before a look that a starved
                return End.TIMEOUT, "", time.perf_counter_ns()  # kit (a fork bomb's thousand) would take seconds for
            now = time.perf_counter_ns()
            kept = observer.kernel_kept  # then processes are read every cadence.READ_S only
            read = not kept or self.cadence.read_due(now)
            observer.sample(budget_s=SAMPLE_BUDGET_S if kept else None, read=read, deadline=deadline_ns / 1e9)
            if self.tally is not None:
                self.tally.tick(observer.last_members, read=read)
            now = time.perf_counter_ns()
            if ended and proc.poll() is not None:
                relayed = self.relayed
                if relayed is not None and observer.lives(relayed) and not _ends_with(relayed, observer):
                    return End.PARENT_KILLED, str(proc.returncode), now  # the relay's end: judge words it
                return End.EXITED, "", now
            if self.relayed is not None and not observer.seemed_alive(self.relayed):
                _platform.resume(proc.pid)  # main has ended; a relay the script stopped cannot tell how
            if now >= deadline_ns:
                return End.TIMEOUT, "", now
            changed = self._changed(members, observer.last_members)
            members = observer.last_members  # each look makes a new set
            stopped = self._read_events(now) if self._events_wanted() and self.cadence.events_due(now) else None
            if stopped is not None:
                return stopped
            ended = self._sleep(self.cadence.after(changed), deadline_ns)

    def _changed(self, before: set[int], now: set[int]) -> bool:
        """Whether the next look comes soon (``cadence.FAST_S``): a process ended, or one started
        that did not announce itself (a new Python process of the run creates its file as it
        starts, and that wakes the kit: nothing to look out for), or one announced itself that no
        look has listed yet."""
        if now == before:
            return False
        if before - now:
            self.ended_since_events = True
            return True
        new = now - before
        if new <= self.reader.announced:
            return False
        if self.reader.drain() and not self.reader.announced <= self.observer.seen.keys():
            return True  # drained a file of a process the look did not list: soon
        return not new <= self.reader.announced

    def _sleep(self, seconds: float, deadline_ns: int) -> bool:
        """Until the next look; whether proc may have ended.  A process of the run that creates its
        first file (a new one) ends the sleep early, but not before ``cadence.FAST_S`` since the
        last look.  The writes of processes already known never wake the kit: a look would learn
        nothing from them (what they say is read at the next events look), and each wake-up costs
        CPU of its own and makes the code after it run cold (docs/speed.md).
        Where the platform cannot tell a created file from a write (no creations-only watch),
        every write wakes the kit and only a new file ends the sleep."""
        if self.waiter is None:
            time.sleep(seconds)
            return True
        start = time.perf_counter_ns()
        end = min(start + int(seconds * 1e9), deadline_ns)
        fast = int(cadence.FAST_S * 1e9)
        while (now := time.perf_counter_ns()) < end:
            woke = self.waiter.wait((end - now) / 1e9, written=False, news=True)
            if woke & Woke.ENDED:
                return True
            if not woke & Woke.WRITTEN:
                return False  # the time passed
            if self.reader.drain():
                early = start + fast - time.perf_counter_ns()
                return early > 0 and self._wait_for_end(early / 1e9)
        return False

    def _wait_for_end(self, seconds: float) -> bool:
        """Sleep ``seconds``, woken only by the end of proc (what is written meanwhile waits); whether it ended."""
        assert self.waiter is not None
        return bool(self.waiter.wait(seconds, written=False) & Woke.ENDED)

    def _events_wanted(self) -> bool:
        """Whether the events are read while the run goes on (at most every ``cadence.EVENTS_S``):
        what they say then stops a crash loop or a Pool the OOM killer stalled, and either begins
        with a process of the run ending.  So, where the kernel keeps membership, they are read
        once a look found a process ended since the last read, and at every turn once a death or
        an OOM kill was counted (a stalled Pool ends nothing more); every event is read at the end
        anyway.  Without kernel-kept membership, always."""
        if not self.observer.kernel_kept or self.ended_since_events or self.deaths or self.pool_killed:
            return True
        return self.tally is not None and self.tally.ooms > 0

    def _read_events(self, now: int) -> tuple[End, str, int] | None:
        """What the events written since the last read say: a crash loop, or a Pool the OOM killer
        stalled, ends the watch (End, why, when); else None."""
        self.ended_since_events = False
        for e in self.reader.poll():
            if e.kind in (Ev.CHILD_ERROR, Ev.CHILD_DIED):
                error = str(e.data.get("error", ""))
                self.deaths[error] += 1
                self.first_death[error] = min(self.first_death.get(error, e.t_ns), e.t_ns)
            elif e.kind == Ev.PROCESS_STARTED:
                self.starts.append(e.t_ns)
            elif oom.sigkilled(e) and oom.is_pool(e.data.get("name")):
                self.pool_killed.append(f"{e.data.get('name')} (pid {e.data.get('child')})")
        tally = self.tally
        if self.pool_killed and tally is not None and tally.oom_ns is not None and \
                now - tally.oom_ns >= OOM_SETTLE_S * 1e9:
            return (End.OOM_STALLED, f"the OOM killer ended {self.pool_killed[0]}, and the main process was still "
                    f"running {OOM_SETTLE_S:g} s later", now)
        for error, n in self.deaths.items():
            replaced = sum(t > self.first_death[error] for t in self.starts)
            if n >= CRASH_LOOP_DEATHS and replaced >= CRASH_LOOP_DEATHS:
                return (End.CRASH_LOOP, f"{n} child processes died the same death and {replaced} were started "
                        f"to replace them ({error[:200]})", now)
        return None


def _ends_with(main: int, observer: Observer) -> bool:
    """The relay has ended while ``main`` is still listed: a relay ends only after reaping main,
    unless killed, and killed with its group (``killpg``) main may still be dying.  Whether main
    ends within a sample (then it ended with its relay, as a sample later would have seen)."""
    waiter = _platform.exit_waiter(main)
    if waiter is None:
        time.sleep(INTERVAL_S)
    else:
        try:
            waiter.wait(INTERVAL_S)
        finally:
            waiter.close()
    return not observer.lives(main)


def _outliving(observer: Observer, grace: float, group: RunGroup | None = None,
               tally: _Tally | None = None) -> tuple[set[int], int, frozenset[int] | None]:
    """After the main process ended, give helpers ``grace`` seconds to leave; returns the orphans,
    when the first sample after main's exit was taken (what it saw gone, main ended first) and,
    where the kernel keeps the run, the run's pids at that sample (a process that lived too
    briefly to be looked at is still known to have ended by then).

    With a run group the kernel decides: the run ends when the group is empty, and what it
    still lists after the grace is an orphan (a zombie leader with live threads, a process
    that double-forked or reused a pid included), admitted to the observer to be named.
    """
    end = time.monotonic() + grace
    observer.sample()  # children forked before main's exit, and what was gone as it exited
    settled_ns = time.perf_counter_ns()
    settled = frozenset(observer.last_members) if observer.kernel_kept else None
    if group is not None:
        while group.populated() and time.monotonic() < end and not STOP.signum:
            if tally is not None:
                tally.tick(observer.last_members)
            group.wait_emptied(INTERVAL_S)  # the last helper's end is seen as it happens, not up to a sample later
            observer.sample()
        left = group.procs() - {observer.root}
        for pid in left:
            observer.admit(pid)
        return left, settled_ns, settled
    while observer.alive(include_root=False) and time.monotonic() < end and not STOP.signum:
        time.sleep(INTERVAL_S)
        observer.sample(deadline=time.perf_counter() + max(0.0, end - time.monotonic()))
    return {p.pid for p in observer.alive(include_root=False)}, settled_ns, settled
