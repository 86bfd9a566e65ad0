"""What one start method costs, measured in the interpreter that runs ``kit._bench_worker``.

``python -m kit._bench_worker --method M [--repeat R] [--work-s S]`` prints one JSON object
on stdout: raw samples only (``kit.bench`` makes the medians and spreads, so there is one
definition of them), or ``{"method": M, "skipped": why}`` where the platform lacks ``M``.
``kit bench`` starts a fresh interpreter per (target, method): a start method, once used,
leaves state behind (a forkserver, a resource tracker, imported modules) that would make the
next method look cheaper or dearer than it is. The module needs the standard library only, so
that it runs unchanged in the kit's containers. It is not the ``__main__`` of the measuring
interpreter: a spawn or forkserver child re-runs ``__main__`` (as ``__mp_main__``), and
whatever that costs is counted as start-up; the entry module, ``kit._bench_worker``, is a few
lines and hands over the functions the children run (``noop``, ``trivial``), so a start costs
here what it costs a small script run as a module (``benchmarks/startup_timeit.py`` measures that
against a bare ``timeit``). Nothing of the kit is imported beyond its package's
one-line ``__init__``: the number of usable CPUs (``kit.results.usable_cpu_count``, which reads
affinity and cgroup quotas) is asked of a throw-away interpreter (affinity or
``os.cpu_count()`` where the kit is not importable), so the measuring process stays as small as
a user's script (fork copies its page tables, so its size is a cost). ``--repeat R`` is the
number of repetitions of the start-up and pool timings; throughput rounds and scaling runs,
which last about a second each, get half as many (at least one).

Why each measurement is done the way it is:

start-up
    ``p = ctx.Process(target=noop); p.start(); p.join()`` timed by ``timeit.Timer.repeat``
    with nothing else inside the timed statement, so the per-operation figure is what a bare
    ``python -m timeit`` of the same statement gives in the same interpreter (timeit's own
    loop, with the garbage collector off, as timeit does).  The very first start is timed on
    its own and reported as ``first_s``: it pays one-time costs (the resource tracker for
    spawn, the server itself for forkserver) that every later start does not.  A few more
    starts then warm up and size ``number`` so that one repetition lasts about 0.2 s (and all
    repetitions together at least 1 s); the spread is between repetitions.
start-up from a script
    the same statement, ``number`` and repetitions in a fresh interpreter whose ``__main__`` is a
    small script file (``SCRIPT``, written to a temporary folder): what ``python my_script.py``
    pays.  Spawn children re-run a script through ``runpy.run_path``; so did forkserver children
    before 3.13.8 and 3.14.1, whose forkserver did not preload a script's ``__main__`` (CPython
    gh-126631, gh-137996): there a start from a script costs far more than from a module.
pool
    from ``ctx.Pool(n)`` to the first result of ``pool.apply``, with n the usable CPUs: what
    a program waits before its pool does anything.  ``close``/``join`` happen after the
    timing (a program does not wait for them before its first result); one pool first, not
    counted, warms the caches.
throughput
    parent to one child, already started and ready (its start-up is measured above), through
    ``ctx.Queue()`` and through ``ctx.Pipe()`` (the default, duplex), both with ``put``/
    ``send`` of pickled ``bytes``: 20-byte messages (messages/s: per-message overhead) and
    1 MiB ones (MiB/s: copying).  A round ends when the child says how many messages it got,
    so the time covers delivery, not just a Queue's buffering in its feeder thread; the count
    must match what was sent.  A trial round sizes the rounds to about 0.15 s each.
scaling
    a fixed count of iterations of a pure-Python loop (work, not a time), calibrated here to
    last about ``--work-s`` seconds on one CPU, split over k = 1..n processes.  The k children
    are started first and wait at a barrier; the clock runs from the release (an Event) until
    all k have passed a second barrier after their share, so neither process start-up nor exit
    is counted.  Each child also reports the CPU time of its share: when the CPUs are shared
    with other work, ``cpu_share`` (CPU time / (k x wall time)) falls below 1 and says why the
    speedup did.  The values of k take turns within each repetition so that a change in the
    machine's load touches every k alike.
"""
from __future__ import annotations

