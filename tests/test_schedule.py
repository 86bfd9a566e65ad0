"""The scheduler: what overlaps, what runs alone, and results in sequential order.

Planning and executing are tested with stand-in units (no process, no container); one test
runs a real small matrix both ways and compares, one shows a real ``cpu`` cell alone.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from kit import matrix, schedule
from kit.outcomes import Method, Status
from kit.results import PlatformInfo, RunResult
from kit.runner import Interrupted, Slot, Stopped
from kit.schedule import HOST, Plan, Unit
from kit.settings import DEFAULTS

EXAMPLES = ("hello", "cpu", "lock")
MANY = ("a", "b", "cpu", "c", "d", "e", "f")
METHODS = ("fork", "spawn")


def is_cpu(example: str, method: str) -> bool:
    return example == "cpu"


def result(unit_target: str, example: str, method: str) -> RunResult:
    return RunResult(example, Method(method), Status.PASS, "ok", platform=PlatformInfo.here(place=unit_target))


# -- planning -------------------------------------------------------------------------------
def test_one_job_is_the_sequential_run() -> None:
    p = schedule.plan([HOST, "docker:3.14"], EXAMPLES, METHODS, 1, is_cpu)
    assert p.solo == ()
    assert [u.label() for u in p.shared] == [f"{e}/{m}" for e in EXAMPLES for m in METHODS] + ["docker:3.14 (6 cells)"]
    assert p.shared[-1].examples == EXAMPLES  # the container's whole batch, cpu in its place


def test_cells_that_measure_cpu_wait_for_a_phase_of_their_own() -> None:
    p = schedule.plan([HOST, "docker:3.11", "docker:3.14"], EXAMPLES, METHODS, 4, is_cpu)
    assert [(u.place, u.examples) for u in p.shared[:2]] == [("docker:3.11", ("hello", "lock")),
                                                              ("docker:3.14", ("hello", "lock"))]
    assert [u.label() for u in p.shared[2:]] == ["hello/fork", "hello/spawn", "lock/fork", "lock/spawn"]
    assert [u.label() for u in p.solo] == ["cpu/fork", "cpu/spawn", "docker:3.11 (2 cells)", "docker:3.14 (2 cells)"]
    assert all(u.solo for u in p.solo) and not any(u.solo for u in p.shared)
    covered = sorted((u.place, e, m) for u in p.units() for e, m in u.cells)
    assert covered == sorted(p.order)  # every cell exactly once
    assert (p.jobs, p.host_jobs) == (4, 4)


def test_containers_alone_get_a_container_per_method_so_no_worker_idles() -> None:
    """docker:3.14 alone was one batch on one worker of six (25 s for 69 cells): one unit per
    method now, each its own container; with the host's cells beside them, one batch each."""
    p = schedule.plan(["docker:3.14"], EXAMPLES, METHODS, 6, is_cpu)
    assert [(u.place, u.examples, u.methods) for u in p.shared] == [
        ("docker:3.14", ("hello", "lock"), ("fork",)), ("docker:3.14", ("hello", "lock"), ("spawn",))]
    assert [u.label() for u in p.solo] == ["docker:3.14 (2 cells)"]  # the cpu cells: still one container, alone
    covered = sorted((u.place, e, m) for u in p.units() for e, m in u.cells)
    assert covered == sorted(p.order)
    assert len(schedule.plan(["docker:3.14"], EXAMPLES, METHODS, 1, is_cpu).shared) == 1  # --jobs 1: one batch
    with_host = schedule.plan([HOST, "docker:3.11", "docker:3.14"], MANY, METHODS, 6, is_cpu)
    assert [u.methods for u in with_host.shared if u.place != HOST] == [METHODS, METHODS]


def test_host_cells_one_at_a_time_where_runs_cannot_be_told_apart() -> None:
    p = schedule.plan([HOST], EXAMPLES, METHODS, 4, is_cpu, host_overlaps=False)
    assert (p.jobs, p.host_jobs) == (4, 1)


def test_jobs_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        schedule.plan([HOST], EXAMPLES, METHODS, 0, is_cpu)



def _labels(units: Sequence[Unit]) -> list[str]:
    return [u.label() for u in units]


def test_without_durations_host_cells_keep_the_catalogue_order() -> None:
    p = schedule.plan([HOST], MANY, METHODS, 6, is_cpu)
    assert _labels(p.shared) == [f"{e}/{m}" for e in MANY if e != "cpu" for m in METHODS]
    few = {("a", "fork"): 9.0}  # fewer than half the cells known: no hint at all
    assert _labels(schedule.plan([HOST], MANY, METHODS, 6, is_cpu, expected=few).shared) == _labels(p.shared)


