"""Benchmarks, not timed tests: what the kit costs, measured side by side in one run; writes BENCHMARKS.md.

Run with ``nox -s bench`` (arguments after ``--`` come here); with no argument it writes every
figure issue 13 names (many minutes: every section, the containers included).  The sections:

(a) ``kit matrix --targets host`` (overlapping cells, the default ``--jobs``) and with
    ``--jobs 1``, against a plain loop over the same cells: each example run one after the
    other by a bare interpreter with the start method made the default, without the kit's
    probe, events or observer; and the same bare cells scheduled as ``kit matrix`` schedules
    them (``kit.schedule``, no observation): what overlapping alone reaches, so that what
    observing costs is the difference; and the kit's own runs (the probe and its events in every
    process) scheduled the same way, unobserved: what the evidence from inside costs, apart from
    what the kit's observation from outside costs.  Also how many default matrices passed every cell
    (``--matrices``, 20 by default, the rounds included).
(b) ``kit bench``'s start-up figures against a bare ``timeit`` of the same statement in a
    fresh interpreter of the same Python (``benchmarks/startup_timeit.py``).
(c) ``kit matrix --targets auto`` (host and the Linux containers) when a Docker daemon answers
    and the images are built.
(d) ``--hog N``: N host matrices in a row with a CPU hog on one core (Linux: pinned with
    ``sched_setaffinity``): no cell may fail; the ``cpu`` cells pass or are inconclusive.
(e) ``kit bench --targets auto`` (``--bench-targets``): start-up, Pool, Queue and Pipe throughput
    and CPU scaling per target and start method, its table and chart.
(f) ``kit pytest`` against bare pytest on real third-party suites (``benchmarks/suites.py``):
    the same outcomes test for test, the kit's time per cell, every method at once against three
    bare runs (``--suite-rounds``; the sdists come from PyPI, once, into ``--suites-dir``).

POSIX only (the plain loop kills each cell's session with ``killpg``; (d) pins with ``sched_setaffinity``,
Linux).  Figures are medians over ``--repeat`` rounds; every round's figure is kept in the JSON beside
BENCHMARKS.md (``BENCHMARKS.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script (nox -s bench): benchmarks.suites is importable
    sys.path.insert(0, str(ROOT))
PLAIN = (
    "import multiprocessing, multiprocessing.context, runpy, sys\n"
    "method, module = sys.argv[1:3]\n"
    "d = multiprocessing.context._default_context\n"
    "d._default_context = multiprocessing.get_context(method)  # the default, not set: as the kit does\n"
    "sys.argv = [module]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


# ``python -m kit`` that also writes the kit process's own CPU seconds (its threads: the watchers,
# launching, reading back, judging; its start-up) to the file named by BENCH_SELF_CPU as it exits.
# The variable is taken out of the environment first: the runs never see it.
SELF_CPU = (
    "import atexit, os, resource, runpy, sys\n"
    "out = os.environ.pop('BENCH_SELF_CPU')\n"
    "def said():\n"
    "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    with open(out, 'w') as f:\n"
    "        f.write(repr(u.ru_utime + u.ru_stime))\n"
    "atexit.register(said)\n"
    "sys.argv[0] = 'kit'\n"
    "runpy.run_module('kit', run_name='__main__', alter_sys=True)\n"
)


def kit(*args: str, env: dict[str, str] | None = None, entry: tuple[str, ...] = ("-m", "kit")
        ) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Seconds and the outcome of one kit command (``entry``: how the interpreter starts the kit)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *entry, *args], capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, done


def kit_self_cpu(*args: str) -> tuple[float, subprocess.CompletedProcess[str], float | None]:
    """``kit(*args)`` and the kit process's own CPU seconds (None if it ended without saying)."""
    with tempfile.TemporaryDirectory() as tmp:
        said = Path(tmp) / "self"
        seconds, done = kit(*args, env={**os.environ, "BENCH_SELF_CPU": str(said)}, entry=("-c", SELF_CPU))
        own = float(said.read_text()) if said.exists() else None
    return seconds, done, own


def cells() -> list[tuple[str, str]]:
    from kit.catalogue import EXAMPLES
    from kit.matrix import host_methods

    return [(e, m) for e in EXAMPLES for m in host_methods()]


