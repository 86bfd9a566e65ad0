"""``kit bench``'s records: frozen, with their medians and spreads derived, to JSON and back.

A row (``MethodBench``) is one start method on one target: every figure, or why there is none.
``Bench`` is a whole run.  ``dump`` never writes NaN; ``load`` checks every field
(``kit.bench.fields``) and raises ValueError naming the one that is wrong, as ``kit.results``
does for a run's results.
"""
from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import kit
from kit import results
from kit._bench_measure import DEFAULT_REPEAT
from kit.bench.fields import count, field, number, numbers, obj, one_of

KIND = "kit-bench"
VERSION = 1
OK, SKIPPED, ERROR = "ok", "skipped", "error"
CHANNELS = (("queue", "small"), ("queue", "big"), ("pipe", "small"), ("pipe", "big"))
TARGET_EFFICIENCY = 0.95  # speedup >= 0.95 x N on N idle CPUs
ABOVE_N = 1.05  # efficiency above this is not the cores: the machine ran faster in some runs than in others
UNDISTURBED = TARGET_EFFICIENCY  # cpu_share of a scaling run whose processes had their CPUs: a run whose
# processes had less could not show the target's speedup anyway
STATUSES = (OK, SKIPPED, ERROR)
MIB = 1 << 20


# -- statistics ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """Median and spread of repeated measurements (quartiles: ``statistics.quantiles``, inclusive)."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise ValueError("no values")
        if not all(math.isfinite(v) for v in values):
            raise ValueError("values must be finite")
        if len(values) == 1:
            q1 = q3 = float(values[0])
        else:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(float(statistics.median(values)), q1, q3, float(min(values)), float(max(values)), len(values))

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "iqr": self.iqr, "min": self.min,
                "max": self.max, "n": self.n}


