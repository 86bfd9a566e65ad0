"""Merge results from many runs (OSes, Pythons, targets) into one table.

Reads only JSON files written by ``--json``: nothing runs here.  Columns are
(platform, Python, start method); a cell that differs from the most common
status of its row is marked; every cell that did not pass gets a numbered note
with its reason; under the table, a short summary of what differs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kit import results
from kit.results import PlatformInfo, RunResult

SHORT_METHOD = {"forkserver": "fsrv"}


from kit.errors import ReportError  # noqa: E402 - re-exported: report.ReportError is where callers look

__all__ = ["ReportError", "load_files", "merge", "markdown", "text", "differences"]


@dataclass(frozen=True, order=True)
class Column:
    place: str  # "Linux", "Windows", "macOS", "Linux docker:3.14"
    python: str
    method: str

    @property
    def label(self) -> str:
        return f"{self.place} py{self.python} {self.method}"


@dataclass
class Merged:
    columns: list[Column]
    rows: dict[str, dict[Column, RunResult]]
    platforms: dict[tuple[str, str], PlatformInfo] = field(default_factory=dict)
    duplicates: int = 0

    @property
    def results(self) -> list[RunResult]:
        return [r for row in self.rows.values() for r in row.values()]


def load_files(paths: list[str]) -> list[RunResult]:
    out: list[RunResult] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: cannot read: {exc}") from None
        try:
            out += results.load(text)
        except ValueError as exc:
            raise ReportError(f"{path}: {exc}") from None
    return out


def place_of(info: PlatformInfo | None) -> str:
    if info is None:
        return "?"
    name = {"Darwin": "macOS"}.get(info.os, info.os)
    kind = info.target.split(":")[0]  # "docker:3.14" -> docker; the Python is a column level of its own
    return name if kind == "host" else f"{name} {kind}"


def column_of(r: RunResult) -> Column:
    python = ".".join(r.platform.python.split(".")[:2]) if r.platform else "?"
    return Column(place_of(r.platform), python, r.method)


def _version_key(c: Column) -> tuple[str, tuple[int, ...], int]:
    methods = ("fork", "spawn", "forkserver")
    digits = tuple(int(x) for x in c.python.split(".") if x.isdigit())
    return c.place, digits, methods.index(c.method) if c.method in methods else 9


def merge(rs: list[RunResult]) -> Merged:
    """One cell per (example, column); a later file's cell replaces an earlier one."""
    rows: dict[str, dict[Column, RunResult]] = {}
    platforms: dict[tuple[str, str], PlatformInfo] = {}
    duplicates = 0
    for r in rs:
        col = column_of(r)
        row = rows.setdefault(r.example, {})
        duplicates += col in row
        row[col] = r
        if r.platform:
            platforms[(col.place, col.python)] = r.platform
    columns = sorted({c for row in rows.values() for c in row}, key=_version_key)
    return Merged(columns, rows, platforms, duplicates)


def _is_default(m: Merged, c: Column) -> bool:
    info = m.platforms.get((c.place, c.python))
    return info is not None and info.default_method == c.method


def majority(row: dict[Column, RunResult]) -> str:
    return Counter(r.status for r in row.values()).most_common(1)[0][0]


def _notes(m: Merged) -> dict[tuple[str, Column], int]:
    notes: dict[tuple[str, Column], int] = {}
    for example, row in m.rows.items():
        for col in m.columns:
            r = row.get(col)
            if r is not None and r.status not in ("pass",):
                notes[(example, col)] = len(notes) + 1
    return notes


def differences(m: Merged) -> list[str]:
    """What is not the same everywhere, in a few lines a person can act on."""
    lines = []
    skipped: dict[str, set[str]] = {}
    for r in m.results:
        if r.status == "skipped":
            skipped.setdefault(r.method, set()).add(column_of(r).place)
    for method, places in sorted(skipped.items()):
        lines.append(f"{method} is unavailable on {', '.join(sorted(places))}")
    defaults: dict[str, list[str]] = {}
    by_version = sorted(m.platforms.items(), key=lambda kv: _version_key(Column(kv[0][0], kv[0][1], "")))
    for (place, python), info in by_version:
        defaults.setdefault(info.default_method, []).append(f"{place} {python}")
    if len(defaults) > 1:
        lines.append("default start method: " + "; ".join(
            f"{method} on {', '.join(where)}" for method, where in defaults.items()))
    for example, row in m.rows.items():
        usual = majority(row)
        odd = [(c, r) for c, r in sorted(row.items(), key=lambda kv: _version_key(kv[0]))
               if r.status != usual and r.status != "skipped"]
        if odd:
            where = ", ".join(f"{c.label} ({r.status}: {r.reason})" for c, r in odd[:3])
            more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
            lines.append(f"{example}: {usual} except {where}{more}")
        by_method: dict[str, set[str]] = {}
        for c, r in row.items():
            by_method.setdefault(c.method, set()).add(r.status)
        for method, statuses in sorted(by_method.items()):
            if len(statuses) == 1 and statuses != {"pass"} and statuses != {"skipped"} and len(row) > 1:
                lines.append(f"{example}: {statuses.pop()} under {method} everywhere")
    lines += _behaviour_by_method(m)
    lines += observed_differences(m)
    warned = sorted({(r.example, column_of(r).label, r.warnings[0]) for r in m.results if r.warnings})
    for example, label, first in warned[:5]:
        lines.append(f"{example} warns on {label}: {first}")
    if len(warned) > 5:
        lines.append(f"... and {len(warned) - 5} more runs with warnings (see the JSON)")
    same = [e for e, row in m.rows.items() if {r.status for r in row.values()} <= {"pass", "skipped"}]
    if same:
        lines.append(f"the same everywhere it can run (pass): {', '.join(same)}")
    return lines