def test_long_cells_start_first_spread_one_place_in_two_the_rest_in_order() -> None:
    expected = {(e, m): 0.2 for e in MANY for m in METHODS}
    expected.update({("f", "spawn"): 2.0, ("f", "fork"): 1.5, ("e", "spawn"): 1.0})  # the catalogue's last, long
    p = schedule.plan([HOST], MANY, METHODS, 4, is_cpu, expected=expected)
    labels = _labels(p.shared)
    assert labels[0::2][:3] == ["f/spawn", "f/fork", "e/spawn"]  # longest first, one at every ceil(4/2)-th place
    rest = [f"{e}/{m}" for e in MANY if e != "cpu" for m in METHODS if (e, m) not in
            {("f", "spawn"), ("f", "fork"), ("e", "spawn")}]
    assert [x for x in labels if x not in ("f/spawn", "f/fork", "e/spawn")] == rest  # the others keep their order
    assert sorted(labels) == sorted(_labels(schedule.plan([HOST], MANY, METHODS, 4, is_cpu).shared))
    assert _labels(p.solo) == ["cpu/fork", "cpu/spawn"]  # the solo phase is not reordered
    assert p.order == schedule.plan([HOST], MANY, METHODS, 4, is_cpu).order  # nor the results


def test_a_long_cell_listed_last_ends_the_phase_later_without_its_duration() -> None:
    """Real execution with stand-in units: one long cell listed last holds the phase after every
    short one ended (catalogue order); started first, it runs beside them (broken variant: no hint)."""
    names = ("s1", "s2", "s3", "s4", "s5", "long")
    took = {(n, "fork"): (0.6 if n == "long" else 0.1) for n in names}

    def run_unit(unit: Unit, slot: Slot) -> list[RunResult]:
        time.sleep(took[unit.cells[0]])
        return [result(unit.place, *unit.cells[0])]

    def phase(expected: dict[tuple[str, str], float] | None) -> float:
        p = schedule.plan([HOST], names, ("fork",), 2, lambda e, m: False, expected=expected)
        t0 = time.perf_counter()
        schedule.execute(p, run_unit, noop)
        return time.perf_counter() - t0

    assert phase(took) < 0.7 < phase(None)  # 0.6 s (long beside the five short) against 0.8 s


# -- executing ------------------------------------------------------------------------------
class Recorder:
    """A stand-in runner: each unit sleeps a little; records what ran at the same time.

    ``lingers``: a host unit then releases its place and sleeps that much longer, as a run
    waiting out its grace for the orphans it left (``kill_parent``)."""

    def __init__(self, seconds: float = 0.05, lingers: float = 0.0) -> None:
        self.seconds = seconds
        self.lingers = lingers
        self.lock = threading.Lock()
        self.now: list[Unit] = []
        self.holding: list[Unit] = []
        self.most = 0
        self.most_holding = 0
        self.most_host = 0
        self.solo_company: list[int] = []  # units running beside each solo unit as it began

    def __call__(self, unit: Unit, slot: Slot = schedule.FIXED) -> list[RunResult]:
        with self.lock:
            if unit.solo:
                self.solo_company.append(len(self.now))
            self.now.append(unit)
            self.holding.append(unit)
            self.most = max(self.most, len(self.now))
            self.most_holding = max(self.most_holding, len(self.holding))
            self.most_host = max(self.most_host, sum(u.place == HOST for u in self.now))
        time.sleep(self.seconds * (3 if unit.place != HOST else 1))
        if self.lingers and unit.place == HOST and not unit.solo:
            with self.lock:
                self.holding.remove(unit)
            slot.release()
            time.sleep(self.lingers)
        with self.lock:
            self.now.remove(unit)
            if unit in self.holding:
                self.holding.remove(unit)
        return [result(unit.place, e, m) for e, m in reversed(unit.cells)]  # out of order on purpose


def noop(unit: Unit, rs: list[RunResult], running: Sequence[Unit]) -> None:
    pass


def test_units_overlap_up_to_jobs_and_results_come_in_sequential_order() -> None:
    p = schedule.plan([HOST, "docker:3.14"], MANY, METHODS, 3, is_cpu)
    rec = Recorder()
    rs = schedule.execute(p, rec, noop)
    assert rec.most == 3
    assert [(r.platform.place if r.platform else "", r.subject, r.method) for r in rs] == list(p.order)


def test_a_cpu_cell_runs_with_nothing_else() -> None:
    p = schedule.plan([HOST, "docker:3.14"], MANY, METHODS, 4, is_cpu)
    rec = Recorder()
    schedule.execute(p, rec, noop)
    assert rec.solo_company == [0] * len(p.solo), rec.solo_company


