"""``kit bench``'s words: the text table, the Markdown page and the progress lines.

One figure, one format: the table and the Markdown page share the cells of a row; a speedup off
the mark gets a line saying why (the children's share of their CPUs, the work's CPU time).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from kit.bench.records import ABOVE_N, CHANNELS, OK, TARGET_EFFICIENCY, Bench, MethodBench, Platform

def ms(seconds: float) -> str:
    """Milliseconds, three digits ("1.52 ms"); seconds from one second up."""
    millis = seconds * 1000
    return f"{seconds:.2f} s" if millis >= 1000 else f"{millis:.3g} ms"


def plain_ms(seconds: float, digits: int = 3) -> str:
    """Milliseconds without the unit."""
    return f"{seconds * 1000:.{digits}g}"


def _rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2g}M"
    return f"{x / 1e3:.3g}k" if x >= 1e3 else f"{x:.3g}"


def _figures(r: MethodBench) -> dict[str, str]:
    """The table's cells of one measured row."""
    assert r.startup and r.pool and r.scaling
    st, pool, sc = r.startup.per_start_s.stats, r.pool.seconds.stats, r.scaling
    script = r.startup.script_s
    cells = {"start-up": f"{ms(st.median)} ±{plain_ms(st.iqr, 2)}",
             "script": ms(script.median) if script is not None else "-", "first": ms(r.startup.first_s),
             "pool": f"{ms(pool.median)} ±{plain_ms(pool.iqr, 2)}"}
    for channel, size in CHANNELS:
        t = r.transfer(channel, size)
        assert t is not None
        cells[f"{channel}_{size}"] = (f"{_rate(t.msgs_per_s.median)} msg/s" if size == "small"
                                      else f"{t.mib_per_s.median:.0f} MiB/s")
    top = sc.top
    cells["speedup"] = (f"{sc.speedup(top):.2f}x ({sc.efficiency(top):.0%})" + ("" if sc.meets_target else " *"))
    return cells


HEADERS = {"start-up": "start-up ±IQR", "script": "from a script", "first": "first start",
           "pool": "pool(N) 1st ±IQR",
           "queue_small": "Queue 20 B", "queue_big": "Queue 1 MiB", "pipe_small": "Pipe 20 B",
           "pipe_big": "Pipe 1 MiB", "speedup": "speedup at N"}


def targets_of(rows: Iterable[MethodBench]) -> list[str]:
    """The rows' targets, in their order."""
    return list(dict.fromkeys(r.target for r in rows))


def platform_of(rows: Sequence[MethodBench], target: str) -> Platform | None:
    """Where ``target``'s rows were measured (the first that says)."""
    return next((r.platform for r in rows if r.target == target and r.platform), None)


def text_table(bench: Bench) -> str:
    """Per target: its platform line, then a row per method (skipped and failed ones say why)."""
    out: list[str] = []
    for target in targets_of(bench.rows):
        rows = [r for r in bench.rows if r.target == target]
        info = platform_of(rows, target)
        out.append(info.line() if info else f"{target}:")
        n = info.usable_cpus if info else 0
        headers = {**HEADERS, "pool": f"pool({n}) 1st ±IQR", "speedup": f"speedup at {n}"}
        cells = [(r.method, _figures(r) if r.status == OK else None, r) for r in rows]
        width = {k: max([len(h)] + [len(c[k]) for _, c, _ in cells if c]) for k, h in headers.items()}
        mw = max([len("method")] + [len(m) for m, _, _ in cells])
        out.append("")
        if any(c for _, c, _ in cells):
            out.append("  ".join(["method".ljust(mw), *(h.ljust(width[k]) for k, h in headers.items())]).rstrip())
            out.append("  ".join(["-" * mw, *("-" * width[k] for k in headers)]))
        for method, c, r in cells:
            if c is None:
                out.append(f"{method.ljust(mw)}  {r.status}: {r.reason}")
            else:
                out.append("  ".join([method.ljust(mw), *(c[k].ljust(width[k]) for k in headers)]).rstrip())
        out.append("")
    out.append("start-up: start() + join() of an empty process, __main__ a small module; from a script: the same "
               "with a script file as __main__ (spawn children re-run it; forkserver ones did before 3.13.8/3.14.1).")
    out.append("± is the interquartile range of the repetitions, in ms; speedup: the same CPU-bound work on 1 "
               "vs N processes, after they started, median against median of the runs whose processes had their CPUs "
               "(* below the target of "
               f"{TARGET_EFFICIENCY:g} x N: see cpu_share in the JSON).")
    out += scaling_notes(bench)
    return "\n".join(out)


