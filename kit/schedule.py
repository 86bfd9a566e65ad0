"""Which cells run side by side, which run alone, and running them so.

Most cells wait (the article's sleeps, scaled) or start processes: they can share the machine.
A cell whose checks measure CPU (``Check.measures_cpu``: the ``cpu`` example's real
parallelism) cannot: it runs alone, after every shared cell, with nothing else of the kit
running on any place, one at a time.  So a matrix runs in two phases:

1. *shared*: every cell that does not measure CPU, at most ``jobs`` units at once across all
   places.  A host cell is a unit; a container's shared cells are one unit (its kit runs them
   one after the other: the container's pid namespace is the evidence of one run at a time),
   or one unit per start method, each in a container of its own, where one per place would
   leave workers idle (fewer units than ``jobs``: containers without the host).
   Host cells overlap only where the kernel keeps each run apart (its own cgroup,
   ``runner.overlap_safe``); with sampled evidence the host runs one cell at a time, still
   side by side with the containers, which live in their own pid namespaces.
2. *solo*: the CPU-measuring cells, place after place, one at a time.

Host cells of the shared phase start in the catalogue's order, but for the long ones, where the
last matrix measured them (``kit.durations``): those start first, spread among the others
(``early_long``), so that the phase does not end in a tail of a few long cells waiting while the
cores idle.

A host run whose main process has exited only waits (up to the grace) for what it left behind:
it lends its place to the next unit meanwhile (``runner.Slot``), so that cells whose orphans
are waited for do not keep the cores idle.

Planning is pure (``plan``: tested without a process or a container); ``execute`` runs a plan
with threads (each run is watched by its own thread; the runs are processes).  Results come
back in the order of a sequential run, so JSON and tables do not depend on ``jobs``.
``jobs=1`` is the sequential run itself: every cell in order, the ``cpu`` cells in their place.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kit.outcomes import HOST
from kit.results import RunResult
from kit.runner import Slot
from kit.stop import Interrupted, Stopped



@dataclass(frozen=True)
class Unit:
    """Cells one worker runs at once: one host cell, or a container's batch (``examples`` x ``methods``)."""

    place: str  # "host" or "docker:X.Y"
    examples: tuple[str, ...]
    methods: tuple[str, ...]
    solo: bool = False

    @property
    def cells(self) -> list[tuple[str, str]]:
        return [(e, m) for e in self.examples for m in self.methods]

    def label(self) -> str:
        if self.place == HOST and len(self.examples) == len(self.methods) == 1:
            return f"{self.examples[0]}/{self.methods[0]}"
        return f"{self.place} ({len(self.cells)} cells)"


@dataclass(frozen=True)
class Plan:
    shared: tuple[Unit, ...]  # phase 1, in the order workers pick them up (containers first: longest)
    solo: tuple[Unit, ...]  # phase 2, one at a time, in order
    jobs: int  # units at once in phase 1
    host_jobs: int  # host cells at once in phase 1 (1 where host runs cannot be told apart)
    order: tuple[tuple[str, str, str], ...]  # (place, example, method) of a sequential run

    def units(self) -> list[Unit]:
        return [*self.shared, *self.solo]


LONG = 1.5
"""A host cell is long when it lasted more than this many times the median cell (``early_long``)."""


