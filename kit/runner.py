"""Run one example or script under one start method, observed, with a timeout.

The data flow of a run: start ``kit.launcher`` (the run's main process) with its output
going to bounded pipe readers (``kit.output``), watch it (the ``Observer`` samples the tree;
the events folder is polled so that a crash loop is stopped early) until the main process
exits, the timeout hits or the kit is interrupted, wait a short grace for helpers to leave,
call whatever is still alive an orphan, kill the whole tree, then hand one frozen
``Observation`` to the pure judge (``kit.judge``).  Starting, watching, timing out and
killing live here; deciding does not.
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import kit
from kit import _platform, events, judge
from kit.catalogue import Target, example_target, script_target
from kit.errors import EnvironmentProblem
from kit.observation import End, Observation
from kit.observer import Observer
from kit.outcomes import Backend, Ev, Status, resolve_method
from kit.output import Capture
from kit.results import PlatformInfo, RunResult

__all__ = ["DEFAULT_SCALE", "DEFAULT_TIMEOUT", "GRACE_S", "Interrupted", "Target", "example_target", "run",
           "script_target"]

DEFAULT_SCALE = 0.1
DEFAULT_TIMEOUT = 60.0
GRACE_S = 2.0
INTERVAL_S = 0.02
CRASH_LOOP_DEATHS = 5
"""A crash loop, stopped early: while the main process lives, the same child death this many
times, and this many processes started since that death first happened (a Pool replacing its
workers).  Ten children that each die once, started before the first death, are not a loop."""
KIT_ROOT = str(Path(kit.__file__).resolve().parent.parent)
HOOK_DIR = str(Path(kit.__file__).resolve().parent / "_hook")


class Interrupted(BaseException):
    """The kit was told to stop during a run; ``result`` is that run, marked interrupted."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(result.reason)
        self.result = result


def child_env(events_path: str, scale: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KIT_EVENTS=events_path,
        KIT_SCALE=repr(scale),
        PYTHONUNBUFFERED="1",  # pipes are not TTYs: keep lines in order
        PYTHONUTF8="1",  # the article's messages must print on any console
        PYTHONIOENCODING="utf-8",
    )
    # the hook first: its sitecustomize installs kit.probe in every Python process of the run
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HOOK_DIR, KIT_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _temp_dir() -> tempfile.TemporaryDirectory[str]:
    try:
        return tempfile.TemporaryDirectory(prefix="kit-")
    except OSError as exc:
        raise EnvironmentProblem(f"no usable temporary folder ({exc.strerror or exc}): set TMPDIR to a "
                                 "writable folder") from None


def run(
    target: Target,
    method: str,
    scale: float = DEFAULT_SCALE,
    timeout: float = DEFAULT_TIMEOUT,
    grace: float = GRACE_S,
) -> RunResult:
    """Run ``target`` under ``method`` (or ``default``); never hangs, never leaves a process behind.

    Raises ``Interrupted`` (carrying the interrupted run's result) on Ctrl-C, after cleaning up.
    """
    requested, method = method, resolve_method(method)
    here = PlatformInfo.here()
    if method not in multiprocessing.get_all_start_methods():
        return RunResult(target.name, method, Status.SKIPPED, f"{method} is not available on {here.os}",
                         scale=scale, platform=here, requested_method=requested)
    with _temp_dir() as tmp:
        events_dir = os.path.join(tmp, "events")
        os.mkdir(events_dir)
        obs = _observe(target, method, scale, timeout, grace, here, events_dir)
    result = judge.judge(obs, target.checks_for(method), target.facts)
    result.requested_method = requested
    if obs.end is End.INTERRUPTED:
        raise Interrupted(result)
    return result


