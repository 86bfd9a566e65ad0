"""Every table the kit writes, and how one run reads: no running, no checking.

One table model serves ``kit matrix`` (one run: a column per target and start method) and
``kit report`` (many runs merged: a column per platform, Python and start method): ``Column``,
``Table`` (rows are examples), the header levels, the column widths, the text and Markdown
writers, the notes on cells that did not pass, the footers and the legends.  ``kit.report``
merges and compares results and has its tables written here.  A ``*`` marks each target's (each
platform's) default start method.

Also here: one run's summary (``kit run``), colour, and the escaping of text from a run.
"""
from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from kit.outcomes import DEFAULT, HOST, Status, exit_code
from kit.results import PlatformInfo, RunResult

LEGEND = (
    "cell: status, wall seconds, peak live processes (p; ≥: at least, the most seen in one sample), "
    "cores used (c: CPU seconds of the "
    "whole process tree per wall second); D = daemons terminated when main exited, "
    "O = orphans left behind (then killed); * = the target's default start method. "
    "With several targets the text table keeps status, cores, D and O; Markdown and JSON have all."
)
MERGED_LEGEND = ("! = differs from its row's cell under the platform's default start method (*); "
                 "fsrv = forkserver; [n] = note below")
MERGED_LEGEND_MARKDOWN = ("Bold: differs from its row's cell under that platform's default start method (*). "
                          "Numbers: notes below.")
SHORT_METHOD = {"forkserver": "fsrv"}  # the merged text table's header: many columns
MERGED_HEADING = "What differs across platforms"


def merged_heading(t: Table) -> str:
    """With one platform nothing can be said across platforms: the heading says what is compared."""
    places = t.platforms_compared
    if len(places) == 1:
        place, python = places[0]
        return (f"What differs across start methods on {place} {python} (one platform: give `kit report` "
                "the JSON of other platforms or Pythons to compare them)")
    return MERGED_HEADING


# -- the table model -----------------------------------------------------------
@dataclass(frozen=True, order=True)
class Column:
    """Where, which Python, which start method.  A merged report's columns are (platform,
    Python, method): ``Linux docker``, ``3.14``, ``spawn``; the matrix's are (target, method),
    its ``python`` empty: ``docker:3.14``, ``""``, ``spawn``."""

    place: str  # "Linux", "Windows", "macOS", "Linux docker"; in the matrix the target: "host", "docker:3.14"
    python: str
    method: str

    @property
    def label(self) -> str:
        return f"{self.place} py{self.python} {self.method}"


@dataclass
class Table:
    """Results as rows (examples, in the order first seen) by columns: at most one result per
    cell; ``platforms`` by (place, python) say which method is each one's default."""

    columns: list[Column]
    rows: dict[str, dict[Column, RunResult]]
    platforms: dict[tuple[str, str], PlatformInfo] = field(default_factory=dict)

    @property
    def platforms_compared(self) -> list[tuple[str, str]]:
        """The (place, Python) pairs of the columns: one means nothing is compared across platforms."""
        return sorted({(c.place, c.python) for c in self.columns})

    @property
    def results(self) -> list[RunResult]:
        return [r for row in self.rows.values() for r in row.values()]

    def is_default(self, c: Column) -> bool:
        info = self.platforms.get((c.place, c.python))
        return info is not None and info.default_method == c.method


def matrix_column(r: RunResult) -> Column:
    return Column(r.place, "", r.method)


def matrix(results: Sequence[RunResult]) -> Table:
    """One run's table: a column per (target, method), in the order first seen; a later result
    of the same cell replaces an earlier one."""
    rows: dict[str, dict[Column, RunResult]] = {}
    platforms: dict[tuple[str, str], PlatformInfo] = {}
    for r in results:
        col = matrix_column(r)
        rows.setdefault(r.subject, {})[col] = r
        if r.platform:
            platforms[(col.place, col.python)] = r.platform
    return Table(list(dict.fromkeys(matrix_column(r) for r in results)), rows, platforms)


