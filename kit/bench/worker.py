"""The measuring interpreter seen from outside: its command line, its time limit, its output read back.

``python -m kit._bench_worker`` prints raw samples as one JSON object (``kit._bench_measure``
says how each is measured); here it becomes a row, or an error row saying why there is none.
The worker stays outside this package: a spawn child re-imports it, and it must cost no more
than a small script does.
"""
from __future__ import annotations

import json
from typing import Any

from kit.bench.fields import count, field, number, numbers, obj
from kit.bench.records import (CHANNELS, ERROR, OK, SKIPPED, MethodBench, Platform, PoolStart, Samples, ScalePoint,
                               Scaling, Startup, Transfer)

WORKER = "kit._bench_worker"


def worker_timeout(repeat: int) -> float:
    """Seconds one worker may take: many times what it needs at any ``repeat``; far more is a hang."""
    return 120.0 + 30.0 * repeat


def worker_command(python: str, method: str, repeat: int) -> list[str]:
    return [python, "-m", WORKER, "--method", method, "--repeat", str(repeat)]


def raw_samples(values: Any, where: str, positive: bool = True) -> Samples:
    """A worker's list of samples (``samples_s``, ``cpu_share``)."""
    return Samples(numbers(values, where, positive))


def from_worker(data: Any, target: str, method: str) -> MethodBench:
    """The worker's raw JSON as a row; ValueError naming what is wrong with it."""
    w = "worker output"
    d = obj(data, w)
    if d.get("method") != method:
        raise ValueError(f"the worker measured {d.get('method')!r:.40}, not {method!r}")
    if "skipped" in d:
        return MethodBench(target, method, SKIPPED, str(d["skipped"]))
    info = {**obj(d.get("platform"), f"{w}.platform"), "target": target}
    s = obj(d.get("startup"), f"{w}.startup")
    p = obj(d.get("pool"), f"{w}.pool")
    startup = Startup(raw_samples(s.get("samples_s"), f"{w}.startup.samples_s"), count(s, "number", f"{w}.startup"),
                      number(s.get("first_s"), f"{w}.startup.first_s"),
                      raw_samples(s.get("script_samples_s"), f"{w}.startup.script_samples_s"))
    pool = PoolStart(count(p, "processes", f"{w}.pool"), raw_samples(p.get("samples_s"), f"{w}.pool.samples_s"))
    t = obj(d.get("throughput"), f"{w}.throughput")
    transfers = []
    for channel, size in CHANNELS:
        tw = f"{w}.throughput.{channel}_{size}"
        one = obj(t.get(f"{channel}_{size}"), tw)
        transfers.append(Transfer(channel, count(one, "bytes", tw), count(one, "messages", tw),
                                  raw_samples(one.get("samples_s"), f"{tw}.samples_s")))
    sc = obj(d.get("scaling"), f"{w}.scaling")
    points = []
    for i, raw in enumerate(field(sc, "points", list, f"{w}.scaling")):
        pw = f"{w}.scaling.points[{i}]"
        pd = obj(raw, pw)
        points.append(ScalePoint(count(pd, "processes", pw), raw_samples(pd.get("samples_s"), f"{pw}.samples_s"),
                                 raw_samples(pd.get("cpu_share"), f"{pw}.cpu_share", positive=False)))
    return MethodBench(target, method, OK, "", Platform.from_dict(info, f"{w}.platform"),
                       count(d, "repeat", w), number(d.get("seconds"), f"{w}.seconds"), startup, pool,
                       tuple(transfers), Scaling(count(sc, "iterations", f"{w}.scaling"), tuple(points)))


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(none)"


def parse_output(stdout: str, target: str, method: str, how: str, stderr: str) -> MethodBench:
    """The row of ``method`` from a worker's stdout, or an error row saying why there is none
    (``how``: how the worker or its container ended)."""
    for line in stdout.splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("method") == method:
            try:
                return from_worker(data, target, method)
            except (TypeError, ValueError) as exc:
                return MethodBench(target, method, ERROR, f"the worker's output is not a benchmark ({exc})")
    return MethodBench(target, method, ERROR, f"no result: the worker {how}; last stderr line: {last_line(stderr)}")