def scaling_notes(bench: Bench) -> list[str]:
    """A line for each speedup at N off the mark: above N (the machine's speed varied), or below
    the target, with why: the children's share of their CPUs, the work's CPU time (``cpu_cost``)."""
    out = []
    for r in bench.rows:
        sc = r.scaling
        if r.status != OK or sc is None:
            continue
        top, n = sc.top, sc.top.processes
        shown = f"{sc.speedup(top):.2f}"
        if not sc.meets_target and float(shown) >= TARGET_EFFICIENCY * n:  # 1.899 is short of 1.90: say so
            shown = f"{sc.speedup(top):.3f}"
        head = f"* {r.target} {r.method}: speedup {shown} at {n}"
        if sc.efficiency(top) > ABOVE_N:
            one = sc.points[0].seconds.stats
            out.append(f"{head}, more than {n} processes can give: the machine's speed varied between runs (one "
                       f"process: {one.min:.2f}-{one.max:.2f} s for the same work)")
            continue
        if sc.meets_target:
            continue
        share, cost = sc.share(top), sc.cpu_cost(top)
        one = sc.points[0].seconds.stats
        why = []
        if share < TARGET_EFFICIENCY:
            why.append("the CPUs were shared with other work")
        if cost * TARGET_EFFICIENCY > 1:
            why.append(f"the CPUs were slower in those runs (a physical core shared by two vCPUs, a clock that drops "
                       f"as more cores work, or the machine's speed varying: one process took {one.min:.2f}-"
                       f"{one.max:.2f} s for the same work); the loop shares nothing")
        out.append(f"{head} = {n} x {share:.2f} (the children's share of their CPUs' time) / {cost:.2f} (CPU time of "
                   "the same work against one process)" + (": " + "; ".join(why) if why else
                                                          ": both close to 1, a little of each"))
    return out


def markdown(bench: Bench, chart: str | None) -> str:
    """The same figures as the text table, one row per target and method, and the chart's link."""
    cols = ["target", "method", "start-up median", "IQR", "min–max", "reps × number", "from a script", "first start",
            "pool(N) first result", "Queue 20 B", "Queue 1 MiB", "Pipe 20 B", "Pipe 1 MiB", "N", "speedup at N",
            "efficiency"]
    lines = ["## kit bench: what each start method costs", ""]
    if chart:
        lines += [f"![start-up per target and start method]({Path(chart).name})", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in bench.rows:
        if r.status != OK:
            lines.append("| " + " | ".join([r.target, r.method, f"{r.status}: {_md(r.reason)}"]
                                           + [""] * (len(cols) - 3)) + " |")
            continue
        assert r.startup and r.pool and r.scaling
        st, c = r.startup.per_start_s.stats, _figures(r)
        top = r.scaling.top
        lines.append("| " + " | ".join([
            r.target, r.method, ms(st.median), f"{plain_ms(st.iqr)} ms", f"{plain_ms(st.min)}–{ms(st.max)}",
            f"{st.n} × {r.startup.number}", c["script"], c["first"],
            f"{ms(r.pool.seconds.median)} ({r.pool.processes})",
            c["queue_small"], c["queue_big"], c["pipe_small"], c["pipe_big"], str(top.processes),
            f"{r.scaling.speedup(top):.2f}x", f"{r.scaling.efficiency(top):.0%}"]) + " |")
    lines.append("")
    for target in targets_of(bench.rows):
        info = platform_of(bench.rows, target)
        if info:
            lines.append(f"- {_md(info.line())}")
    lines.append(f"- repetitions: {bench.repeat} (throughput and scaling: {max(1, (bench.repeat + 1) // 2)}); "
                 f"the whole bench took {bench.seconds:.0f} s")
    notes = scaling_notes(bench)
    if notes:
        lines += ["", "Speedups off the mark (efficiency: the speedup at N over N; the target is "
                      f"{TARGET_EFFICIENCY:g}):", "", *(_md(n) for n in notes)]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def progress_line(row: MethodBench) -> str:
    """One line as a row comes (stderr)."""
    if row.status != OK:
        return f"{row.target} {row.method}: {row.status}: {row.reason}"
    assert row.startup is not None
    return (f"{row.target} {row.method}: start-up {ms(row.startup.per_start_s.median)} "
            f"(measured in {row.seconds:.1f} s)")
