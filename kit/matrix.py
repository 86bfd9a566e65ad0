"""Run many (example, start method) cells on the host and in containers, as ``kit.schedule`` plans.

Cells that only wait or start processes overlap (``--jobs``, default three times the usable cores:
they mostly sleep); cells whose checks measure CPU run alone afterwards, so that what they
measure is theirs.  ``jobs=1`` is the sequential run, cell after cell, place after place.
"""
from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kit import durations, schedule
from kit._platform import usable_cpu_count
from kit.catalogue import EXAMPLES, Subject, example_subject
from kit.outcomes import METHODS
from kit.results import RunResult
from kit.runner import Slot, check_memory_limit, overlap_safe, prepare, run
from kit.stop import STOP
from kit.settings import Settings

ALL_METHODS = METHODS
Progress = Callable[[int, int, RunResult, Sequence[str]], None]
"""``(i, n, result, running)``: the i-th of n cells ended (a container's when its batch ends);
``running``: units still running."""
RunContainer = Callable[[schedule.Unit], list[RunResult]]


def host_methods() -> list[str]:
    """Every start method, in a fixed order; those the host lacks come back as skipped."""
    return list(ALL_METHODS) + [m for m in multiprocessing.get_all_start_methods() if m not in ALL_METHODS]


def default_jobs() -> int:
    """Units at once in the shared phase: three times the usable cores.  Most cells wait (sleeps,
    start-ups, the kit's sampling): twice the cores leaves CPUs idle (BENCHMARKS.md says how much)."""
    return 3 * usable_cpu_count()


def measures_cpu(example: str, method: str) -> bool:
    """The cell's verdict needs the machine to itself (``Check.measures_cpu``).  From the catalogue's
    checks alone: planning must not wait for every example's source to be read and analysed
    (``example_subject``), which each run does as it starts."""
    return any(c.measures_cpu for c in EXAMPLES[example].checks_for(method))


@dataclass(frozen=True)
class Where:
    """The places of a matrix, in report order, and what runs a container's unit (``kit.places``)."""

    places: tuple[str, ...] = (schedule.HOST,)
    run_container: RunContainer | None = None


@dataclass(frozen=True)
class Subjects:
    """How a matrix's names become subjects, and which of their cells must run alone."""

    of: Callable[[str], Subject] = example_subject
    solo: Callable[[str, str], bool] = measures_cpu


def run_matrix(names: Sequence[str], methods: Sequence[str], settings: Settings, where: Where = Where(),
               progress: Progress | None = None, say: Callable[[str], None] | None = None,
               subjects: Subjects = Subjects()) -> list[RunResult]:
    """Every cell (name x method) in each place of ``where``, ``settings.jobs`` units at once;
    results in the order of a sequential run whatever ``jobs`` is.  ``subjects`` makes each name
    the subject to run (the catalogue's examples by default; a suite's name is itself)."""
    places, run_container = where.places, where.run_container
    host = schedule.HOST in places
    if host:
        check_memory_limit(settings)
        prepare()  # the guardian and relay server boot while the matrix is planned
    host_overlaps, why = overlap_safe() if host and settings.jobs > 1 else (True, "")
    if not host_overlaps and say:
        say(f"host cells run one at a time: {why}")
    p = schedule.plan(places, names, methods, settings.jobs, subjects.solo, host_overlaps=host_overlaps,
                      expected=durations.load(settings.scale) if host and settings.jobs > 1 else None)
    n = sum(len(u.cells) for u in p.units())
    count = [0]
    took: dict[tuple[str, str], float] = {}  # each host cell, as its worker held it: for the next matrix's order

    def run_unit(unit: schedule.Unit, slot: Slot) -> list[RunResult]:
        if unit.place == schedule.HOST:
            t0 = time.perf_counter()
            r = run(subjects.of(unit.examples[0]), unit.methods[0], settings, slot=slot)
            took[(unit.examples[0], unit.methods[0])] = time.perf_counter() - t0
            return [r]
        if run_container is None:
            raise ValueError(f"no way to run {unit.place}")
        return run_container(unit)

    def on_done(unit: schedule.Unit, rs: list[RunResult], running: Sequence[schedule.Unit]) -> None:
        if progress:
            for r in rs:
                count[0] += 1
                progress(count[0], n, r, [u.label() for u in running])

    try:
        return schedule.execute(p, run_unit, on_done, stopping=lambda: bool(STOP.signum))
    finally:
        if not STOP.signum:  # an interrupted matrix's times say when it was stopped, not how long cells last
            durations.save(settings.scale, took)