def test_the_company_check_sees_a_cpu_cell_among_others() -> None:
    """The broken variant of the test above: a plan that lets a cpu cell share the machine."""
    good = schedule.plan([HOST], MANY, METHODS, 4, is_cpu)
    broken = Plan(good.shared[:2] + tuple(Unit(u.place, u.examples, u.methods, solo=True) for u in good.solo)
                  + good.shared[2:], (), good.jobs, good.host_jobs, good.order)
    rec = Recorder()
    schedule.execute(broken, rec, noop)
    assert any(n > 0 for n in rec.solo_company), rec.solo_company


def test_host_limit_holds_while_containers_overlap() -> None:
    p = schedule.plan([HOST, "docker:3.11", "docker:3.14"], MANY, METHODS, 4, is_cpu, host_overlaps=False)
    rec = Recorder()
    schedule.execute(p, rec, noop)
    assert rec.most_host == 1 and rec.most >= 3, (rec.most_host, rec.most)


@pytest.mark.slow  # seconds of stand-in units by design
def test_a_run_waiting_out_its_grace_lends_its_place() -> None:
    """Units that release their place after their work (a main process that exited, orphans
    waited for): the next ones start meanwhile; never more than ``jobs`` hold a place, never
    more than twice ``jobs`` alive; results still in order, and the cpu cells still alone."""
    p = schedule.plan([HOST], MANY, METHODS, 2, is_cpu)
    rec = Recorder(seconds=0.03, lingers=0.2)
    t0 = time.monotonic()
    rs = schedule.execute(p, rec, noop)
    lent = time.monotonic() - t0
    assert rec.most_holding <= 2 < rec.most <= 4, (rec.most_holding, rec.most)
    assert [(r.subject, r.method) for r in rs] == [(e, m) for _, e, m in p.order]
    assert rec.solo_company == [0] * len(p.solo)
    kept = Recorder(seconds=0.03, lingers=0.2)  # the broken variant: places never lent
    t0 = time.monotonic()
    schedule.execute(p, lambda unit, slot: kept(unit, schedule.FIXED), noop)
    assert kept.most == 2 and time.monotonic() - t0 > 1.4 * lent, (kept.most, time.monotonic() - t0, lent)


def test_a_second_attempt_waits_for_a_place() -> None:
    """``reclaim()`` after ``release()``: the unit holds a place again before going on, so
    places held never exceed ``jobs`` even when every unit tries twice."""
    p = schedule.plan([HOST], MANY, METHODS, 2, is_cpu)
    lock = threading.Lock()
    holding, most = [0], [0]

    def run_unit(unit: Unit, slot: Slot) -> list[RunResult]:
        for attempt in (1, 2):
            if attempt == 2:
                slot.reclaim()
            with lock:
                holding[0] += 1
                most[0] = max(most[0], holding[0])
            time.sleep(0.02)
            with lock:
                holding[0] -= 1
            slot.release()
            time.sleep(0.03)
        return [result(HOST, unit.examples[0], unit.methods[0])]

    assert len(schedule.execute(p, run_unit, noop)) == len(p.order)
    assert most[0] <= 2, most[0]


@pytest.mark.slow  # seconds of stand-in units by design
def test_a_lent_host_place_still_counts_where_host_runs_cannot_be_told_apart() -> None:
    """Sampled evidence (no cgroup): one host run at a time, grace included -- its leftovers
    would be taken for the next run's."""
    p = schedule.plan([HOST, "docker:3.11", "docker:3.14"], MANY, METHODS, 4, is_cpu, host_overlaps=False)
    rec = Recorder(lingers=0.1)
    schedule.execute(p, rec, noop)
    assert rec.most_host == 1 and rec.most >= 3, (rec.most_host, rec.most)


def test_on_done_sees_what_still_runs_one_call_at_a_time() -> None:
    p = schedule.plan([HOST], MANY, METHODS, 3, is_cpu)
    inside, calls, running_seen = [0], [0], []

    def on_done(unit: Unit, rs: list[RunResult], running: Sequence[Unit]) -> None:
        inside[0] += 1
        assert inside[0] == 1
        calls[0] += 1
        running_seen.append(len(running))
        time.sleep(0.01)
        inside[0] -= 1

    schedule.execute(p, Recorder(), on_done)
    assert calls[0] == len(p.units())
    assert max(running_seen) == 2


def test_a_failing_unit_stops_new_ones_and_is_raised_after_the_others_end() -> None:
    p = schedule.plan([HOST], MANY, METHODS, 2, is_cpu)
    started: list[str] = []

    def run_unit(unit: Unit, slot: Slot) -> list[RunResult]:
        started.append(unit.label())
        if len(started) == 2:
            raise RuntimeError("a kit bug")
        time.sleep(0.1)
        return [result(HOST, unit.examples[0], unit.methods[0])]

    with pytest.raises(RuntimeError, match="a kit bug"):
        schedule.execute(p, run_unit, noop)
    assert len(started) <= 3  # the other worker finished its unit and took no new one... or one more