def _observe(target: Target, method: str, scale: float, timeout: float, grace: float,
             here: PlatformInfo, events_dir: str) -> Observation:
    adopts = _platform.become_subreaper()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    cpu0 = time.process_time()
    t0 = time.perf_counter_ns()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-W", "default", "-m", "kit.launcher", method, *target.launcher_args],
            stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
            env=child_env(events_dir, scale), **_platform.new_group_kwargs(),
        )
    finally:
        os.close(out_w)
        os.close(err_w)
    out, err = Capture(out_r), Capture(err_r)
    reader = events.Reader(events_dir)
    observer = Observer(proc.pid, t0, adopts_orphans=adopts)
    end, stop_reason, orphans = End.EXITED, "", set()
    try:
        try:
            end, stop_reason, end_ns = _watch(proc, observer, reader, t0 + int(timeout * 1e9))
            if end is End.EXITED:
                orphans = _outliving(observer, grace)
        except KeyboardInterrupt:
            end, end_ns = End.INTERRUPTED, time.perf_counter_ns()
    finally:
        killed = _kill(observer)
        proc.wait()
    stdout, stderr = out.finish(), err.finish()
    reader.poll(final=True)
    all_events = reader.all()
    workers = {e.data.get("child") for e in all_events if e.kind == Ev.PROCESS_STARTED}
    records = observer.records({w for w in workers if isinstance(w, int)})
    wall_s = (end_ns - t0) / 1e9
    return Observation(
        target=target.name, method=method, scale=scale, platform=here, main_pid=proc.pid, end=end,
        exitcode=proc.returncode if end is End.EXITED else None, wall_s=wall_s,
        cpu_s=sum(r.cpu_s for r in records), peak_processes=observer.peak, timeout_s=timeout,
        events=tuple(all_events), processes=tuple(records), orphans=frozenset(orphans), killed=tuple(killed),
        stdout=stdout, stderr=stderr, backend=Backend.PSUTIL,
        unmeasured=("processes that live less than a sampling interval (20 ms) and their CPU",),
        observer_cpu_s=time.process_time() - cpu0, stop_reason=stop_reason,
        bad_event_lines=reader.bad_lines,
    )


def _kill(observer: Observer) -> list[int]:
    """Kill the whole tree; a second Ctrl-C must not abort the clean-up."""
    for _ in range(3):
        try:
            return observer.kill_all()
        except KeyboardInterrupt:
            continue
    return observer.kill_all()


def _watch(proc: subprocess.Popen[bytes], observer: Observer, reader: events.Reader,
           deadline_ns: int) -> tuple[End, str, int]:
    """Sample until the main process ends, the deadline passes, or children die in a loop."""
    deaths: Counter[str] = Counter()
    first_death: dict[str, int] = {}
    starts: list[int] = []
    while True:
        observer.sample()
        now = time.perf_counter_ns()
        if proc.poll() is not None:
            return End.EXITED, "", now
        if now >= deadline_ns:
            return End.TIMEOUT, "", now
        for e in reader.poll():
            if e.kind in (Ev.CHILD_ERROR, Ev.CHILD_DIED):
                error = str(e.data.get("error", ""))
                deaths[error] += 1
                first_death[error] = min(first_death.get(error, e.t_ns), e.t_ns)
            elif e.kind == Ev.PROCESS_STARTED:
                starts.append(e.t_ns)
        for error, n in deaths.items():
            replaced = sum(t > first_death[error] for t in starts)
            if n >= CRASH_LOOP_DEATHS and replaced >= CRASH_LOOP_DEATHS:
                return (End.CRASH_LOOP, f"{n} child processes died the same death and {replaced} were started "
                        f"to replace them ({error[:200]})", now)
        time.sleep(INTERVAL_S)


def _outliving(observer: Observer, grace: float) -> set[int]:
    """After the main process ended, give helpers ``grace`` seconds to leave."""
    end = time.monotonic() + grace
    observer.sample()  # children forked between the last sample and main's exit
    while observer.alive(include_root=False) and time.monotonic() < end:
        time.sleep(INTERVAL_S)
        observer.sample()
    return {p.pid for p in observer.alive(include_root=False)}
