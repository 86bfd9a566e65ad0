"""Run many (example, start method) cells on the host and in containers, as ``kit.schedule`` plans.

Cells that only wait or start processes overlap (``--jobs``, default three times the usable cores:
they mostly sleep); cells whose checks measure CPU run alone afterwards, so that what they
measure is theirs.  ``jobs=1`` is the sequential run, cell after cell, place after place.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence

from kit import schedule
from kit._platform import usable_cpu_count
from kit.catalogue import Subject, example_subject
from kit.outcomes import METHODS
from kit.results import RunResult
from kit.runner import STOP, Slot, overlap_safe, run
from kit.settings import Settings

ALL_METHODS = METHODS
Progress = Callable[[int, int, RunResult, Sequence[str]], None]
"""``(i, n, result, running)``: the i-th of n host cells ended; ``running``: units still running."""
RunContainer = Callable[[schedule.Unit], list[RunResult]]


def host_methods() -> list[str]:
    """Every start method, in a fixed order; those the host lacks come back as skipped."""
    return list(ALL_METHODS) + [m for m in multiprocessing.get_all_start_methods() if m not in ALL_METHODS]


def default_jobs() -> int:
    """Units at once in the shared phase: three times the usable cores.  Most cells wait (sleeps,
    start-ups, the kit's sampling): with twice the cores, 2 CPUs were 80% busy; with three, 95%."""
    return 3 * usable_cpu_count()


def measures_cpu(example: str, method: str) -> bool:
    """The cell's verdict needs the machine to itself (``Check.measures_cpu``)."""
    return any(c.measures_cpu for c in example_subject(example).checks_for(method))


def run_matrix(examples: Sequence[str], methods: Sequence[str], settings: Settings, *,
               places: Sequence[str] = (schedule.HOST,), run_container: RunContainer | None = None,
               progress: Progress | None = None, say: Callable[[str], None] | None = None,
               subject_of: Callable[[str], Subject] = example_subject,
               solo: Callable[[str, str], bool] | None = None) -> list[RunResult]:
    """Every cell in each of ``places`` (``host``, and ``docker:X.Y`` run by ``run_container``),
    ``settings.jobs`` units at once; results in the order of a sequential run whatever ``jobs`` is.
    ``examples`` are names: ``subject_of`` makes each the subject to run (a suite's is itself), and
    ``solo(name, method)`` says which cells must run alone (default: those that measure CPU)."""
    host = schedule.HOST in places
    host_overlaps, why = overlap_safe() if host and settings.jobs > 1 else (True, "")
    if not host_overlaps and say:
        say(f"host cells run one at a time: {why}")
    p = schedule.plan(places, examples, methods, settings.jobs, solo or measures_cpu, host_overlaps=host_overlaps)
    n = len(examples) * len(methods) if host else 0
    count = [0]

    def run_unit(unit: schedule.Unit, slot: Slot) -> list[RunResult]:
        if unit.place == schedule.HOST:
            return [run(subject_of(unit.examples[0]), unit.methods[0], settings, slot=slot)]
        if run_container is None:
            raise ValueError(f"no way to run {unit.place}")
        return run_container(unit)

    def on_done(unit: schedule.Unit, rs: list[RunResult], running: Sequence[schedule.Unit]) -> None:
        if unit.place == schedule.HOST and progress:
            for r in rs:
                count[0] += 1
                progress(count[0], n, r, [u.label() for u in running])

    return schedule.execute(p, run_unit, on_done, stopping=lambda: bool(STOP.signum))
