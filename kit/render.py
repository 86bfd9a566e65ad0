"""Turn results into tables (terminal text and Markdown); no running, no checking.

Rows are examples; columns are (target, start method), where a target is the
host or a container image.  A ``*`` marks each target's default start method.
"""
from __future__ import annotations

from typing import Iterable

from kit.results import PlatformInfo, RunResult

LEGEND = (
    "cell: status, wall seconds, peak live processes seen (p), cores used (c: CPU seconds of the "
    "whole process tree per wall second); D = daemons terminated when main exited, "
    "O = orphans left behind (then killed); * = the target's default start method. "
    "With several targets the text table keeps status, cores, D and O; Markdown and JSON have all."
)

Column = tuple[str, str]  # (target, method)


def cell(r: RunResult, compact: bool = False) -> str:
    """The status and the key psutil figures; ``compact`` (many targets) keeps cores only."""
    if r.status == "skipped":
        return "skipped"
    if compact:
        text = f"{r.status} {r.cores_used:.1f}c"
    else:
        text = f"{r.status} {r.wall_s:.1f}s {r.peak_processes}p {r.cores_used:.1f}c"
    if r.daemons_terminated:
        text += f" D{len(r.daemons_terminated)}"
    if r.orphans:
        text += f" O{len(r.orphans)}"
    return text


def target_of(r: RunResult) -> str:
    return r.platform.target if r.platform else "?"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _platforms(results: list[RunResult]) -> dict[str, PlatformInfo]:
    return {target_of(r): r.platform for r in results if r.platform}


def _grid(results: list[RunResult], compact: bool = False) -> tuple[list[Column], list[list[str]]]:
    columns: list[Column] = list(dict.fromkeys((target_of(r), r.method) for r in results))
    by_cell = {(r.example, target_of(r), r.method): r for r in results}
    rows = []
    for example in _unique(r.example for r in results):
        rows.append([example] + [cell(by_cell[(example, *c)], compact) if (example, *c) in by_cell else "-"
                                 for c in columns])
    return columns, rows


def _method_label(column: Column, platforms: dict[str, PlatformInfo]) -> str:
    target, method = column
    info = platforms.get(target)
    return method + ("*" if info and info.default_method == method else "")


def platform_line(target: str, info: PlatformInfo) -> str:
    return (f"{target}: {info.os} {info.machine}, {info.implementation} {info.python}, "
            f"{info.cpu_count} CPUs, default start method {info.default_method}")


def _problems(results: list[RunResult]) -> list[str]:
    return [f"{r.example} / {target_of(r)} / {r.method}: {r.status}: {r.reason}"
            for r in results if r.status != "pass"]


def _footer(results: list[RunResult]) -> list[str]:
    passed = sum(r.status == "pass" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    return [f"{passed} of {len(results)} cells pass" + (f", {skipped} skipped" if skipped else "")]


def text_table(results: list[RunResult]) -> str:
    platforms = _platforms(results)
    columns, rows = _grid(results, compact=len(platforms) > 1)
    targets = [""] + [t if i == 0 or columns[i - 1][0] != t else "" for i, (t, _) in enumerate(columns)]
    methods = ["example"] + [_method_label(c, platforms) for c in columns]
    table = [targets, methods, *rows] if len(platforms) > 1 else [methods, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(methods))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    head = len(table) - len(rows)
    out = [platform_line(t, i) for t, i in platforms.items()] + [""]
    out += [line(r) for r in table[:head]] + [line(["-" * w for w in widths])]
    out += [line(r) for r in rows] + ["", LEGEND]
    problems = _problems(results)
    if problems:
        out += ["", "not passing:"] + [f"  {p}" for p in problems]
    return "\n".join(out + [""] + _footer(results))


def markdown_table(results: list[RunResult]) -> str:
    platforms = _platforms(results)
    columns, rows = _grid(results)
    multi = len(platforms) > 1
    header = ["example"] + [(f"{c[0]}<br>" if multi else "") + _method_label(c, platforms) for c in columns]
    out = [f"- {platform_line(t, i)}" for t, i in platforms.items()] + [""]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", LEGEND]
    problems = _problems(results)
    if problems:
        out += ["", "Not passing:", ""] + [f"- {p}" for p in problems]
    return "\n".join(out + [""] + _footer(results)) + "\n"


def run_summary(r: RunResult) -> str:
    """A few lines about one run, for ``kit run``."""
    lines = [f"{r.example} under {r.method}: {r.status.upper()} - {r.reason}"]
    if r.status != "skipped":
        lines.append(f"  wall {r.wall_s:.2f} s, exit code {r.exitcode}, peak {r.peak_processes} processes, "
                     f"{r.cpu_s:.2f} CPU s = {r.cores_used:.2f} cores, CPUs seen {r.cpus_seen or 'n/a'}")
        lines += [f"  orphan (killed): {o.pid} {' '.join(o.cmdline) or o.name}" for o in r.orphans]
        lines += [f"  daemon terminated at exit: {d.pid}" for d in r.daemons_terminated]
        lines += [f"  warning: {w}" for w in r.warnings]
    return "\n".join(lines)
