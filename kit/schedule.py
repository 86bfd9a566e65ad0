"""Which cells run side by side, which run alone, and running them so.

Most cells wait (the article's sleeps, scaled) or start processes: they can share the machine.
A cell whose checks measure CPU (``Check.measures_cpu``: the ``cpu`` example's real
parallelism) cannot: it runs alone, after every shared cell, with nothing else of the kit
running on any target, one at a time.  So a matrix runs in two phases:

1. *shared*: every cell that does not measure CPU, at most ``jobs`` units at once across all
   targets.  A host cell is a unit; a container's shared cells are one unit (its kit runs them
   one after the other: the container's pid namespace is the evidence of one run at a time),
   or one unit per start method, each in a container of its own, where one per target would
   leave workers idle (fewer units than ``jobs``: containers without the host).
   Host cells overlap only where the kernel keeps each run apart (its own cgroup,
   ``runner.overlap_safe``); with sampled evidence the host runs one cell at a time, still
   side by side with the containers, which live in their own pid namespaces.
2. *solo*: the CPU-measuring cells, target after target, one at a time.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kit.results import RunResult
from kit.runner import Interrupted, Slot, Stopped

HOST = "host"


@dataclass(frozen=True)
class Unit:
    """Cells one worker runs at once: one host cell, or a container's batch (``examples`` x ``methods``)."""

    target: str  # "host" or "docker:X.Y"
    examples: tuple[str, ...]
    methods: tuple[str, ...]
    solo: bool = False

    @property
    def cells(self) -> list[tuple[str, str]]:
        return [(e, m) for e in self.examples for m in self.methods]

    def label(self) -> str:
        if self.target == HOST and len(self.examples) == len(self.methods) == 1:
            return f"{self.examples[0]}/{self.methods[0]}"
        return f"{self.target} ({len(self.cells)} cells)"


@dataclass(frozen=True)
class Plan:
    shared: tuple[Unit, ...]  # phase 1, in the order workers pick them up (containers first: longest)
    solo: tuple[Unit, ...]  # phase 2, one at a time, in order
    jobs: int  # units at once in phase 1
    host_jobs: int  # host cells at once in phase 1 (1 where host runs cannot be told apart)
    order: tuple[tuple[str, str, str], ...]  # (target, example, method) of a sequential run

    def units(self) -> list[Unit]:
        return [*self.shared, *self.solo]


