"""Run one example or script under one start method, observed, with a timeout.

The data flow of a run: start ``kit.launcher`` (the run's main process) with
its output going to files, sample the tree with the ``Observer`` until the
main process exits or the timeout hits, wait a short grace for helpers to
leave, call whatever is still alive an orphan, kill the whole tree, then hand
the evidence to the checks.  Output goes to files, not pipes: an orphan that
inherited a pipe would keep a reader waiting for end-of-file.
"""
from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import kit
from kit import _platform, events
from kit.catalogue import EXAMPLES
from kit.checks import Check, Evidence, exits_with, no_orphans
from kit.observer import Observer
from kit.results import PlatformInfo, RunResult

DEFAULT_SCALE = 0.1
DEFAULT_TIMEOUT = 60.0
GRACE_S = 2.0
INTERVAL_S = 0.02
KIT_ROOT = str(Path(kit.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Target:
    """What to run: an example of the catalogue or a user's script, and its checks."""

    name: str
    launcher_args: tuple[str, ...]
    checks_for: Callable[[str], list[Check]]


def example_target(name: str) -> Target:
    example = EXAMPLES[name]
    return Target(name, ("-m", example.module), example.checks_for)


def script_target(path: str, like: str | None = None) -> Target:
    """A user's script; ``like`` borrows an example's checks (tests run broken variants so)."""
    checks_for = EXAMPLES[like].checks_for if like else (lambda method: [])
    return Target(path, (str(Path(path).resolve()),), checks_for)


def _child_env(events_path: str, scale: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KIT_EVENTS=events_path,
        KIT_SCALE=repr(scale),
        PYTHONUNBUFFERED="1",  # pipes and files are not TTYs: keep lines in order
        PYTHONUTF8="1",  # the article's messages must print on any console
        PYTHONIOENCODING="utf-8",
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (KIT_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _warnings(stderr: str) -> list[str]:
    return sorted({m.group(0).strip() for m in re.finditer(r"^.*\w+Warning: .*$", stderr, re.M)})


def run(
    target: Target,
    method: str,
    scale: float = DEFAULT_SCALE,
    timeout: float = DEFAULT_TIMEOUT,
    grace: float = GRACE_S,
) -> RunResult:
    """Run ``target`` under ``method``; never hangs, never leaves a process behind."""
    here = PlatformInfo.here()
    if method not in multiprocessing.get_all_start_methods():
        return RunResult(target.name, method, "skipped",
                         f"{method} is not available on {here.os}", scale=scale, platform=here)
    _platform.become_subreaper()
    with tempfile.TemporaryDirectory(prefix="kit-") as tmp:
        paths = {k: os.path.join(tmp, k) for k in ("events", "stdout", "stderr")}
        os.mkdir(paths["events"])
        with open(paths["stdout"], "wb") as out, open(paths["stderr"], "wb") as err:
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen(
                [sys.executable, "-W", "default", "-m", "kit.launcher", method, *target.launcher_args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=_child_env(paths["events"], scale), **_platform.new_group_kwargs(),
            )
            obs = Observer(proc.pid, t0)
            try:
                timed_out, end_ns = _watch(proc, obs, t0 + int(timeout * 1e9))
                orphans = set() if timed_out else _outliving(obs, grace)
            finally:
                killed = obs.kill_all()
                proc.wait()
        stdout = Path(paths["stdout"]).read_text("utf-8", "replace")
        stderr = Path(paths["stderr"]).read_text("utf-8", "replace")
        evs = events.load(paths["events"])
    return _judge(target, method, scale, here, proc, obs, evs, stdout, stderr,
                  timed_out, end_ns, orphans, killed, timeout)


def _watch(proc: subprocess.Popen[bytes], obs: Observer, deadline_ns: int) -> tuple[bool, int]:
    """Sample until the main process ends (False) or the deadline passes (True)."""
    while True:
        obs.sample()
        now = time.perf_counter_ns()
        if proc.poll() is not None:
            return False, now
        if now >= deadline_ns:
            return True, now
        time.sleep(INTERVAL_S)


def _outliving(obs: Observer, grace: float) -> set[int]:
    """After the main process ended, give helpers ``grace`` seconds to leave."""
    end = time.monotonic() + grace
    obs.sample()  # children forked between the last sample and main's exit
    while obs.alive(include_root=False) and time.monotonic() < end:
        time.sleep(INTERVAL_S)
        obs.sample()
    return {p.pid for p in obs.alive(include_root=False)}


def _judge(target: Target, method: str, scale: float, here: PlatformInfo,
           proc: subprocess.Popen[bytes], obs: Observer, evs: list[events.Event],
           stdout: str, stderr: str, timed_out: bool, end_ns: int,
           orphan_pids: set[int], killed: list[int], timeout: float) -> RunResult:
    started = [e for e in evs if e.kind == "process_started"]
    workers = {e.data["child"] for e in started}
    records = obs.records(workers)
    orphans = [r.ref() for r in records if r.pid in orphan_pids]  # roles known: records saw the events
    wall_s = (end_ns - obs.t0_ns) / 1e9
    cpu_s = sum(r.cpu_s for r in records)
    cores = cpu_s / wall_s if wall_s > 0 else 0.0
    cpus = sorted({c for r in records for c in r.cpus})
    daemons = _daemons_terminated(obs, evs, end_ns, orphan_pids)
    result = RunResult(
        example=target.name, method=method, status="pass", reason="",
        wall_s=round(wall_s, 3), exitcode=None if timed_out else proc.returncode,
        cores_used=round(cores, 2), cpu_s=round(cpu_s, 3), peak_processes=obs.peak,
        cpus_seen=cpus, orphans=orphans,
        daemons_terminated=[r.ref() for r in records if r.pid in daemons],
        processes=records, warnings=_warnings(stderr), stdout=stdout, stderr=stderr,
        scale=scale, platform=here,
    )
    if timed_out:
        result.status = "timeout"
        result.reason = f"still running after {timeout:g} s: killed {len(killed)} process(es)"
        return result
    if not any(e.kind == "script_start" for e in evs):
        last = stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        result.status, result.reason = "error", f"the launcher failed: {last[0]}"
        return result
    evidence = Evidence(
        method=method, events=evs, stdout=stdout, stderr=stderr, exitcode=proc.returncode,
        main_pid=proc.pid, cores_used=cores, cpu_count=here.cpu_count, cpus_seen=cpus,
        cpu_num_known=bool(cpus), processes=records, orphans=orphans,
        daemons_terminated=result.daemons_terminated,
    )
    verdicts = [check(evidence) for check in (no_orphans(), exits_with(0), *target.checks_for(method))]
    result.checks = [vars(v) for v in verdicts]
    failed = [v for v in verdicts if not v.ok]
    result.status = "fail" if failed else "pass"
    result.reason = "; ".join(v.reason for v in (failed or verdicts[2:] or verdicts))
    return result


def _daemons_terminated(obs: Observer, evs: list[events.Event], end_ns: int, orphans: set[int]) -> set[int]:
    """Daemons alive as the script ended (main's own word) and gone by the time main exited (psutil's)."""
    daemons = {e.data["child"] for e in evs if e.kind == "process_started" and e.data.get("daemon")}
    done = [e for e in evs if e.kind == "script_done"]
    alive_at_end = set(done[-1].data.get("alive", [])) if done else set()
    out = set()
    for pid in daemons & alive_at_end - orphans:
        seen = obs.seen.get(pid)
        if seen is not None and seen.gone_ns is not None and seen.gone_ns <= end_ns:
            out.add(pid)
    return out