def test_an_interrupted_run_is_reported_and_the_stop_raised_once_all_ended() -> None:
    p = schedule.plan([HOST], MANY, METHODS, 2, is_cpu)
    reported: list[str] = []

    def run_unit(unit: Unit, slot: Slot) -> list[RunResult]:
        r = RunResult(unit.examples[0], Method(unit.methods[0]), Status.INTERRUPTED, "stopped")
        if len(reported) >= 1:
            raise Interrupted(r, 15)
        time.sleep(0.05)
        return [result(HOST, unit.examples[0], unit.methods[0])]

    def on_done(unit: Unit, rs: list[RunResult], running: Sequence[Unit]) -> None:
        reported.extend(r.status for r in rs)

    with pytest.raises(Stopped) as info:
        schedule.execute(p, run_unit, on_done)
    assert info.value.signum == 15
    assert "interrupted" in reported and len(reported) < len(p.units())


def test_stopping_starts_nothing_new() -> None:
    p = schedule.plan([HOST], MANY, METHODS, 2, is_cpu)
    rs = schedule.execute(p, Recorder(), noop, stopping=lambda: True)
    assert rs == []


# -- for real -------------------------------------------------------------------------------
REAL = ["hello", "join", "queue_parent_child", "daemon", "guard"]


@pytest.mark.slow
def test_the_table_is_the_same_with_and_without_overlap() -> None:
    """A real matrix, sequential and overlapped: the same cells, statuses and checks, in the same order."""
    one = matrix.run_matrix(REAL, matrix.ALL_METHODS, DEFAULTS.but(jobs=1))
    many = matrix.run_matrix(REAL, matrix.ALL_METHODS, DEFAULTS.but(jobs=4))

    def shape(rs: list[RunResult]) -> list[tuple[str, str, str, list[str]]]:
        return [(r.subject, r.method, r.status, [v.check for v in r.checks]) for r in rs]

    assert shape(one) == shape(many)
    assert all(r.status == "pass" for r in many), [(r.subject, r.method, r.reason) for r in many]


@pytest.mark.slow
def test_a_real_cpu_cell_runs_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run's start and end, wrapped around the real runner: the cpu cells share their time with none."""
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    real = matrix.run

    def timed(target, method, *args, **kw):
        t0 = time.monotonic()
        try:
            return real(target, method, *args, **kw)
        finally:
            spans[(target.name, method)] = (t0, time.monotonic())

    monkeypatch.setattr(matrix, "run", timed)
    rs = matrix.run_matrix(["hello", "cpu", "event"], ["fork", "forkserver"], DEFAULTS.but(jobs=4))
    assert len(rs) == 6 and len(spans) == 6
    for (example, method), (a, b) in spans.items():
        if example != "cpu":
            continue
        company = [k for k, (c, d) in spans.items() if k != (example, method) and c < b and a < d]
        assert not company, f"cpu/{method} shared its time with {company}"


class _Spy:
    """A place that notes when the run lent it and whether it asked for it back."""

    def __init__(self) -> None:
        self.released: list[float] = []
        self.reclaimed = 0

    def release(self) -> None:
        self.released.append(time.monotonic())

    def reclaim(self) -> None:
        self.reclaimed += 1


@pytest.mark.slow
def test_a_real_run_lends_its_place_once_its_main_process_has_exited() -> None:
    """``kill_parent`` leaves orphans that the run waits for (the grace): its place is lent as
    the main process exits, not after the grace."""
    from kit.catalogue import example_subject
    from kit.runner import run

    spy = _Spy()
    t0 = time.monotonic()
    r = run(example_subject("kill_parent"), "fork", DEFAULTS.but(grace=0.6), slot=spy)
    ended = time.monotonic()
    assert r.status == "pass" and r.orphans, r.reason
    assert len(spy.released) == 1 and spy.reclaimed == 0
    assert ended - spy.released[0] >= 0.5, (spy.released[0] - t0, ended - t0)


def test_the_cells_that_run_alone_are_known_without_reading_any_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning a matrix asks which cells measure CPU: the catalogue's checks say so, before any
    example's source is read and analysed (each run does that as it starts; planning all of them
    first held the first run back).  Broken variant: asking the examples' subjects analyses all 24."""
    from kit import catalogue

    analysed: list[str] = []
    monkeypatch.setattr(catalogue, "analyse_file", lambda path: analysed.append(path))
    catalogue.example_subject.cache_clear()
    try:
        solo = [(e, m) for e in catalogue.EXAMPLES for m in matrix.ALL_METHODS if matrix.measures_cpu(e, m)]
    finally:
        catalogue.example_subject.cache_clear()
    assert solo == [("cpu", m) for m in matrix.ALL_METHODS]
    assert analysed == []