def busy_cpu_s() -> float:
    """The machine's busy CPU seconds (``kit.runner.machine_busy_s``): a run's figure is the
    difference around it, so the kit, its runs and whatever they left to others (a forkserver's
    children, a resource tracker nobody waits for) count."""
    from kit.runner import machine_busy_s

    return machine_busy_s()


def settle(quiet: float = 0.15, limit_s: float = 30.0) -> None:
    """Wait (at most ``limit_s``) until the machine is idle: under ``quiet`` CPUs busy over a second."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        before = busy_cpu_s()
        time.sleep(1.0)
        if busy_cpu_s() - before < quiet:
            return


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the machine's busy CPU seconds while it ran."""
    before = busy_cpu_s()
    out = fn()
    return out, busy_cpu_s() - before


def _plain_env(scale: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env["KIT_SCALE"] = repr(scale)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _plain_cell(example: str, method: str, env: dict[str, str]) -> None:
    """One cell by a bare interpreter in its own session, whose leftovers (the kill_parent
    examples' orphans) are killed as its main process ends."""
    p = subprocess.Popen([sys.executable, "-c", PLAIN, method, f"kit.examples.{example}"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    p.wait()
    with contextlib.suppress(OSError):
        os.killpg(p.pid, signal.SIGKILL)


def plain_loop(scale: float) -> float:
    """Every cell by a bare interpreter, one after the other."""
    env = _plain_env(scale)
    t0 = time.perf_counter()
    for example, method in cells():
        _plain_cell(example, method, env)
    return time.perf_counter() - t0


def plain_overlapped(scale: float) -> float:
    """The same bare cells scheduled as ``kit matrix`` schedules its own (``kit.schedule``: the
    default ``--jobs`` at once, the cells that measure CPU afterwards one at a time), with no
    observation at all: what the schedule alone can reach on this machine."""
    from kit import durations, schedule
    from kit.catalogue import EXAMPLES
    from kit.matrix import default_jobs, host_methods, measures_cpu
    from kit.results import RunResult

    env = _plain_env(scale)
    plan = schedule.plan([schedule.HOST], list(EXAMPLES), host_methods(), default_jobs(), measures_cpu,
                         expected=durations.load(scale))  # the order the kit's matrix takes

    def run_unit(unit: schedule.Unit, slot: object) -> list[RunResult]:
        _plain_cell(unit.examples[0], unit.methods[0], env)
        return []

    t0 = time.perf_counter()
    schedule.execute(plan, run_unit, lambda *_: None)
    return time.perf_counter() - t0


def probed_overlapped(scale: float) -> float:
    """The kit's own runs, unobserved: each cell as the kit starts it (``python -W default -m
    kit.launcher``, the run's environment: the probe in every process, its events written), scheduled
    as ``kit matrix`` schedules them, with no relay, run group, watcher or reading back.  What the
    evidence from inside the run costs; what the kit's observation adds is the rest."""
    from kit import durations, runner, schedule
    from kit.catalogue import EXAMPLES
    from kit.matrix import default_jobs, host_methods, measures_cpu
    from kit.results import RunResult

    plan = schedule.plan([schedule.HOST], list(EXAMPLES), host_methods(), default_jobs(), measures_cpu,
                         expected=durations.load(scale))  # the order the kit's matrix takes

    def run_unit(unit: schedule.Unit, slot: object) -> list[RunResult]:
        example, method = unit.examples[0], unit.methods[0]
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as events:
            p = subprocess.Popen([sys.executable, "-W", "default", "-m", "kit.launcher", method, "-m",
                                  f"kit.examples.{example}"], env=runner.child_env(events, scale, None, method),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            p.wait()
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
        return []

    t0 = time.perf_counter()
    schedule.execute(plan, run_unit, lambda *_: None)
    return time.perf_counter() - t0


@dataclass(frozen=True)
class Matrix:
    """One ``kit matrix``: seconds, cells, cells that did not pass (inconclusive counted apart: not
    failed), the CPU seconds its watchers spent on all the runs (``observer_cpu_s`` added up), and
    the kit process's own CPU seconds (its watchers included; None if it did not say)."""

    seconds: float
    cells: int
    bad: int
    watchers: float
    own: float | None


def matrix(scale: float, jobs: int | None, targets: str = "host") -> Matrix:
    """One ``kit matrix`` over ``targets``, measured (``Matrix``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        args = ["-q", "matrix", "--targets", targets, "--scale", repr(scale), "--json", str(out)]
        if jobs:
            args += ["--jobs", str(jobs)]
        seconds, done, own = kit_self_cpu(*args)
        rs = json.loads(out.read_text()) if out.exists() else []
    bad = [r for r in rs if r["status"] not in ("pass", "skipped", "inconclusive")]
    for r in bad:
        print(f"    not passed: {r['example']}/{r['method']} on {r.get('platform', {}).get('target')}: "
              f"{r['status']}: {r['reason'][:160]}", file=sys.stderr)
    return Matrix(seconds, len(rs), len(bad), sum(r.get("observer_cpu_s") or 0.0 for r in rs), own)


def observer_share(rounds: int) -> list[float]:
    """``observer_cpu_s / wall_s`` of ``kit run event --method fork``, ``rounds`` times: the share
    of a core the watcher of one run takes while it watches (its start, its ticks, its reading
    back), a run of about twenty processes over a second."""
    shares = []
    for _ in range(rounds):
        _, done = kit("run", "event", "--method", "fork", "--json", "-")
        r = json.loads(done.stdout)[0]
        shares.append(r["observer_cpu_s"] / r["wall_s"])
    return shares


def startup(repeat: int) -> dict[str, dict[str, float]]:
    """kit bench's start-up figure against a bare timeit, per method, in this interpreter.

    Round after round, one of each, interleaved (so that the machine's drift hits both): kit
    bench's own measuring code (``python -m kit._bench_worker --startup-only``, what ``kit
    bench`` runs in a fresh interpreter) and ``python -m benchmarks.startup_timeit``; medians of the rounds'
    medians.  One full ``kit bench --targets host`` is run too: its figures are reported beside.

    Both ``__main__`` modules come from bytecode, as the kit's own do (``runner.warm_bytecode``):
    every spawn or forkserver child re-runs its ``__main__``, and under ``PYTHONDONTWRITEBYTECODE``
    (many CI images) ``startup_timeit`` would be compiled again in each, a cost the kit's worker
    does not pay."""
    from kit.runner import warm_bytecode

    warm_bytecode()  # the kit's package
    warm_bytecode(str(HERE))  # this folder: startup_timeit and its package
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b.json"
        _, done = kit("bench", "--targets", "host", "--json", str(out))
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"kit bench failed: {done.stderr.strip()[-500:]}")
        full = bench_startups(json.loads(out.read_text()))
    figures: dict[str, dict[str, float]] = {}
    for method in full:
        kit_rounds, bare = [], []
        for _ in range(repeat):
            done = subprocess.run([sys.executable, "-m", "kit._bench_worker", "--method", method, "--startup-only"],
                                  capture_output=True, text=True, check=True)
            kit_rounds.append(statistics.median(json.loads(done.stdout)["startup"]["samples_s"]) * 1000)
            done = subprocess.run([sys.executable, "-m", "benchmarks.startup_timeit", method], capture_output=True,
                                  text=True, check=True, cwd=ROOT)  # a module in a package, as kit's worker is
            bare.append(float(done.stdout.split()[0]))
        k, b = statistics.median(kit_rounds), statistics.median(bare)
        figures[method] = {"kit_bench_full_ms": full[method], "kit_bench_ms": k, "timeit_ms": b, "ratio": k / b,
                           "best_ratio": min(kit_rounds) / min(bare),
                           "kit_rounds_ms": kit_rounds, "timeit_rounds_ms": bare}  # type: ignore[dict-item]
    return figures


def _rounds(values: object) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if isinstance(values, list) else ""


def bench_startups(bench: object) -> dict[str, float]:
    """method -> start-up median (ms) of the host, from kit bench's JSON."""
    rows = bench["results"] if isinstance(bench, dict) and "results" in bench else bench
    out: dict[str, float] = {}
    for row in rows if isinstance(rows, list) else []:
        if row.get("target", "host") == "host" and row.get("startup"):
            out[row["method"]] = float(row["startup"]["median_ms"])
    return out


HOG = "import os\nos.sched_setaffinity(0, {0})\nwhile True:\n    pass\n"


def hogged(scale: float, n: int) -> list[dict[str, object]]:
    """``n`` host matrices, each with a busy loop pinned to CPU 0 running throughout."""
    hog = subprocess.Popen([sys.executable, "-c", HOG])
    outcomes: list[dict[str, object]] = []
    try:
        for i in range(n):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "m.json"
                seconds, _ = kit("-q", "matrix", "--targets", "host", "--scale", repr(scale), "--json", str(out))
                rs = json.loads(out.read_text()) if out.exists() else []
            bad = [f"{r['example']}/{r['method']}: {r['reason'][:120]}" for r in rs
                   if r["status"] not in ("pass", "skipped", "inconclusive")]
            cpu = [r["status"] for r in rs if r["example"] == "cpu"]
            print(f"  hog {i + 1}/{n}: {len(bad)} failed, cpu {cpu}", file=sys.stderr)
            outcomes.append({"seconds": seconds, "failed": len(bad), "not_passed": bad, "cpu": cpu,
                             "reasons": [r["reason"] for r in rs if r["example"] == "cpu"]})
    finally:
        hog.kill()
        hog.wait()
    return outcomes


def docker_ready() -> tuple[bool, str]:
    seconds, done = kit("-q", "matrix", "--targets", "docker", "--examples", "hello", "--methods", "fork",
                        "--json", os.devnull)
    return done.returncode == 0, (done.stderr.strip().splitlines() or ["?"])[-1]


def machine() -> str:
    from kit._platform import usable_cpu_count

    return (f"{platform.system()} {platform.release()}, {platform.machine()}, {os.cpu_count()} CPUs "
            f"({usable_cpu_count()} usable), Python {platform.python_version()} ({sys.executable})")


SECTION = re.compile(r"^## \((\w)\)", re.M)


def keep_skipped(out: Path, text: str) -> str:
    """``text``, plus the sections of the file already at ``out`` that this run did not write,
    in letter order: ``--skip matrix`` keeps the matrix figures of an earlier run."""
    def sections(doc: str) -> tuple[str, dict[str, str]]:
        parts = SECTION.split(doc)
        head, rest = parts[0], parts[1:]
        return head, {rest[i]: f"## ({rest[i]})" + rest[i + 1] for i in range(0, len(rest), 2)}

    head, new = sections(text)
    _, old = sections(out.read_text(encoding="utf-8")) if out.exists() else ("", {})
    merged = {**old, **new}
    return head + "".join(merged[k].rstrip("\n") + "\n\n" for k in sorted(merged)).rstrip("\n") + "\n"


@dataclass
class Report:
    """BENCHMARKS.md's lines and BENCHMARKS.json's data as the sections add to them."""

    data: dict[str, object]
    lines: list[str]
    stamp: str  # under every section's heading: the command and the date that wrote it

    @classmethod
    def begin(cls, command: str) -> Report:
        data: dict[str, object] = {"machine": machine(), "command": command,
                                   "date": time.strftime("%Y-%m-%d %H:%M %Z")}
        lines = ["# Benchmarks", "", f"Machine: {data['machine']}.", "",
                 "Each section says the command that wrote it (a section a later run skipped is kept).", ""]
        return cls(data, lines, f"_Written by `{command}` on {data['date']}._")

    def section(self, heading: str, *body: str) -> None:
        self.lines += [heading, "", self.stamp, "", *body]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5,
                    help="rounds of (a), each timing once a round (medians reported, and each round's ratio to "
                         "its own plain loop: the machine drifts within minutes)")
    ap.add_argument("--matrices", type=int, default=20,
                    help="default host matrices counted for every cell passing, the --repeat rounds included "
                         "(the issue's 20 of 20)")
    ap.add_argument("--observer-runs", type=int, default=5,
                    help="runs of `kit run event --method fork` whose observer share is reported (one per round first)")
    ap.add_argument("--container-rounds", type=int, default=1, help="rounds of (c)")
    ap.add_argument("--startup-rounds", type=int, default=7,
                    help="interleaved rounds of (b) (a few rounds let the machine's drift decide the ratio)")
    ap.add_argument("--hog", type=int, default=0, help="(d): matrices with a CPU hog on one core")
    ap.add_argument("--bench-targets", default="auto",
                    help="(e): kit bench over these targets (default: auto, the host and the built images; "
                         "an empty string skips it)")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--suite-rounds", type=int, default=3, help="rounds of (f); 0: skip it")
    ap.add_argument("--suites-dir", default=str(Path.home() / ".cache" / "kit-bench-suites"),
                    help="where (f) keeps the suites' sdists and virtual environments")
    ap.add_argument("--skip", nargs="*", default=[], choices=["matrix", "startup", "containers"])
    return ap.parse_args(argv)


MATRIX_RUNS = ("plain", "overlap", "probed", "jobs1", "jobsN")


@dataclass
class MatrixRounds:
    """Section (a)'s measurements: seconds and the machine's busy CPU seconds per run and round."""

    rounds: dict[str, list[float]]
    busy: dict[str, list[float]]
    failed: dict[str, int]
    cells: int = 0
    watchers: list[float] = field(default_factory=list)  # per default matrix: the watchers' CPU seconds
    own: list[float | None] = field(default_factory=list)  # per default matrix: the kit process's own CPU
    # seconds, None where it did not say (kept in place: its rounds pair with the others')
    shares: list[float] = field(default_factory=list)  # observer_cpu_s / wall_s of single runs (observer_share)


def matrix_rounds(a: argparse.Namespace) -> MatrixRounds:
    """``--repeat`` rounds of the four runs, one of each per round, so that the machine's drift hits all."""
    m = MatrixRounds({k: [] for k in MATRIX_RUNS}, {k: [] for k in MATRIX_RUNS}, {"jobs1": 0, "jobsN": 0})

    def record(key: str, seconds: float, cpu: float) -> None:
        m.rounds[key].append(seconds)
        m.busy[key].append(cpu)

    from kit.runner import warm_bytecode

    # The plain cells import the kit's examples from this tree (PYTHONPATH): compiled once, as the kit
    # compiles its own before its first run.  Where PYTHONDONTWRITEBYTECODE is set, the first
    # round's plain cells would otherwise compile them again in every process.
    warm_bytecode(str(ROOT / "kit"))
    settle()
    for i in range(a.repeat):
        print(f"round {i + 1}/{a.repeat}: plain loop, plain overlapped, probed overlapped, matrix --jobs 1, matrix",
              file=sys.stderr)
        s, c = timed(lambda: plain_loop(a.scale))
        record("plain", s, c)
        s, c = timed(lambda: plain_overlapped(a.scale))
        record("overlap", s, c)
        s, c = timed(lambda: probed_overlapped(a.scale))
        record("probed", s, c)
        one, c = timed(lambda: matrix(a.scale, 1))
        m.cells = one.cells
        record("jobs1", one.seconds, c)
        m.failed["jobs1"] += bool(one.bad)
        one, c = timed(lambda: matrix(a.scale, None))
        record("jobsN", one.seconds, c)
        m.failed["jobsN"] += bool(one.bad)
        m.watchers.append(one.watchers)
        m.own.append(one.own)
        m.shares += observer_share(1)
    m.shares += observer_share(max(0, a.observer_runs - a.repeat))
    return m


def section_matrix(a: argparse.Namespace, report: Report) -> None:
    """(a): the host matrix against a plain loop and against the bare cells as the kit schedules them."""
    from kit._platform import usable_cpu_count
    from kit.matrix import default_jobs

    m = matrix_rounds(a)
    extra = [matrix(a.scale, None) for _ in range(max(0, a.matrices - a.repeat))]
    all_n = a.repeat + len(extra)
    passed = all_n - m.failed["jobsN"] - sum(1 for x in extra if x.bad)
    rounds, busy = m.rounds, m.busy
    med = {k: statistics.median(v) for k, v in rounds.items()}
    med_cpu = {k: statistics.median(v) for k, v in busy.items()}
    cores = usable_cpu_count()
    report.data["matrix"] = {"cells": m.cells, "rounds": rounds, "median_s": med, "matrices": all_n,
                             "cpu_rounds_s": busy, "median_cpu_s": med_cpu, "cores": cores,
                             "matrices_all_passed": passed, "jobs1_all_passed": a.repeat - m.failed["jobs1"],
                             "default_jobs": default_jobs(), "observer_shares": m.shares,
                             "watchers_cpu_s": m.watchers, "kit_process_cpu_s": m.own}
    report.section(
        f"## (a) Host matrix against a plain loop over the same {m.cells} cells (scale {a.scale})",
        "| run | median s | rounds (s) | against the plain loop | each round against its own plain loop "
        "| machine busy, CPU s | cores busy |",
        "|---|---:|---|---:|---|---:|---:|",
        *(f"| {label} | {med[k]:.1f} | {', '.join(f'{x:.1f}' for x in rounds[k])} | {med[k] / med['plain']:.2f}x "
          f"| {per_round(rounds[k], rounds['plain'])} "
          f"| {med_cpu[k]:.1f} | {med_cpu[k] / med[k]:.2f} of {cores} |"
          for k, label in (("plain", "plain loop (bare interpreter, no kit)"),
                           ("overlap", "the same bare cells, scheduled as `kit matrix` does (no observation)"),
                           ("probed", "the kit's own runs (probe and events in every process), scheduled so, "
                                      "unobserved"),
                           ("jobs1", "`kit matrix --jobs 1`"),
                           ("jobsN", f"`kit matrix` (default `--jobs {default_jobs()}`)"))),
        "", f"Every cell passed in {passed} of {all_n} default matrices "
            f"(and in {a.repeat - m.failed['jobs1']} of {a.repeat} with `--jobs 1`); inconclusive cells "
            "(a busy machine) are not failures.", "",
        *cost_lines(rounds, busy, cores), *observer_lines(m, cores), *free_kit_lines(m, cores), "")


def per_round(values: list[float], plain: list[float], cores: int = 1) -> str:
    """Each round's figure (spread over ``cores``) against the plain loop of the same round."""
    return ", ".join(f"{v / cores / p:.2f}x" for v, p in zip(values, plain))


def paired(a: list[float], b: list[float]) -> float:
    """The median of each round's own difference ``a[i] - b[i]``.  The rows of a round are measured
    one after the other within minutes, so a round's difference is a pair; a difference of two
    medians may set one row's quick round against another's slow one."""
    if len(a) != len(b) or not a:
        raise ValueError(f"rounds to pair: {len(a)} and {len(b)}")
    return statistics.median(x - y for x, y in zip(a, b))


def _cpu_s(diff: float, than: str = "") -> str:
    """A paired difference of CPU seconds in words, against ``than``: its sign read, not assumed."""
    if round(diff, 1) == 0:
        return f"the same CPU time{' as ' + than if than else ''} (within 0.05 s)"
    return f"{abs(diff):.1f} CPU s {'more' if diff > 0 else 'less'}{' than ' + than if than else ''}"


def cost_lines(rounds: dict[str, list[float]], busy: dict[str, list[float]], cores: int) -> list[str]:
    """(a)'s paragraphs on what each layer costs: the floor any schedule meets, the schedule without
    the kit, the evidence from inside the runs and the observation from outside.  Times and CPU
    seconds are medians of the rounds; every difference is ``paired``."""
    med = {k: statistics.median(v) for k, v in rounds.items()}
    med_cpu = {k: statistics.median(v) for k, v in busy.items()}
    plain = med["plain"]

    def s(k: str, base: str) -> str:
        return f"{paired(rounds[k], rounds[base]):+.1f} s"

    def c(k: str, base: str, than: str = "") -> str:
        return _cpu_s(paired(busy[k], busy[base]), than)

    def floors(k: str) -> str:  # each round's work spread over every core, against that round's plain loop
        return per_round(busy[k], rounds["plain"], cores)

    return [
        f"The floor: the plain loop's work is {med_cpu['plain']:.1f} CPU s (the whole machine's busy time "
        f"while it ran), so no schedule on {cores} cores finishes it in less than "
        f"{med_cpu['plain'] / cores:.1f} s = {med_cpu['plain'] / cores / plain:.2f}x the plain loop (each round's: "
        f"{floors('plain')}), even before the `cpu` cells, which must run alone. The kit's matrix costs "
        f"{med_cpu['jobsN']:.1f} CPU s ({c('jobsN', 'plain', 'the plain loop')}: its observer, the probe in every "
        f"process, the launcher and its relay): its own floor is "
        f"{med_cpu['jobsN'] / cores:.1f} s = {med_cpu['jobsN'] / cores / plain:.2f}x ({floors('jobsN')}).", "",
        f"The schedule without the kit: the bare cells, run as `kit matrix` runs them, take "
        f"{med['overlap']:.1f} s = {med['overlap'] / plain:.2f}x and {med_cpu['overlap']:.1f} CPU s "
        f"(side by side, the same cells cost {c('overlap', 'plain', 'one after the other')}). What observing "
        f"every run adds to that: {s('jobsN', 'overlap')}, {c('jobsN', 'overlap')}.", "",
        f"Of that, the evidence from inside the runs (the probe and its events in every process, the run's "
        f"environment, as the kit starts each cell, with nothing watching): {med['probed']:.1f} s = "
        f"{med['probed'] / plain:.2f}x, {s('probed', 'overlap')}, {c('probed', 'overlap')}; the kit's "
        f"observation from outside (relay, run group, watcher, reading back, judging): "
        f"{s('jobsN', 'probed')}, {c('jobsN', 'probed')}.", "",
        "(Each difference is the median of the rounds' own differences, a round's rows being measured "
        "within minutes of each other; on a noisy host the difference of two medians can say much more.)", ""]


def free_kit_lines(m: MatrixRounds, cores: int) -> list[str]:
    """What the kit process itself costs a matrix, and where a kit process that cost nothing would
    end: the shared phase keeps every core busy, so its CPU seconds come off the wall time spread
    over the cores (the floor of a kit that observes nothing is the bare schedule's row).  Round by
    round, each matrix less its own kit process against its own plain loop; the rounds whose kit
    did not say are left out."""
    known = [(j, o, p) for j, o, p in zip(m.rounds["jobsN"], m.own, m.rounds["plain"]) if o is not None]
    if not known:
        return []
    own = statistics.median(o for _, o, _ in known)
    free = statistics.median(j - o / cores for j, o, _ in known)
    ratio = statistics.median((j - o / cores) / p for j, o, p in known)
    return ["", f"The kit process's own CPU (its start-up, launching, the watchers, reading back, judging; "
                f"`getrusage` as it exits): {own:.2f} CPU s a matrix (rounds "
                f"{', '.join('unknown' if x is None else f'{x:.2f}' for x in m.own)}). A kit process that cost "
                f"nothing, with the runs as they are (their run groups, relays, probe and events), would end "
                f"the matrix in about {free:.1f} s = {ratio:.2f}x the plain loop (medians of the rounds)."]


def observer_lines(m: MatrixRounds, cores: int) -> list[str]:
    """The observer's own cost: per run while it watches, and over a whole matrix."""
    if not m.shares:
        return []
    share = statistics.median(m.shares)
    lines = [f"The observer's cost per run: {share:.3f} of a core while it watches (`observer_cpu_s / wall_s` of "
             f"`kit run event --method fork`, median of {len(m.shares)}: "
             f"{', '.join(f'{x:.3f}' for x in m.shares)})."]
    if m.watchers:
        w = statistics.median(m.watchers)
        lines[0] += (f" Over a default matrix the watchers of its {m.cells} runs take {w:.2f} CPU s "
                     f"({1000 * w / max(1, m.cells):.0f} ms a run; {w / cores:.2f} s of the matrix's wall time on "
                     f"{cores} cores).")
    return lines


def section_startup(a: argparse.Namespace, report: Report) -> None:
    """(b): kit bench's start-up against a bare timeit."""
    figures = startup(a.startup_rounds)
    report.data["startup"] = figures
    report.section(
        "## (b) `kit bench` start-up against a bare `timeit` of the same statement",
        "`p = ctx.Process(target=noop); p.start(); p.join()`, median per operation, same interpreter.", "",
        f"Medians of {a.startup_rounds} interleaved rounds; `kit bench` (whole run) is one full "
        "`kit bench --targets host`.", "",
        "| method | kit bench ms | bare timeit ms | ratio of medians | ratio of best rounds | "
        "`kit bench` (whole run) ms |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {m} | {f['kit_bench_ms']:.2f} ({_rounds(f['kit_rounds_ms'])}) | {f['timeit_ms']:.2f} "
          f"({_rounds(f['timeit_rounds_ms'])}) | {f['ratio']:.3f} | {f['best_ratio']:.3f} | "
          f"{f['kit_bench_full_ms']:.2f} |" for m, f in figures.items()), "")


def section_containers(a: argparse.Namespace, report: Report) -> None:
    """(c): the host and every container, when the images are built."""
    ready, why = docker_ready()
    if not ready:
        report.section("## (c) Host and every container", f"Not measured: containers unavailable ({why}).", "")
        return
    runs = [matrix(a.scale, None, "auto") for _ in range(a.container_rounds)]
    secs = [x.seconds for x in runs]
    report.data["containers"] = {"rounds": secs, "cells": runs[0].cells, "failed": [x.bad for x in runs]}
    report.section("## (c) Host and every container, images built",
                   f"`kit matrix --targets auto`: {runs[0].cells} cells, median {statistics.median(secs):.1f} s "
                   f"(rounds {', '.join(f'{s:.1f}' for s in secs)}); cells not passed per round: "
                   f"{', '.join(str(x.bad) for x in runs)}.", "")


def section_bench(a: argparse.Namespace, report: Report) -> None:
    """(e): ``kit bench`` over ``--bench-targets``; its Markdown and chart beside BENCHMARKS.md."""
    settle()  # CPU scaling needs idle cores: a hog or a matrix just before leaves the machine slower for a while
    md = Path(a.out).with_name(Path(a.out).stem + "-bench.md")
    with tempfile.TemporaryDirectory() as tmp:
        _, done = kit("bench", "--targets", a.bench_targets, "--json", str(Path(tmp) / "b.json"), "--markdown",
                      str(md))
        report.data["bench"] = json.loads((Path(tmp) / "b.json").read_text()) if done.returncode == 0 else None
    table = md.read_text(encoding="utf-8").strip().splitlines() if done.returncode == 0 else [
        f"`kit bench` failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"]
    report.section(f"## (e) `kit bench --targets {a.bench_targets}`: what each start method costs",
                   f"Also in `{md.name}` (and its chart `{md.with_suffix('.svg').name}`).", "",
                   *(line[1:] if line.startswith("#") else line for line in table), "")


def section_hog(a: argparse.Namespace, report: Report) -> None:
    """(d): ``--hog`` host matrices with a CPU hog on one core."""
    outcomes = hogged(a.scale, a.hog)
    report.data["hog"] = outcomes
    hog_failed = sum(int(str(o["failed"])) for o in outcomes)
    cpu = [str(s) for o in outcomes for s in o["cpu"]]  # type: ignore[attr-defined]
    per = ", ".join(f"{o['seconds']:.1f}" for o in outcomes)
    report.section(f"## (d) {a.hog} host matrices with a CPU hog on one core",
                   f"Cells failed: {hog_failed} in {a.hog} matrices. The `cpu` cells: {cpu.count('pass')} pass, "
                   f"{cpu.count('inconclusive')} inconclusive (the other load named in the reason), "
                   f"{len(cpu) - cpu.count('pass') - cpu.count('inconclusive')} other. Seconds per matrix: "
                   f"{per}.", "")


def section_suites(a: argparse.Namespace, report: Report) -> None:
    """(f): ``kit pytest`` against bare pytest on real suites."""
    from benchmarks import suites

    where = Path(a.suites_dir)
    where.mkdir(parents=True, exist_ok=True)
    settle()
    lines, data = suites.section(where, a.suite_rounds)
    report.data["suites"] = data
    report.section("## (f) `kit pytest` against bare pytest, on real third-party suites", *lines)


def write(out: Path, report: Report) -> None:
    """BENCHMARKS.md with the sections this run skipped kept; BENCHMARKS.json merged the same way."""
    out.write_text(keep_skipped(out, "\n".join(report.lines)), encoding="utf-8")
    data = out.with_suffix(".json")
    old = json.loads(data.read_text()) if data.exists() else {}
    data.write_text(json.dumps({**old, **report.data}, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    a = parse_args()
    report = Report.begin("nox -s bench -- " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "nox -s bench")
    if "matrix" not in a.skip:
        section_matrix(a, report)
    if "startup" not in a.skip:
        section_startup(a, report)
    if "containers" not in a.skip:
        section_containers(a, report)
    if a.bench_targets:
        section_bench(a, report)
    if a.hog:
        section_hog(a, report)
    if a.suite_rounds:
        section_suites(a, report)
    write(Path(a.out), report)
    print("\n".join(report.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