# -- header, grid and document: the writers --------------------------------------
Levels = Sequence[str]  # the header rows, top to bottom, as Column fields: "place", "python", "method"
FIRST = "example"  # the first column's heading


def _heads(t: Table, levels: Levels, short: Mapping[str, str]) -> list[tuple[str, ...]]:
    """Each column's header, one text per level: ``Linux``, ``py3.14``, ``fork*``."""
    def head(c: Column, level: str) -> str:
        if level == "place":
            return c.place
        if level == "python":
            return f"py{c.python}"
        return short.get(c.method, c.method) + ("*" if t.is_default(c) else "")

    return [tuple(head(c, level) for level in levels) for c in t.columns]


def _text_grid(t: Table, levels: Levels, body: list[list[str]], short: Mapping[str, str] | None = None) -> list[str]:
    """Header rows (a level is written where its group starts: ``Linux`` once over its
    columns; ``short`` abbreviates methods), a rule, a row per example; every column as wide
    as its widest cell."""
    heads = _heads(t, levels, short or {})
    head = []
    for level in range(len(levels)):
        last = level == len(levels) - 1
        head.append([FIRST if last else ""] + [
            h[level] if last or i == 0 or heads[i - 1][:level + 1] != h[:level + 1] else ""
            for i, h in enumerate(heads)])
    table = [*head, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(head[-1]))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(r) for r in head] + [line(["-" * w for w in widths])] + [line(r) for r in body]


def _markdown_grid(t: Table, levels: Levels, body: list[list[str]]) -> list[str]:
    """A Markdown table: a column's levels stacked in its one header cell."""
    header = [FIRST] + ["<br>".join(h) for h in _heads(t, levels, {})]
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in body])


def _body(t: Table, text: Callable[[str, Column, RunResult], str]) -> list[list[str]]:
    """A row per example: its name, then each column's cell (``-``: none)."""
    return [[example] + [text(example, c, row[c]) if c in row else "-" for c in t.columns]
            for example, row in t.rows.items()]


def _document(sections: list[list[str]]) -> str:
    """Sections (lists of lines) with a blank line between them."""
    lines: list[str] = []
    for i, section in enumerate(sections):
        lines += ([""] if i else []) + section
    return "\n".join(lines)


# -- kit matrix: one run ----------------------------------------------------------
def peak(r: RunResult) -> str:
    """The peak of live processes, marked ``≥`` where it is a lower bound seen in samples (the
    kernel counted threads too, or nothing counted); unmarked where the kernel counted processes."""
    return f"{'≥' if r.peak_exact is False else ''}{r.peak_processes}"


def peak_words(r: RunResult) -> str:
    """The peak in words, with what bounds it."""
    if r.peak_exact is not False:
        return f"peak {r.peak_processes} processes"
    if r.peak_tasks is not None:
        return (f"peak at least {r.peak_processes} processes (the most seen in one sample; "
                f"the kernel counted at most {r.peak_tasks} tasks, threads included)")
    return f"peak at least {r.peak_processes} processes (the most seen in one sample)"


def cell(r: RunResult, compact: bool = False) -> str:
    """The status and the key psutil figures; ``compact`` (many targets) keeps cores only."""
    if r.status is Status.SKIPPED:
        return "skipped"
    if compact:
        text = f"{r.status} {r.cores_used:.1f}c"
    else:
        text = f"{r.status} {r.wall_s:.1f}s {peak(r)}p {r.cores_used:.1f}c"
    if r.daemons_terminated:
        text += f" D{len(r.daemons_terminated)}"
    if r.orphans:
        text += f" O{len(r.orphans)}"
    return text


def platform_line(place: str, info: PlatformInfo) -> str:
    return (f"{place}: {info.os} {info.machine}, {info.implementation} {info.python}, "
            f"{info.cpu_count} CPUs, default start method {info.default_method}")