import multiprocessing
import sys
import time

TYPE_CHECKING = False  # typing is not imported: a spawn child would import it too (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_REPEAT = 7  # here, not in kit.bench: the CLI reads it without importing the bench's report code
SMALL_BYTES = 20
BIG_BYTES = 1 << 20
STARTUP_REP_S = 0.2  # one repetition of start-ups
STARTUP_TOTAL_S = 1.0  # all repetitions together, at least
ROUND_S = 0.15  # one throughput round
WAIT_S = 120.0  # no barrier, queue or join waits longer: a stuck child fails the run, never hangs it
STATEMENT = "p = ctx.Process(target=noop); p.start(); p.join()"


def spin(n: int) -> int:
    x = 0
    for i in range(n):
        x += i
    return x


def _count(receive: Callable[[], Any], send: Callable[[Any], None]) -> None:
    """Count messages until None (reply with the count); a str ends the child."""
    send("ready")
    count = 0
    while True:
        m = receive()
        if m is None:
            send(count)
            count = 0
        elif isinstance(m, str):
            return
        else:
            count += 1


def _queue_sink(inbox: Any, outbox: Any) -> None:
    _count(inbox.get, outbox.put)


def _pipe_sink(conn: Any) -> None:
    _count(conn.recv, conn.send)


def _share(n: int, ready: Any, go: Any, done: Any, cpu: Any, i: int) -> None:
    ready.wait(WAIT_S)
    go.wait(WAIT_S)
    c0 = time.process_time()
    spin(n)
    cpu[i] = time.process_time() - c0
    done.wait(WAIT_S)


def _usable_cpus() -> int:
    """``kit.results.usable_cpu_count`` in a throw-away interpreter (see the module's docstring);
    affinity or ``os.cpu_count()`` when the kit cannot be imported there."""
    import os
    import subprocess

    code = "from kit.results import usable_cpu_count; print(usable_cpu_count())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        return max(1, int(out.stdout.strip()))
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity else os.cpu_count() or 1)


def startup(ctx: Any, repeat: int, noop: Callable[[], None]) -> dict[str, Any]:
    import timeit

    t0 = time.perf_counter()
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    first = time.perf_counter() - t0
    timer = timeit.Timer(STATEMENT, globals={"ctx": ctx, "noop": noop})
    warm = 3
    estimate = timer.timeit(number=warm) / warm
    per_rep = max(STARTUP_REP_S, STARTUP_TOTAL_S / repeat)
    number = max(1, round(per_rep / max(estimate, 1e-6)))
    times = timer.repeat(repeat=repeat, number=number)
    return {"statement": STATEMENT, "first_s": first, "number": number, "samples_s": [t / number for t in times]}


SCRIPT = """import multiprocessing
import sys


def noop():
    pass


if __name__ == "__main__":
    import timeit

    ctx = multiprocessing.get_context(sys.argv[1])
    number, repeat = int(sys.argv[2]), int(sys.argv[3])
    timer = timeit.Timer(THE_STATEMENT, globals={"ctx": ctx, "noop": noop})
    timer.timeit(number=3)
    print(" ".join(repr(t / number) for t in timer.repeat(repeat=repeat, number=number)))
""".replace("THE_STATEMENT", repr(STATEMENT))


