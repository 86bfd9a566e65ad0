"""Turn results into tables (terminal text and Markdown); no running, no checking.

Rows are examples; columns are (target, start method), where a target is the
host or a container image.  A ``*`` marks each target's default start method.
"""
from __future__ import annotations

import os
import shutil
import textwrap
from typing import TextIO
from collections.abc import Iterable

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
    out += [line(r) for r in rows] + ["", wrapped(LEGEND)]
    problems = _problems(results)
    if problems:
        out += ["", "not passing:"] + [f"  {safe(p)}" for p in problems]
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


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f)}


def safe(text: str) -> str:
    """Text from a run (its output, a command line) with control characters escaped: a script
    must not be able to move the cursor or forge a line of the kit's own report."""
    return text.translate(_CONTROL)


def _trimmed(text: str, lines: int = 8, width: int = 160) -> list[str]:
    all_lines = text.rstrip().splitlines()
    shown = all_lines if len(all_lines) <= lines else [*all_lines[: lines // 2], "...", *all_lines[-lines // 2:]]
    return [safe(line if len(line) <= width else line[: width - 3] + "...") for line in shown]


def wrapped(text: str, width: int | None = None) -> str:
    """A paragraph wrapped to the terminal (80 columns when it is not one)."""
    return textwrap.fill(text, width or min(shutil.get_terminal_size((80, 24)).columns, 120))


_COLOURS = {"pass": "32", "fail": "31", "timeout": "31", "error": "35", "interrupted": "33",
            "inconclusive": "33", "skipped": "2"}


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal; ``NO_COLOR`` turns it off, ``FORCE_COLOR`` on (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def paint(text: str, status: str, on: bool) -> str:
    code = _COLOURS.get(str(status))
    return f"\x1b[{code}m{text}\x1b[0m" if on and code else text


def run_summary(r: RunResult, colour: bool = False, verbosity: int = 0) -> str:
    """What one run did, for ``kit run``: status and reason, figures, the script's own output
    (trimmed), the last line of its error, and the diagnoses with their fixes; ``verbosity``
    -1 keeps the first line only, 1 adds every check's verdict."""
    where = f"[{r.platform.target}] " if r.platform and r.platform.target != "host" else ""
    method = r.method + (" (the default)" if r.requested_method == "default" else "")
    if r.methods_used and r.methods_used != [r.method]:
        method += f", processes ran under {', '.join(r.methods_used)}"
    status = paint(str(r.status).upper(), r.status, colour)
    lines = [f"{where}{safe(r.example)} under {method}: {status} - {safe(r.reason)}"]
    if r.status == "skipped" or verbosity < 0:
        return "\n".join(lines)
    lines.append(f"  wall {r.wall_s:.2f} s, exit code {exit_code(r.exitcode)}, peak {r.peak_processes} processes, "
                 f"{r.cpu_s:.2f} CPU s = {r.cores_used:.2f} cores, CPUs seen {r.cpus_seen or 'n/a'}"
                 + (f", evidence {r.evidence}" if r.evidence else ""))
    lines += [f"  orphan (killed): {o.pid} {o.role} {safe(command_line(o.cmdline) or o.name)}" for o in r.orphans]
    lines += [f"  daemon terminated at exit: {d.pid}" for d in r.daemons_terminated]
    if r.stdout.strip():
        lines.append("  stdout:")
        lines += [f"    | {line}" for line in _trimmed(r.stdout)]
    if r.error:
        lines.append(f"  error: {safe(r.error[:240])}")
    lines += [f"  warning: {safe(w[:240])}" for w in r.warnings]
    if verbosity > 0:
        lines += [f"  check {'ok ' if c.get('ok') else 'BAD'} {c.get('check')}: {safe(str(c.get('reason')))}"
                  for c in r.checks]
    for d in r.diagnoses:
        lines.append(f"  diagnosis {d.get('code')}: {safe(d.get('message', ''))}")
        lines.append(f"    fix: {safe(d.get('fix', ''))}")
    return "\n".join(lines)


def command_line(cmdline: list[str], width: int = 100) -> str:
    """A command line, cut at a word boundary."""
    text = " ".join(cmdline)
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 4)
    return text[: cut if cut > width // 2 else width - 4] + " ..."


def exit_code(code: int | None) -> str:
    """An exit code as a person reads it: ``-9`` becomes ``-9 (SIGKILL)``."""
    import signal

    if code is None:
        return "none"
    if code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return str(code)