@dataclass(frozen=True)
class Samples:
    """One value per repetition; the statistics are derived (written to JSON, not read back)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        Stats.of(self.values)  # refuses empty and non-finite

    @property
    def stats(self) -> Stats:
        return Stats.of(self.values)

    @property
    def median(self) -> float:
        return self.stats.median

    def to_dict(self) -> dict[str, Any]:
        return {"samples": list(self.values), **self.stats.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, where: str, positive: bool = True) -> Samples:
        values = field(obj(data, where), "samples", list, where)
        if not values:
            raise ValueError(f"{where}.samples is empty")
        return cls(numbers(values, f"{where}.samples", positive))


# -- the records -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Startup:
    """``ctx.Process(target=noop)`` started and joined: seconds per start, one sample per repetition
    of ``number`` starts; ``first_s``: the very first start, alone (forkserver: with its server);
    ``script_s``: the same with a script file as ``__main__`` (``kit._bench_measure.SCRIPT``: what
    ``python my_script.py`` pays; None in JSON written before it was measured)."""

    per_start_s: Samples
    number: int
    first_s: float
    script_s: Samples | None = None

    def to_dict(self) -> dict[str, Any]:
        """With ``median_ms``, the headline figure, for readers of the JSON (derived: not read back)."""
        out = {"per_start_s": self.per_start_s.to_dict(), "median_ms": self.per_start_s.median * 1000,
               "number": self.number, "first_s": self.first_s}
        if self.script_s is not None:
            out |= {"script_per_start_s": self.script_s.to_dict(), "script_median_ms": self.script_s.median * 1000}
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Startup:
        d = obj(data, where)
        script = d.get("script_per_start_s")
        return cls(Samples.from_dict(field(d, "per_start_s", dict, where), f"{where}.per_start_s"),
                   count(d, "number", where), number(field(d, "first_s", float, where), f"{where}.first_s"),
                   None if script is None else Samples.from_dict(script, f"{where}.script_per_start_s"))


@dataclass(frozen=True)
class PoolStart:
    """Seconds from ``ctx.Pool(processes)`` to the first result of ``apply``."""

    processes: int
    seconds: Samples

    def to_dict(self) -> dict[str, Any]:
        return {"processes": self.processes, "seconds": self.seconds.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> PoolStart:
        d = obj(data, where)
        return cls(count(d, "processes", where),
                   Samples.from_dict(field(d, "seconds", dict, where), f"{where}.seconds"))


@dataclass(frozen=True)
class Transfer:
    """``messages`` pickled ``bytes`` of ``payload_bytes`` each, parent to child, per round."""

    channel: str  # queue or pipe
    payload_bytes: int
    messages: int
    seconds: Samples  # per round

    @property
    def msgs_per_s(self) -> Stats:
        return Stats.of([self.messages / s for s in self.seconds.values])

    @property
    def mib_per_s(self) -> Stats:
        return Stats.of([self.messages * self.payload_bytes / MIB / s for s in self.seconds.values])

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "payload_bytes": self.payload_bytes, "messages": self.messages,
                "seconds": self.seconds.to_dict(), "msgs_per_s": self.msgs_per_s.to_dict(),
                "mib_per_s": self.mib_per_s.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Transfer:
        d = obj(data, where)
        return cls(one_of(d, "channel", ("queue", "pipe"), where), count(d, "payload_bytes", where),
                   count(d, "messages", where),
                   Samples.from_dict(field(d, "seconds", dict, where), f"{where}.seconds"))


@dataclass(frozen=True)
class ScalePoint:
    """The fixed work split over ``processes`` children, timed from their release."""

    processes: int
    seconds: Samples
    cpu_share: Samples  # the children's CPU time / (processes x wall time): 1 when they had the CPUs

    def undisturbed(self) -> list[tuple[float, float]]:
        """(seconds, cpu_share) of the runs whose processes had their CPUs (``UNDISTURBED``)."""
        return [(t, share) for t, share in zip(self.seconds.values, self.cpu_share.values) if share >= UNDISTURBED]

    def kept(self) -> list[tuple[float, float]]:
        """The undisturbed runs; every run where none was."""
        return self.undisturbed() or list(zip(self.seconds.values, self.cpu_share.values))

    def to_dict(self) -> dict[str, Any]:
        return {"processes": self.processes, "seconds": self.seconds.to_dict(), "cpu_share": self.cpu_share.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ScalePoint:
        d = obj(data, where)
        return cls(count(d, "processes", where),
                   Samples.from_dict(field(d, "seconds", dict, where), f"{where}.seconds"),
                   Samples.from_dict(field(d, "cpu_share", dict, where), f"{where}.cpu_share", positive=False))


@dataclass(frozen=True)
class Scaling:
    """``iterations`` of a pure-Python loop split over k = 1..N processes (``points``, k in order)."""

    iterations: int
    points: tuple[ScalePoint, ...]

    def __post_init__(self) -> None:
        if not self.points or [p.processes for p in self.points] != list(range(1, len(self.points) + 1)):
            raise ValueError("scaling points must be k = 1, 2, ... N in order")

    def speedup(self, point: ScalePoint) -> float:
        """One process's time against ``point``'s: the median of the runs whose processes had their
        CPUs (``cpu_share`` at least ``UNDISTURBED``) against the same; best against best where one
        of them has no such run.  Other work only adds time and lowers ``cpu_share``: such runs are
        left out, so that a neighbour's burst does not read as a speedup.  The best alone is not
        enough either: a VM's CPU speeds up and slows down with its host, and one fast
        single-process run would make every speedup look poor; medians of the undisturbed runs
        stand against both.  BENCHMARKS.md has the readings."""
        base = self.points[0]
        one, many = base.undisturbed(), point.undisturbed()
        if one and many:
            return statistics.median(t for t, _ in one) / statistics.median(t for t, _ in many)
        return min(base.seconds.values) / min(point.seconds.values)

    def efficiency(self, point: ScalePoint) -> float:
        return self.speedup(point) / point.processes

    def share(self, point: ScalePoint) -> float:
        """The children's share of their CPUs' time at ``point``, over the runs ``speedup`` used:
        the undisturbed ones (all where none was)."""
        return statistics.median(share for _, share in point.kept())

    def cpu_cost(self, point: ScalePoint) -> float:
        """CPU time of the whole work at ``point`` against one process's (1.0: the same), medians of
        the undisturbed runs (all runs where none was).  With ``cpu_share`` s_k and speedup S at k
        processes, S = k x s_k / (s_1 x cost): a speedup below k is either the children waiting
        for their CPUs (s_k below 1) or the same work costing more CPU time (cost above 1).  The
        loop shares nothing, so a cost above 1 is the CPUs running slower in those runs: two vCPUs
        on one physical core, a clock that drops as more cores work, or a VM whose speed moves."""
        def cpu(p: ScalePoint) -> float:
            return statistics.median(t * share * p.processes for t, share in p.kept())

        return cpu(point) / cpu(self.points[0])

    @property
    def top(self) -> ScalePoint:
        return self.points[-1]

    @property
    def meets_target(self) -> bool:
        """Speedup at N of at least ``TARGET_EFFICIENCY`` x N."""
        return self.efficiency(self.top) >= TARGET_EFFICIENCY

    def to_dict(self) -> dict[str, Any]:
        return {"iterations": self.iterations,
                "points": [{**p.to_dict(), "speedup": self.speedup(p), "efficiency": self.efficiency(p),
                            "cpu_cost": self.cpu_cost(p)} for p in self.points],
                "target_speedup": TARGET_EFFICIENCY * self.top.processes, "meets_target": self.meets_target}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Scaling:
        d = obj(data, where)
        points = field(d, "points", list, where)
        return cls(count(d, "iterations", where),
                   tuple(ScalePoint.from_dict(p, f"{where}.points[{i}]") for i, p in enumerate(points)))


@dataclass(frozen=True)
class Platform:
    """Where a row was measured (the worker's interpreter)."""

    target: str
    python: str
    implementation: str
    os: str
    release: str
    machine: str
    cpu_count: int
    usable_cpus: int
    default_method: str
    loadavg_1m: float | None = None  # the machine's load when the worker began (None: not known here)

    def line(self) -> str:
        load = f", load {self.loadavg_1m:.2f} at start" if self.loadavg_1m is not None else ""
        return (f"{self.target}: {self.os} {self.machine}, {self.implementation} {self.python}, "
                f"{self.usable_cpus} usable CPUs of {self.cpu_count}, default start method {self.default_method}{load}")

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "python": self.python, "implementation": self.implementation, "os": self.os,
                "release": self.release, "machine": self.machine, "cpu_count": self.cpu_count,
                "usable_cpus": self.usable_cpus, "default_method": self.default_method,
                "loadavg_1m": self.loadavg_1m}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Platform:
        d = obj(data, where)
        load = d.get("loadavg_1m")
        text = {k: field(d, k, str, where) for k in ("target", "python", "implementation", "os", "release", "machine",
                                                      "default_method")}
        return cls(**text, cpu_count=count(d, "cpu_count", where, minimum=0),
                   usable_cpus=count(d, "usable_cpus", where),
                   loadavg_1m=None if load is None else number(load, f"{where}.loadavg_1m", positive=False))