def plan(targets: Sequence[str], examples: Sequence[str], methods: Sequence[str], jobs: int,
         solo: Callable[[str, str], bool], host_overlaps: bool = True) -> Plan:
    """The units of a matrix over ``targets`` (``host`` and/or ``docker:X.Y``, in report order).

    ``solo(example, method)``: the cell measures CPU.  An example with a solo cell under any
    method goes to phase 2 whole on a container target (a batch is examples x methods).
    ``jobs=1``: one unit per target holding all its cells (host: one per cell), in order,
    nothing in phase 2 -- exactly the sequential run.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    order = tuple((t, e, m) for t in targets for e in examples for m in methods)
    if jobs == 1:
        seq = [Unit(HOST, (e,), (m,)) for e in examples for m in methods] if HOST in targets else []
        seq += [Unit(t, tuple(examples), tuple(methods)) for t in targets if t != HOST]
        return Plan(tuple(seq), (), 1, 1, order)
    alone = [e for e in examples if any(solo(e, m) for m in methods)]
    together = [e for e in examples if e not in alone]
    shared: list[Unit] = []
    later: list[Unit] = []
    for t in targets:
        if t == HOST:
            continue
        if together:
            shared.append(Unit(t, tuple(together), tuple(methods)))
        if alone:
            later.append(Unit(t, tuple(alone), tuple(methods), solo=True))
    host_cells = [(e, m) for e in examples for m in methods] if HOST in targets else []
    if len(shared) + sum(not solo(e, m) for e, m in host_cells) < jobs:  # workers would idle: one container per method
        shared = [Unit(u.target, u.examples, (m,)) for u in shared for m in u.methods]
    if HOST in targets:
        shared += [Unit(HOST, (e,), (m,)) for e, m in host_cells if not solo(e, m)]
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
    its place goes to the next unit while it waits out its grace (the ``kill_parent`` cells'
    orphans held three of six places for 2 s: the cores idled); ``slot.reclaim()`` before a
    second attempt waits for a place again.  Units alive at once: at most twice ``p.jobs``.
    Where host runs cannot be told apart (``p.host_jobs`` below ``p.jobs``) a host unit keeps
    counting against ``host_jobs`` until it has ended, lent or not.
    ``on_done(unit, results, still_running)`` is called (one call at a time) as each unit ends.
    ``stopping()`` true: no new unit is started; those running end as their runs do (the
    runner's own stop).  A run interrupted in a worker (``runner.Interrupted``) is reported
    like any other and ``runner.Stopped`` is raised once every worker has stopped; any other
    exception in a unit stops new units and is raised here, also once every worker stopped.
    Results: in the order of ``p.order``, then any result no cell of the plan named.
    """
    done: dict[Unit, list[RunResult]] = {}
    lock = threading.Condition()
    queue = list(p.shared)
    running: list[Unit] = []
    holding: set[Unit] = set()  # running units with a place (not lent)
    raised: list[BaseException] = []
    stops: list[int] = []
    threads: list[threading.Thread] = []

    def over() -> bool:
        return bool(raised or stops or stopping())

    def host_room() -> bool:
        if p.host_jobs >= p.jobs:
            return True
        return sum(1 for u in running if u.target == HOST) < p.host_jobs

    def take() -> Unit | None:
        with lock:
            while True:
                if over() or not queue:
                    return None
                if len(holding) < p.jobs:
                    for i, unit in enumerate(queue):
                        if unit.target != HOST or host_room():
                            running.append(queue.pop(i))
                            holding.add(unit)
                            return unit
                lock.wait(0.1)  # every place taken, or only host cells left and the host is full

    class _Place:
        def __init__(self, unit: Unit) -> None:
            self.unit = unit

        def release(self) -> None:
            with lock:
                if self.unit not in holding:
                    return
                holding.discard(self.unit)
                if queue and not over() and len(threads) < 2 * p.jobs:  # a worker for the place lent
                    spawn()
                lock.notify_all()

        def reclaim(self) -> None:
            with lock:
                while self.unit not in holding:
                    if len(holding) < p.jobs or over():
                        holding.add(self.unit)
                    else:
                        lock.wait(0.1)

    def finish(unit: Unit, rs: list[RunResult]) -> None:
        with lock:
            running.remove(unit)
            holding.discard(unit)
            done[unit] = rs
            try:
                on_done(unit, rs, tuple(running))
            finally:
                lock.notify_all()

    def worker() -> None:
        while (unit := take()) is not None:
            try:
                rs = run_unit(unit, _Place(unit) if unit.target == HOST else FIXED)
            except Interrupted as exc:  # the kit was told to stop: this run's result is kept like any other
                with lock:
                    stops.append(exc.signum)
                finish(unit, [exc.result])
                continue
            except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread, raised there
                with lock:
                    raised.append(exc)
                    running.remove(unit)
                    holding.discard(unit)
                    lock.notify_all()
                return
            finish(unit, rs)

    def spawn() -> None:  # under ``lock``
        t = threading.Thread(target=worker, name=f"kit-cell-{len(threads)}", daemon=True)
        threads.append(t)
        t.start()

    def one_by_one(units: Sequence[Unit]) -> None:  # in this thread: a stop reaches the run as it always did
        for unit in units:
            if stopping():
                break
            with lock:
                running.append(unit)
            finish(unit, run_unit(unit, FIXED))

    if p.jobs == 1:  # the sequential run
        one_by_one(p.units())
        return ordered(p, done.values())
    def join_all() -> None:  # workers are added as places are lent: until none is left
        joined = 0
        while True:
            with lock:
                if joined == len(threads):
                    return
                t = threads[joined]
            t.join()
            joined += 1

    with lock:
        for _ in range(min(p.jobs, len(queue))):
            spawn()
    try:
        join_all()
    finally:  # a signal in this thread: the runs end by the runner's stop; wait for them, never abandon one
        join_all()
    if raised:
        raise raised[0]
    if stops:  # every interrupted run was reported through on_done
        raise Stopped(stops[0])
    one_by_one(p.solo)
    return ordered(p, done.values())


def ordered(p: Plan, batches: Iterable[list[RunResult]]) -> list[RunResult]:
    """Results in the plan's sequential order; any the plan did not name come last, as they came."""
    rank = {key: i for i, key in enumerate(p.order)}
    rs = [r for batch in batches for r in batch]

    def key(r: RunResult) -> int:
        target = r.platform.target if r.platform is not None and r.platform.target else HOST
        return rank.get((target, r.example, r.method), len(rank))

    return sorted(rs, key=key)  # stable: unnamed results keep their order