def _levels(t: Table) -> Levels:
    """The matrix names its targets only when there are several."""
    return ("place", "method") if len(t.platforms) > 1 else ("method",)


def _failures(results: Sequence[RunResult]) -> list[str]:
    """Every result that did not pass, in the order run (a replaced one too)."""
    return [f"{r.subject} / {r.place} / {r.method}: {r.status}: {r.reason}"
            for r in results if r.status is not Status.PASS]


def _footer(results: Sequence[RunResult]) -> list[str]:
    passed = sum(r.status is Status.PASS for r in results)
    skipped = sum(r.status is Status.SKIPPED for r in results)
    return [f"{passed} of {len(results)} cells pass" + (f", {skipped} skipped" if skipped else "")]


def text_table(results: list[RunResult]) -> str:
    """``kit matrix`` on the terminal: the platforms, the table (with several targets, compact
    cells), the legend wrapped to the terminal, what did not pass (escaped), the count."""
    t = matrix(results)
    levels = _levels(t)
    compact = len(levels) > 1
    sections = [[platform_line(place, info) for (place, _), info in t.platforms.items()],
                _text_grid(t, levels, _body(t, lambda e, c, r: cell(r, compact))),
                [wrapped(LEGEND)]]
    failures = _failures(results)
    if failures:
        sections.append(["not passing:"] + [f"  {safe(f)}" for f in failures])
    return _document([*sections, _footer(results)])


def markdown_table(results: list[RunResult]) -> str:
    """``kit matrix --markdown`` and the step summary: the same table with every figure."""
    t = matrix(results)
    sections = [[f"- {platform_line(place, info)}" for (place, _), info in t.platforms.items()],
                _markdown_grid(t, _levels(t), _body(t, lambda e, c, r: cell(r))),
                [LEGEND]]
    failures = _failures(results)
    if failures:
        sections.append(["Not passing:", ""] + [f"- {f}" for f in failures])
    return _document([*sections, _footer(results)]) + "\n"


# -- kit report: many runs merged ---------------------------------------------------
MERGED_LEVELS = ("place", "python", "method")


def _notes(t: Table) -> dict[tuple[str, Column], int]:
    """A number for every cell that did not pass, row by row."""
    notes: dict[tuple[str, Column], int] = {}
    for example, row in t.rows.items():
        for col in t.columns:
            r = row.get(col)
            if r is not None and r.status is not Status.PASS:
                notes[(example, col)] = len(notes) + 1
    return notes


NOTE_DIAGNOSES = 3
"""The most diagnoses a note spells out (the JSON has them all)."""


def _note(t: Table, example: str, c: Column) -> list[str]:
    """A cell's note: what happened, then its error line and each diagnosis with its fix (escaped)."""
    r = t.rows[example][c]
    lines = [f"{example} on {c.label}: {r.status}: {r.reason}"]
    if r.status is Status.SKIPPED:  # it did not run here: nothing more to say
        return [safe(lines[0])]
    if r.error and r.error not in r.reason:
        lines.append(f"error: {r.error if len(r.error) <= 240 else r.error[:237] + '...'}")
    for d in r.diagnoses[:NOTE_DIAGNOSES]:
        lines += [f"{d.code}: {d.message}", f"fix: {d.fix}"]
    if len(r.diagnoses) > NOTE_DIAGNOSES:
        lines.append(f"... and {len(r.diagnoses) - NOTE_DIAGNOSES} more diagnoses (see the JSON)")
    return [safe(line) for line in lines]


def _merged_body(t: Table, odd: Collection[tuple[str, Column]], notes: Mapping[tuple[str, Column], int],
                 mark: Callable[[str], str]) -> list[list[str]]:
    """Status (``skip`` for skipped) and note number; ``mark`` wraps the ``odd`` cells."""
    def text(example: str, c: Column, r: RunResult) -> str:
        note = notes.get((example, c))
        out = (str(r.status) if r.status is not Status.SKIPPED else "skip") + (f" [{note}]" if note else "")
        return mark(out) if (example, c) in odd else out

    return _body(t, text)