def script_startup(method: str, number: int, repeat: int) -> list[float]:
    """Seconds per start with a script as ``__main__`` (``SCRIPT``), one per repetition."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="kit-bench-") as folder:
        path = Path(folder) / "startup_script.py"
        path.write_text(SCRIPT, encoding="utf-8")
        done = subprocess.run([sys.executable, str(path), method, str(number), str(repeat)], capture_output=True,
                              text=True, timeout=WAIT_S, cwd=folder)
    if done.returncode != 0:
        raise RuntimeError(f"the start-up script failed: {done.stderr.strip()[-300:]}")
    return [float(x) for x in done.stdout.split()]


def pool(ctx: Any, processes: int, repeat: int, trivial: Callable[[], int]) -> dict[str, Any]:
    samples = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        p = ctx.Pool(processes)
        p.apply(trivial)
        elapsed = time.perf_counter() - t0
        p.close()
        p.join()
        if i:  # the first one warms up
            samples.append(elapsed)
    return {"processes": processes, "samples_s": samples}


def _queue_round(inbox: Any, outbox: Any, message: bytes, count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        inbox.put(message)
    inbox.put(None)
    got = outbox.get(timeout=WAIT_S)
    elapsed = time.perf_counter() - t0
    if got != count:
        raise RuntimeError(f"the child got {got} messages of {count} through the Queue")
    return elapsed


def _pipe_round(conn: Any, message: bytes, count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        conn.send(message)
    conn.send(None)
    if not conn.poll(WAIT_S):
        raise RuntimeError(f"the child did not answer through the Pipe within {WAIT_S:g} s")
    got = conn.recv()
    elapsed = time.perf_counter() - t0
    if got != count:
        raise RuntimeError(f"the child got {got} messages of {count} through the Pipe")
    return elapsed


def _rounds(one_round: Callable[[int], float], size: int, repeat: int) -> dict[str, Any]:
    """A trial round sizes the count so that a round lasts about ``ROUND_S``; then ``repeat`` rounds."""
    trial = 2000 if size < 1024 else 8
    elapsed = one_round(trial)
    count = max(trial // 2, round(trial * ROUND_S / max(elapsed, 1e-6)))
    return {"bytes": size, "messages": count, "samples_s": [one_round(count) for _ in range(repeat)]}


def _queue_rates(ctx: Any, message: bytes, repeat: int) -> dict[str, Any]:
    inbox, outbox = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=_queue_sink, args=(inbox, outbox))
    child.start()
    try:
        if outbox.get(timeout=WAIT_S) != "ready":
            raise RuntimeError("the Queue child did not say it was ready")
        out = _rounds(lambda n: _queue_round(inbox, outbox, message, n), len(message), repeat)
        inbox.put("exit")
    except BaseException:
        child.kill()
        raise
    finally:
        child.join(WAIT_S)
        for q in (inbox, outbox):  # the feeder threads end here: a later fork copies no thread
            q.close()
            q.join_thread()
    return out


def _pipe_rates(ctx: Any, message: bytes, repeat: int) -> dict[str, Any]:
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=_pipe_sink, args=(theirs,))
    child.start()
    theirs.close()
    try:
        if not mine.poll(WAIT_S) or mine.recv() != "ready":
            raise RuntimeError("the Pipe child did not say it was ready")
        out = _rounds(lambda n: _pipe_round(mine, message, n), len(message), repeat)
        mine.send("exit")
    except BaseException:
        child.kill()
        raise
    finally:
        child.join(WAIT_S)
        mine.close()
    return out


def throughput(ctx: Any, repeat: int) -> dict[str, Any]:
    small, big = b"x" * SMALL_BYTES, b"x" * BIG_BYTES
    return {"queue_small": _queue_rates(ctx, small, repeat), "queue_big": _queue_rates(ctx, big, repeat),
            "pipe_small": _pipe_rates(ctx, small, repeat), "pipe_big": _pipe_rates(ctx, big, repeat)}


def calibrate(work_s: float) -> int:
    """Iterations of ``spin`` that last about ``work_s`` here, to two significant digits."""
    n = 50_000
    while True:
        t0 = time.perf_counter()
        spin(n)
        elapsed = time.perf_counter() - t0
        if elapsed >= 0.05:
            break
        n *= 2
    for _ in range(2):  # the best of three: a moment of someone else's load must not shrink the work
        t0 = time.perf_counter()
        spin(n)
        elapsed = min(elapsed, time.perf_counter() - t0)
    target = n * work_s / elapsed
    digits = 10 ** max(0, len(str(int(target))) - 2)
    return max(1000, int(round(target / digits) * digits))


def _scaled_run(ctx: Any, iterations: int, k: int) -> tuple[float, float]:
    """Wall time of ``iterations`` split over ``k`` children, and their CPU time / (k x wall)."""
    ready, done, go = ctx.Barrier(k + 1), ctx.Barrier(k + 1), ctx.Event()
    cpu = ctx.Array("d", k)
    shares = [iterations // k + (1 if i < iterations % k else 0) for i in range(k)]
    children = [ctx.Process(target=_share, args=(n, ready, go, done, cpu, i)) for i, n in enumerate(shares)]
    for c in children:
        c.start()
    try:
        ready.wait(WAIT_S)
        t0 = time.perf_counter()
        go.set()
        done.wait(WAIT_S)
        wall = time.perf_counter() - t0
    except BaseException:
        for c in children:
            c.kill()
        raise
    finally:
        for c in children:
            c.join(WAIT_S)
    return wall, sum(cpu[:]) / (k * wall)


def scaling(ctx: Any, processes: int, repeat: int, work_s: float) -> dict[str, Any]:
    iterations = calibrate(work_s)
    ks = list(range(1, processes + 1))
    walls: dict[int, list[float]] = {k: [] for k in ks}
    shares: dict[int, list[float]] = {k: [] for k in ks}
    for _ in range(repeat):
        for k in ks:
            wall, share = _scaled_run(ctx, iterations, k)
            walls[k].append(wall)
            shares[k].append(share)
    return {"iterations": iterations, "points": [{"processes": k, "samples_s": walls[k], "cpu_share": shares[k]}
                                                 for k in ks]}


def platform_info(processes: int) -> dict[str, Any]:
    import os
    import platform

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "os": platform.system(), "release": platform.release(), "machine": platform.machine(),
            "cpu_count": os.cpu_count() or 0, "usable_cpus": processes,
            "default_method": multiprocessing.get_start_method(allow_none=True)
            or multiprocessing.get_context().get_start_method(),
            "loadavg_1m": load}


def measure(method: str, repeat: int, work_s: float, noop: Callable[[], None], trivial: Callable[[], int],
            startup_only: bool = False) -> dict[str, Any]:
    """Every figure of ``method``; ``noop`` and ``trivial`` are defined in ``__main__`` (see above)."""
    if method not in multiprocessing.get_all_start_methods():
        return {"method": method, "skipped": f"this platform has no {method} start method"}
    ctx = multiprocessing.get_context(method)
    t0 = time.perf_counter()
    heavy = max(1, (repeat + 1) // 2)  # rounds and scaling runs last ~1 s each: half as many
    out: dict[str, Any] = {"method": method, "repeat": repeat}
    out["startup"] = startup(ctx, repeat, noop)  # first, while this process is as small as it gets
    if startup_only:  # benchmarks/ sets it against a bare timeit, round after round
        return out
    out["startup"]["script_samples_s"] = script_startup(method, out["startup"]["number"], repeat)
    processes = _usable_cpus()
    out["platform"] = platform_info(processes)
    out["pool"] = pool(ctx, processes, repeat, trivial)
    out["throughput"] = throughput(ctx, heavy)
    out["scaling"] = scaling(ctx, processes, heavy, work_s)
    out["seconds"] = time.perf_counter() - t0
    return out


def main(argv: list[str], noop: Callable[[], None], trivial: Callable[[], int]) -> int:
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m kit._bench_worker", description=__doc__.split("\n")[0])
    p.add_argument("--method", required=True)
    p.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                   help="repetitions of each timing (throughput and scaling: half)")
    p.add_argument("--work-s", type=float, default=1.0, help="seconds of the scaling work on one CPU")
    p.add_argument("--startup-only", action="store_true", help="only the start-up figure (benchmarks/)")
    args = p.parse_args(argv)
    if args.repeat < 1 or not 0 < args.work_s <= 3600:
        p.error("--repeat must be at least 1 and --work-s in (0, 3600]")
    result = measure(args.method, args.repeat, args.work_s, noop, trivial, args.startup_only)
    sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    sys.stdout.flush()
    return 0