def early_long(units: Sequence[Unit], expected: Mapping[tuple[str, str], float], jobs: int) -> list[Unit]:
    """Host cells in the order they start: the long ones (``LONG`` times the median of the known
    durations, ``expected[(example, method)]`` in seconds), longest first, one at every
    ``max(2, ceil(jobs / 2))``-th place from the start; the others in their own order between them.

    Long cells mostly wait (the article's sleeps, orphans waited for): started together they would
    hold every place while the cores idle, so each takes at most about one place in two;
    started last (the catalogue's order) they end the phase alone.  Pure.  Without durations for at
    least half the cells, ``units`` unchanged."""
    known = sorted(expected[k] for u in units if (k := (u.examples[0], u.methods[0])) in expected)
    if not units or len(known) * 2 < len(units):
        return list(units)
    median = known[len(known) // 2]

    def seconds(u: Unit) -> float:
        return expected.get((u.examples[0], u.methods[0]), 0.0)

    long = sorted((u for u in units if seconds(u) > LONG * median), key=seconds, reverse=True)
    rest = [u for u in units if seconds(u) <= LONG * median]
    step = max(2, -(-jobs // 2))
    out: list[Unit] = []
    for unit in long:
        out += [unit, *rest[:step - 1]]
        del rest[:step - 1]
    return out + rest


def plan(places: Sequence[str], examples: Sequence[str], methods: Sequence[str], jobs: int,
         solo: Callable[[str, str], bool], host_overlaps: bool = True,
         expected: Mapping[tuple[str, str], float] | None = None) -> Plan:
    """The units of a matrix over ``places`` (``host`` and/or ``docker:X.Y``, in report order).

    ``solo(example, method)``: the cell measures CPU.  An example with a solo cell under any
    method goes to phase 2 whole on a container (a batch is examples x methods).
    ``jobs=1``: one unit per place holding all its cells (host: one per cell), in order,
    nothing in phase 2 -- exactly the sequential run.  ``expected``: the host cells' durations of
    the last matrix (``kit.durations``): long ones start early (``early_long``).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    order = tuple((t, e, m) for t in places for e in examples for m in methods)
    if jobs == 1:
        seq = [Unit(HOST, (e,), (m,)) for e in examples for m in methods] if HOST in places else []
        seq += [Unit(t, tuple(examples), tuple(methods)) for t in places if t != HOST]
        return Plan(tuple(seq), (), 1, 1, order)
    alone = [e for e in examples if any(solo(e, m) for m in methods)]
    together = [e for e in examples if e not in alone]
    shared: list[Unit] = []
    later: list[Unit] = []
    for t in places:
        if t == HOST:
            continue
        if together:
            shared.append(Unit(t, tuple(together), tuple(methods)))
        if alone:
            later.append(Unit(t, tuple(alone), tuple(methods), solo=True))
    host_cells = [(e, m) for e in examples for m in methods] if HOST in places else []
    if len(shared) + sum(not solo(e, m) for e, m in host_cells) < jobs:  # workers would idle: one container per method
        shared = [Unit(u.place, u.examples, (m,)) for u in shared for m in u.methods]
    if HOST in places:
        shared += early_long([Unit(HOST, (e,), (m,)) for e, m in host_cells if not solo(e, m)], expected or {},
                             jobs)
        later[:0] = [Unit(HOST, (e,), (m,), solo=True) for e, m in host_cells if solo(e, m)]
    return Plan(tuple(shared), tuple(later), jobs, jobs if host_overlaps else 1, order)


RunUnit = Callable[[Unit, Slot], list[RunResult]]
OnDone = Callable[[Unit, list[RunResult], Sequence[Unit]], None]


class _Fixed:
    """The place of a unit that never lends it: the sequential run, the solo phase, a container."""

    def release(self) -> None:
        pass

    def reclaim(self) -> None:
        pass


FIXED: Slot = _Fixed()


def execute(p: Plan, run_unit: RunUnit, on_done: OnDone, stopping: Callable[[], bool] = lambda: False
            ) -> list[RunResult]:
    """Run ``p``: phase 1 on up to ``p.jobs`` places, then phase 2 in this thread.

    ``run_unit(unit, slot)``: a run whose main process has exited calls ``slot.release()`` and
    its place goes to the next unit while it waits out its grace (orphans waited for must not
    keep the cores idle); ``slot.reclaim()`` before a second attempt waits for a place again.
    Units alive at once: at most twice ``p.jobs``.  Where host runs cannot be told apart
    (``p.host_jobs`` below ``p.jobs``) a host unit keeps counting against ``host_jobs`` until it
    has ended, lent or not.
    ``on_done(unit, results, still_running)`` is called (one call at a time) as each unit ends.
    ``stopping()`` true: no new unit is started; those running end as their runs do (the
    runner's own stop).  A run interrupted in a worker (``kit.stop.Interrupted``) is reported
    like any other and ``kit.stop.Stopped`` is raised once every worker has stopped; any other
    exception in a unit stops new units and is raised here, also once every worker stopped.
    Results: in the order of ``p.order``, then any result no cell of the plan named.
    """
    run = _Execution(p, run_unit, on_done, stopping)
    if p.jobs == 1:  # the sequential run
        run.one_by_one(p.units())
    else:
        run.shared_phase()
        run.one_by_one(p.solo)
    return ordered(p, run.done.values())


class _Execution:
    """The state of one ``execute``: the queue of units, those running, the places held, and the
    worker threads; every field is read and written under ``lock``."""

    def __init__(self, p: Plan, run_unit: RunUnit, on_done: OnDone, stopping: Callable[[], bool]) -> None:
        self.p, self.run_unit, self.on_done, self.stopping = p, run_unit, on_done, stopping
        self.done: dict[Unit, list[RunResult]] = {}
        self.lock = threading.Condition()
        self.queue = list(p.shared)
        self.running: list[Unit] = []
        self.holding: set[Unit] = set()  # running units with a place (not lent)
        self.raised: list[BaseException] = []
        self.stops: list[int] = []
        self.threads: list[threading.Thread] = []

    def over(self) -> bool:
        return bool(self.raised or self.stops or self.stopping())

    def _host_room(self) -> bool:
        if self.p.host_jobs >= self.p.jobs:
            return True
        return sum(1 for u in self.running if u.place == HOST) < self.p.host_jobs

    def _take(self) -> Unit | None:
        with self.lock:
            while True:
                if self.over() or not self.queue:
                    return None
                if len(self.holding) < self.p.jobs:
                    for i, unit in enumerate(self.queue):
                        if unit.place != HOST or self._host_room():
                            self.running.append(self.queue.pop(i))
                            self.holding.add(unit)
                            return unit
                self.lock.wait(0.1)  # every place taken, or only host cells left and the host is full

    def release(self, unit: Unit) -> None:
        """``unit`` only waits out its grace now: its place goes to the next unit."""
        with self.lock:
            if unit not in self.holding:
                return
            self.holding.discard(unit)
            if self.queue and not self.over() and len(self.threads) < 2 * self.p.jobs:  # a worker for the place
                self._spawn()
            self.lock.notify_all()

    def reclaim(self, unit: Unit) -> None:
        """``unit`` starts processes again (a second attempt): it waits for a place first."""
        with self.lock:
            while unit not in self.holding:
                if len(self.holding) < self.p.jobs or self.over():
                    self.holding.add(unit)
                else:
                    self.lock.wait(0.1)

    def _finish(self, unit: Unit, rs: list[RunResult]) -> None:
        with self.lock:
            self.running.remove(unit)
            self.holding.discard(unit)
            self.done[unit] = rs
            try:
                self.on_done(unit, rs, tuple(self.running))
            finally:
                self.lock.notify_all()

    def _worker(self) -> None:
        while (unit := self._take()) is not None:
            try:
                rs = self.run_unit(unit, _Place(self, unit) if unit.place == HOST else FIXED)
            except Interrupted as exc:  # the kit was told to stop: this run's result is kept like any other
                with self.lock:
                    self.stops.append(exc.signum)
                self._finish(unit, [exc.result])
                continue
            except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread, raised there
                with self.lock:
                    self.raised.append(exc)
                    self.running.remove(unit)
                    self.holding.discard(unit)
                    self.lock.notify_all()
                return
            self._finish(unit, rs)

    def _spawn(self) -> None:  # under ``lock``
        t = threading.Thread(target=self._worker, name=f"kit-cell-{len(self.threads)}", daemon=True)
        self.threads.append(t)
        t.start()

    def one_by_one(self, units: Sequence[Unit]) -> None:
        """In this thread: a stop reaches the run as it always did."""
        for unit in units:
            if self.stopping():
                break
            with self.lock:
                self.running.append(unit)
            self._finish(unit, self.run_unit(unit, FIXED))

    def _join_all(self) -> None:
        """Workers are added as places are lent: join until none is left."""
        joined = 0
        while True:
            with self.lock:
                if joined == len(self.threads):
                    return
                t = self.threads[joined]
            t.join()
            joined += 1

    def shared_phase(self) -> None:
        """Phase 1 on up to ``jobs`` workers; raises what a worker raised, or ``Stopped``."""
        with self.lock:
            for _ in range(min(self.p.jobs, len(self.queue))):
                self._spawn()
        try:
            self._join_all()
        finally:  # a signal in this thread: the runs end by the runner's stop; wait for them, never abandon one
            self._join_all()
        if self.raised:
            raise self.raised[0]
        if self.stops:  # every interrupted run was reported through on_done
            raise Stopped(self.stops[0])


class _Place:
    """A host unit's place in an ``_Execution`` (``runner.Slot``)."""

    def __init__(self, execution: _Execution, unit: Unit) -> None:
        self.execution, self.unit = execution, unit

    def release(self) -> None:
        self.execution.release(self.unit)

    def reclaim(self) -> None:
        self.execution.reclaim(self.unit)


def ordered(p: Plan, batches: Iterable[list[RunResult]]) -> list[RunResult]:
    """Results in the plan's sequential order; any the plan did not name come last, as they came."""
    rank = {key: i for i, key in enumerate(p.order)}
    rs = [r for batch in batches for r in batch]

    def key(r: RunResult) -> int:
        place = r.platform.place if r.platform is not None and r.platform.place else HOST
        return rank.get((place, r.subject, r.method), len(rank))

    return sorted(rs, key=key)  # stable: unnamed results keep their order