def merged_text(t: Table, odd: Collection[tuple[str, Column]], differences: list[str]) -> str:
    """``kit report`` on the terminal: the table (``!`` marks the ``odd`` cells), the legend,
    numbered notes (details indented below), then ``differences``."""
    notes = _notes(t)
    body = _merged_body(t, odd, notes, lambda text: "!" + text)
    sections = [_text_grid(t, MERGED_LEVELS, body, SHORT_METHOD), [MERGED_LEGEND]]
    if notes:
        lines: list[str] = []
        for (e, c), n in notes.items():
            first, *details = _note(t, e, c)
            lines += [f"[{n}] {first}", *(f"    {d}" for d in details)]
        sections.append(lines)
    sections.append([f"{merged_heading(t)}:"] + [f"  - {safe(line)}" for line in differences])
    return _document(sections)


def merged_markdown(t: Table, odd: Collection[tuple[str, Column]], differences: list[str]) -> str:
    """``kit report --markdown``: the same, the odd cells in bold, a note's details after line breaks."""
    notes = _notes(t)
    body = _merged_body(t, odd, notes, lambda text: f"**{text}**")
    sections = [_markdown_grid(t, MERGED_LEVELS, body), [MERGED_LEGEND_MARKDOWN]]
    if notes:
        sections.append([f"{n}. " + "<br>".join(_note(t, e, c)) for (e, c), n in notes.items()])
    sections.append([f"**{merged_heading(t)}**", ""] + [f"- {safe(line)}" for line in differences])
    return _document(sections) + "\n"


# -- one run, colour, escaping ----------------------------------------------------------
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


_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.TIMEOUT: "31", Status.ERROR: "35",
            Status.INTERRUPTED: "33", Status.INCONCLUSIVE: "33", Status.SKIPPED: "2"}


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal; ``NO_COLOR`` turns it off, ``FORCE_COLOR`` on (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def paint(text: str, status: Status, on: bool) -> str:
    code = _COLOURS.get(status)
    return f"\x1b[{code}m{text}\x1b[0m" if on and code else text


def run_summary(r: RunResult, colour: bool = False, verbosity: int = 0) -> str:
    """What one run did, for ``kit run``: status and reason, figures, the script's own output
    (trimmed), the last line of its error, and the diagnoses with their fixes; ``verbosity``
    -1 keeps the first line only, 1 adds every check's verdict."""
    where = f"[{r.place}] " if r.platform and r.place != HOST else ""
    method = str(r.method) + (" (the default)" if r.requested_method == DEFAULT else "")
    if r.methods_used and r.methods_used != [r.method]:
        method += f", processes ran under {', '.join(r.methods_used)}"
    status = paint(str(r.status).upper(), r.status, colour)
    lines = [f"{where}{safe(r.subject)} under {method}: {status} - {safe(r.reason)}"]
    if r.status is Status.SKIPPED or verbosity < 0:
        return "\n".join(lines)
    lines.append(f"  wall {r.wall_s:.2f} s, exit code {exit_code(r.exitcode)}, {peak_words(r)}, "
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
        lines += [f"  check {'ok ' if c.ok else 'BAD'} {c.check}: {safe(c.reason)}" for c in r.checks]
        for p in r.processes:
            if p.stack:
                lines.append(f"  {p.stack_heading()}")
                lines += [f"    | {safe(line)}" for line in p.stack.rstrip().splitlines()]
    for d in r.diagnoses:
        lines.append(f"  diagnosis {d.code}: {safe(d.message)}")
        lines.append(f"    fix: {safe(d.fix)}")
    return "\n".join(lines)


def command_line(cmdline: list[str], width: int = 100) -> str:
    """A command line, cut at a word boundary."""
    text = " ".join(cmdline)
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 4)
    return text[: cut if cut > width // 2 else width - 4] + " ..."