@dataclass(frozen=True)
class MethodBench:
    """One start method on one target: every figure, or why there is none (``status``, ``reason``)."""

    target: str
    method: str
    status: str = OK  # ok, skipped (the platform lacks the method) or error
    reason: str = ""
    platform: Platform | None = None
    repeat: int = 0
    seconds: float = 0.0  # the worker's own measuring time
    startup: Startup | None = None
    pool: PoolStart | None = None
    transfers: tuple[Transfer, ...] = ()
    scaling: Scaling | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r:.40}")
        if self.status == OK and (self.startup is None or self.pool is None or self.scaling is None
                                  or len(self.transfers) != len(CHANNELS)):
            raise ValueError(f"{self.target} {self.method}: a measured row needs every figure")

    def transfer(self, channel: str, size: str) -> Transfer | None:
        small = size == "small"
        for t in self.transfers:
            if t.channel == channel and (t.payload_bytes < MIB) == small:
                return t
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "method": self.method, "status": self.status, "reason": self.reason,
                "platform": self.platform.to_dict() if self.platform else None, "repeat": self.repeat,
                "seconds": self.seconds, "startup": self.startup.to_dict() if self.startup else None,
                "pool": self.pool.to_dict() if self.pool else None,
                "transfers": [t.to_dict() for t in self.transfers],
                "scaling": self.scaling.to_dict() if self.scaling else None}

    @classmethod
    def from_dict(cls, data: Any, where: str = "row") -> MethodBench:
        d = obj(data, where)

        def opt(key: str, parse: Callable[[Any, str], Any]) -> Any:
            return None if d.get(key) is None else parse(d[key], f"{where}.{key}")

        return cls(field(d, "target", str, where), field(d, "method", str, where), one_of(d, "status", STATUSES, where),
                   field(d, "reason", str, where), opt("platform", Platform.from_dict),
                   count(d, "repeat", where, minimum=0),
                   number(field(d, "seconds", float, where), f"{where}.seconds", positive=False),
                   opt("startup", Startup.from_dict), opt("pool", PoolStart.from_dict),
                   tuple(Transfer.from_dict(t, f"{where}.transfers[{i}]")
                         for i, t in enumerate(field(d, "transfers", list, where))),
                   opt("scaling", Scaling.from_dict))


@dataclass(frozen=True)
class Bench:
    """A whole ``kit bench``: its rows in order (target, then method); ``results`` in JSON."""

    rows: tuple[MethodBench, ...]
    repeat: int = DEFAULT_REPEAT
    seconds: float = 0.0
    kit_version: str = kit.__version__

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "version": VERSION, "kit_version": self.kit_version, "repeat": self.repeat,
                "seconds": self.seconds, "results": [r.to_dict() for r in self.rows]}

    @classmethod
    def from_dict(cls, data: Any) -> Bench:
        d = obj(data, "bench")
        if d.get("kind") != KIND:
            raise ValueError(f"not kit bench results (kind {d.get('kind')!r:.40}, expected {KIND!r})")
        if d.get("version") != VERSION:
            raise ValueError(f"kit bench results of version {d.get('version')!r:.20}; this kit reads {VERSION}")
        rows = field(d, "results", list, "bench")
        return cls(tuple(MethodBench.from_dict(r, f"results[{i}]") for i, r in enumerate(rows)),
                   count(d, "repeat", "bench"),
                   number(field(d, "seconds", float, "bench"), "bench.seconds", positive=False),
                   field(d, "kit_version", str, "bench"))


def dump(bench: Bench) -> str:
    """JSON text; a non-finite number is refused, never written as NaN."""
    return json.dumps(bench.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)


def load(text: str) -> Bench:
    """``dump``'s text back; ValueError with a short reason (naming the field) otherwise."""
    data = results.parse_json(text, "kit bench results")
    try:
        return Bench.from_dict(data)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


