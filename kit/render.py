"""Turn results into tables (terminal text and Markdown); no running, no checking."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

from kit.results import PlatformInfo, RunResult

LEGEND = (
    "cell: status, wall seconds of the run, peak live processes seen, cores used "
    "(CPU seconds of the whole tree per wall second); D = daemons terminated at exit, "
    "O = orphans left behind (then killed). (default) marks the platform's default start method."
)


def cell(r: RunResult) -> str:
    if r.status == "skipped":
        return "skipped"
    text = f"{r.status} {r.wall_s:.1f}s {r.peak_processes}p {r.cores_used:.1f}c"
    if r.daemons_terminated:
        text += f" D{len(r.daemons_terminated)}"
    if r.orphans:
        text += f" O{len(r.orphans)}"
    return text


def _columns(results: Iterable[RunResult]) -> list[str]:
    return list(OrderedDict.fromkeys(r.method for r in results))


def _header(method: str, info: PlatformInfo | None) -> str:
    return f"{method} (default)" if info and info.default_method == method else method


def _platform_line(info: PlatformInfo | None) -> str:
    if info is None:
        return ""
    return (f"{info.os} {info.machine}, {info.implementation} {info.python}, {info.cpu_count} CPUs, "
            f"default start method: {info.default_method}")


def _grid(results: list[RunResult]) -> tuple[list[str], list[list[str]]]:
    info = next((r.platform for r in results if r.platform), None)
    methods = _columns(results)
    by_cell = {(r.example, r.method): r for r in results}
    rows = []
    for example in OrderedDict.fromkeys(r.example for r in results):
        rows.append([example] + [cell(by_cell[(example, m)]) if (example, m) in by_cell else "-"
                                 for m in methods])
    return ["example"] + [_header(m, info) for m in methods], rows


def _problems(results: list[RunResult]) -> list[str]:
    return [f"{r.example} / {r.method}: {r.status}: {r.reason}"
            for r in results if r.status not in ("pass",)]


def text_table(results: list[RunResult]) -> str:
    header, rows = _grid(results)
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [_platform_line(next((r.platform for r in results if r.platform), None)), "",
           line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out += ["", LEGEND]
    problems = _problems(results)
    if problems:
        out += ["", "not passing:"] + [f"  {p}" for p in problems]
    passed = sum(r.status == "pass" for r in results)
    out += ["", f"{passed} of {len(results)} cells pass"]
    return "\n".join(out)


def markdown_table(results: list[RunResult]) -> str:
    header, rows = _grid(results)
    out = [f"**{_platform_line(next((r.platform for r in results if r.platform), None))}**", "",
           "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", LEGEND]
    problems = _problems(results)
    if problems:
        out += ["", "Not passing:", ""] + [f"- {p}" for p in problems]
    return "\n".join(out) + "\n"


def run_summary(r: RunResult) -> str:
    """A few lines about one run, for ``kit run``."""
    lines = [f"{r.example} under {r.method}: {r.status.upper()} - {r.reason}"]
    if r.status != "skipped":
        lines.append(f"  wall {r.wall_s:.2f} s, exit code {r.exitcode}, peak {r.peak_processes} processes, "
                     f"{r.cpu_s:.2f} CPU s = {r.cores_used:.2f} cores, CPUs seen {r.cpus_seen or 'n/a'}")
        for o in r.orphans:
            lines.append(f"  orphan (killed): {o.pid} {' '.join(o.cmdline) or o.name}")
        for d in r.daemons_terminated:
            lines.append(f"  daemon terminated at exit: {d.pid}")
        for w in r.warnings:
            lines.append(f"  warning: {w}")
    return "\n".join(lines)