GENERIC_CHECKS = ("no orphans", "exit 0")


def _behaviour_by_method(m: Merged) -> list[str]:
    """Examples whose expected behaviour depends on the start method (``guard``), as observed."""
    lines = []
    for example, row in m.rows.items():
        shown: dict[tuple[str, ...], set[str]] = {}
        for col, r in row.items():
            if r.status == "pass":
                names = tuple(c["check"] for c in r.checks if c["check"] not in GENERIC_CHECKS)
                shown.setdefault(names, set()).add(col.method)
        if len(shown) > 1:
            parts = [f"{'/'.join(sorted(methods))}: {', '.join(names)}" for names, methods in shown.items()]
            lines.append(f"{example} behaves differently by start method, as expected: " + "; ".join(parts))
    return lines


def observed_differences(m: Merged) -> list[str]:
    """One line per example whose runs showed different things in different columns, read from
    the runs themselves (each example's ``observed``: what its result shows, in a few words), not
    from what the catalogue expects: "fork_threads: DeprecationWarning (...) under fork on 3.13,
    3.14; silent on 3.11 and under spawn/forkserver on 3.13, 3.14"."""
    from kit.catalogue import EXAMPLES  # here: only this summary needs the catalogue
    from kit.outcomes import method_order

    def where(cols: list[Column], ran: list[Column]) -> str:
        """``cols`` out of ``ran`` in words: "under fork on 3.13, 3.14 and on 3.11", "everywhere"."""
        several = len({c.place for c in ran}) > 1

        def label(c: Column) -> str:
            return f"{c.place} {c.python}" if several else c.python

        everywhere = list(dict.fromkeys(label(c) for c in ran))
        every = {c.method for c in ran}
        groups: dict[tuple[str, ...], list[str]] = {}
        for at in dict.fromkeys(label(c) for c in cols):
            here = {c.method for c in cols if label(c) == at}
            groups.setdefault(() if here == every else tuple(method_order(here)), []).append(at)
        return " and ".join((f"under {'/'.join(methods)} " if methods else "")
                            + ("everywhere" if ats == everywhere else "on " + ", ".join(ats))
                            for methods, ats in groups.items())

    lines = []
    for example, row in m.rows.items():
        spec = EXAMPLES.get(example)
        if spec is None or spec.observed is None:
            continue
        seen: dict[str, list[Column]] = {}
        for col, r in sorted(row.items(), key=lambda kv: _version_key(kv[0])):
            if r.status in ("pass", "fail", "inconclusive"):  # the script ran to its end
                seen.setdefault(spec.observed(r), []).append(col)
        if len(seen) > 1:
            ran = sorted((c for cols in seen.values() for c in cols), key=_version_key)
            lines.append(f"{example}: " + "; ".join(f"{fact} {where(cols, ran)}" for fact, cols in seen.items()))
    return lines


def _cell(r: RunResult | None, usual: str, note: int | None) -> tuple[str, bool]:
    if r is None:
        return "-", False
    text = r.status if r.status != "skipped" else "skip"
    if note:
        text += f" [{note}]"
    return text, r.status != usual


def markdown(m: Merged) -> str:
    notes = _notes(m)
    head = ["example"] + [f"{c.place}<br>py{c.python}<br>{c.method}{'*' if _is_default(m, c) else ''}"
                          for c in m.columns]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for example, row in m.rows.items():
        usual = majority(row)
        cells = [example]
        for col in m.columns:
            text, odd = _cell(row.get(col), usual, notes.get((example, col)))
            cells.append(f"**{text}**" if odd else text)
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Bold: differs from the most common status of its row. * = that platform's default start "
            "method. Numbers: notes below."]
    if notes:
        out += [""] + [f"{n}. {e} on {c.label}: {m.rows[e][c].status}: {m.rows[e][c].reason}"
                       for (e, c), n in notes.items()]
    out += ["", "**What differs across platforms**", ""] + [f"- {line}" for line in differences(m)]
    return "\n".join(out) + "\n"


def text(m: Merged) -> str:
    notes = _notes(m)
    heads = [[""], [""], ["example"]]
    for i, c in enumerate(m.columns):
        new_place = i == 0 or m.columns[i - 1].place != c.place
        new_python = new_place or m.columns[i - 1].python != c.python
        heads[0].append(c.place if new_place else "")
        heads[1].append(f"py{c.python}" if new_python else "")
        heads[2].append(SHORT_METHOD.get(c.method, c.method) + ("*" if _is_default(m, c) else ""))
    body = []
    for example, row in m.rows.items():
        usual = majority(row)
        cells = [example]
        for col in m.columns:
            text_, odd = _cell(row.get(col), usual, notes.get((example, col)))
            cells.append(("!" if odd else "") + text_)
        body.append(cells)
    table = heads + body
    widths = [max(len(r[i]) for r in table) for i in range(len(heads[2]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(3, "  ".join("-" * w for w in widths))
    out = lines + ["", "! = differs from the most common status of its row; * = the platform's default start "
                   "method; fsrv = forkserver; [n] = note below"]
    if notes:
        out += [""] + [f"[{n}] {e} on {c.label}: {m.rows[e][c].status}: {m.rows[e][c].reason}"
                       for (e, c), n in notes.items()]
    out += ["", "What differs across platforms:"] + [f"  - {line}" for line in differences(m)]
    return "\n".join(out)
