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
import re
import shutil
import sys
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from kit.outcomes import DEFAULT, HOST, Code, MemorySource, Status, exit_code
from kit.results import PlatformInfo, RunResult

FIGURES = ("wall", "peak", "cores", "memory")
"""A matrix cell's figures after its status, in order.  The text table leaves out the first ones
(wall seconds, then the peak) where the width asks; Markdown and JSON keep every one."""
FIGURE_WORDS = {
    "wall": "wall seconds (s)",
    "peak": "peak live processes (p; ≥: at least, the most seen in one sample)",
    "cores": "cores used (c: CPU seconds of the whole process tree per wall second)",
    "memory": ("memory peak (K/M/G bytes; ≥: at least, summed in samples; ≤: at most, the container's growth, "
               "the kit's included)"),
}
LEGEND_MARKS = ("D = daemons terminated when main exited, O = orphans left behind (then killed); "
                "* = the target's default start method.")
DETAIL = (FIGURES, FIGURES[1:], FIGURES[2:], FIGURES[3:], ())
"""The text table's cells, richest first: the first that fits the width is used."""
DEFAULT_WIDTH = 100  # text written to a file or a pipe
MIN_WIDTH = 40
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


# -- widths -----------------------------------------------------------------------
def terminal_width(width: int | None = None, stream: TextIO | None = None) -> int:
    """The columns text may take: ``width`` (``--width``), else ``COLUMNS``, else the terminal's
    when ``stream`` (stdout) is one, else ``DEFAULT_WIDTH``; never under ``MIN_WIDTH``."""
    if not width:
        env = os.environ.get("COLUMNS", "")
        width = int(env) if env.isdigit() and int(env) > 0 else None
    if not width:
        stream = stream if stream is not None else sys.stdout
        width = DEFAULT_WIDTH
        if stream is not None and is_terminal(stream):  # TERM=dumb too: it has a width
            try:
                width = os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH
            except (OSError, ValueError, AttributeError):
                width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(MIN_WIDTH, width)


def is_terminal(stream: object, controls: bool = False) -> bool:
    """Whether ``stream`` is a terminal (a closed stream is not).  With ``controls``, one that takes
    control sequences (colour, a line redrawn in place): not ``TERM=dumb``, which still has a width."""
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty and isatty())
    except (OSError, ValueError):  # a closed stream
        return False
    return tty and not (controls and os.environ.get("TERM") == "dumb")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def columns(text: str) -> int:
    """The columns ``text`` (one line) takes on a terminal: wide characters (CJK) take two,
    combining marks and colour codes none, tabs up to the next multiple of 8."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in _ANSI.sub("", text).expandtabs())


def _cut(text: str, width: int) -> str:
    """The longest start of ``text`` within ``width`` columns."""
    out = ""
    for ch in text:
        if columns(out + ch) > width:
            break
        out += ch
    return out


def clip(text: str, width: int, mark: str = "...") -> str:
    """``text`` (one line) within ``width`` columns: as it is when it fits, else its longest start
    that leaves room for ``mark``, then ``mark``.  Columns, not characters: a wide character (CJK)
    takes two, so a line of them cut by characters would be twice too wide."""
    return text if columns(text) <= width else _cut(text, width - columns(mark)) + mark


WORD_BREAKS = ("::", "/", "_", ".", "-")
"""Where a word wider than a line (a test's node id, a path) is broken, rather than mid-name."""


def _wrap(line: str, width: int, hang: int = 4) -> list[str]:
    """One line as lines within ``width``: at spaces, the continuation indented ``hang`` columns
    past the line's own indent; a word longer than a line is cut."""
    indent = " " * (len(line) - len(line.lstrip(" ")))
    more = indent + " " * hang if len(indent) + hang < width // 2 else indent
    out: list[str] = []
    current = ""  # the words of the line being filled, after its indent, with the spaces after each
    lead = indent
    for token in re.findall(r"\S+\s*", line[len(indent):]):
        word = token.rstrip()
        if columns(lead + current + word) <= width:
            current += token
            continue
        if current:
            out.append((lead + current).rstrip())
            lead, current = more, ""
        while columns(lead + word) > width:  # a word wider than a line: broken after a separator if one is near
            room = _cut(word, width - columns(lead))
            if not room:
                break
            at = max(room.rfind(sep) + len(sep) for sep in WORD_BREAKS)
            room = room[:at] if at > len(room) // 2 else room
            out.append(lead + room)
            word, lead = word[len(room):], more
        current = word + token[len(token.rstrip()):]
    if current.strip():
        out.append((lead + current).rstrip())
    return out or [line]


def fit(text: str, width: int, hang: int = 4) -> str:
    """``text`` with every line within ``width`` columns: a quoted line (a run's output, ``| ...``)
    cut with ``...``, any other wrapped at spaces (``hang``: the continuation's indent)."""
    lines: list[str] = []
    for line in text.split("\n"):
        if columns(line) <= width:
            lines.append(line)
        elif line.lstrip().startswith("| "):
            lines.append(clip(line, width))
        else:
            lines += _wrap(line, width, hang)
    return "\n".join(lines)


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
    """Header rows (a level above the last is written once, where its group starts, and may
    span the group: ``Linux`` over its columns; ``short`` abbreviates methods), a rule, a row
    per example; every column as wide as its widest cell."""
    heads = _heads(t, levels, short or {})
    last = [FIRST] + [h[-1] for h in heads]
    widths = [max(len(row[i]) for row in [last, *body]) for i in range(len(last))]
    spans: list[list[tuple[int, int, str]]] = []  # per upper level: (first column, last column, label)
    for level in range(len(levels) - 1):
        groups: list[tuple[int, int, str]] = []
        for i, h in enumerate(heads, start=1):
            if groups and heads[groups[-1][0] - 1][:level + 1] == h[:level + 1]:
                groups[-1] = (groups[-1][0], i, groups[-1][2])
            else:
                groups.append((i, i, h[level]))
        for first, end, label in groups:  # a label longer than its columns widens the last one
            room = sum(widths[first:end + 1]) + 2 * (end - first)
            widths[end] += max(0, len(label) - room)
        spans.append(groups)
    starts = [sum(widths[:i]) + 2 * i for i in range(len(widths))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    upper = []
    for groups in spans:
        text = ""
        for first, _, label in groups:
            text = text.ljust(starts[first]) + label
        upper.append(text.rstrip())
    return upper + [line(last), line(["-" * w for w in widths])] + [line(r) for r in body]


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


MEMORY_MARK = {MemorySource.SAMPLED: "≥", MemorySource.CONTAINER: "≤"}
"""A memory peak summed in samples is a lower bound; the container's covers more than the run."""
MEMORY_WORDS = {MemorySource.CGROUP: "the run's cgroup",
                MemorySource.CONTAINER: "at most: the container's growth, the kit's included",
                MemorySource.SAMPLED: "at least: summed in samples"}


def size(n: int) -> str:
    """Bytes as a person reads them: ``512K``, ``41M``, ``1.2G`` (powers of 1024)."""
    value, unit = float(n) / 1024, "K"
    for bigger in ("M", "G", "T"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"


def memory(r: RunResult) -> str:
    """The run's memory peak, marked as a bound where it is one; empty when unknown."""
    if r.memory_peak_bytes is None:
        return ""
    return MEMORY_MARK.get(r.memory_source, "") + size(r.memory_peak_bytes) if r.memory_source else \
        size(r.memory_peak_bytes)


def memory_words(r: RunResult) -> str:
    if r.memory_peak_bytes is None:
        return ""
    where = MEMORY_WORDS.get(r.memory_source) if r.memory_source else None
    return f"memory peak {size(r.memory_peak_bytes)}" + (f" ({where})" if where else "")


def cell(r: RunResult, compact: bool = False, figures: Sequence[str] | None = None) -> str:
    """The status and the figures named (default: every one; ``compact``: cores and memory), then
    daemons terminated and orphans; a figure the run lacks (memory unknown) is left out."""
    if r.status is Status.SKIPPED:
        return "skipped"
    shown = FIGURES[2:] if compact and figures is None else FIGURES if figures is None else figures
    text = {"wall": f"{r.wall_s:.1f}s", "peak": f"{peak(r)}p", "cores": f"{r.cores_used:.1f}c", "memory": memory(r)}
    parts = [str(r.status), *(text[f] for f in FIGURES if f in shown and text[f])]
    if r.daemons_terminated:
        parts.append(f"D{len(r.daemons_terminated)}")
    if r.orphans:
        parts.append(f"O{len(r.orphans)}")
    return " ".join(parts)


def legend(figures: Sequence[str], results: Sequence[RunResult], width: int | None = None) -> str:
    """What a cell holds (memory only where some run has it); with ``width``, what the text table
    left out to fit it, and where to find it."""
    has_memory = any(r.memory_peak_bytes is not None for r in results)
    wanted = [f for f in FIGURES if f != "memory" or has_memory]
    shown = [FIGURE_WORDS[f] for f in wanted if f in figures]
    text = "cell: " + ", ".join(["status", *shown]) + "; " + LEGEND_MARKS
    left = [FIGURE_WORDS[f].split(" (")[0] for f in wanted if f not in figures]
    if left and width:
        text += (f" Left out to fit {width} columns: {', '.join(left)} (--markdown or --json have every "
                 "figure; --width N chooses the width).")
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


def _groups(t: Table) -> list[list[Column]]:
    """The columns by place (and Python): a block of a table never splits a place."""
    groups: dict[tuple[str, str], list[Column]] = {}
    for c in t.columns:
        groups.setdefault((c.place, c.python), []).append(c)
    return list(groups.values())


def _chunks(items: Sequence[list[Column]], per: int) -> list[list[Column]]:
    """``items`` (groups of columns) in as few blocks of at most ``per`` groups, as even as can be."""
    blocks = -(-len(items) // per)
    size_of, extra = divmod(len(items), blocks)
    out: list[list[Column]] = []
    at = 0
    for b in range(blocks):
        n = size_of + (b < extra)
        out.append([c for group in items[at:at + n] for c in group])
        at += n
    return out


def fitted_grid(t: Table, levels: Levels, texts: Sequence[Callable[[str, Column, RunResult], str]], width: int,
                short: Mapping[str, str] | None = None) -> tuple[list[str], int]:
    """The table within ``width`` columns: all its places side by side if they fit, else in blocks
    of places (as few blocks as fit), each block with the richest cell (the first of ``texts``)
    that fits.  Returns the lines (blocks apart by a blank line) and the index of the cell text
    used; when nothing fits, one place a block with the last cell text."""
    groups = _groups(t)
    grids: list[list[str]] = []
    for per in range(len(groups), 0, -1):
        blocks = [Table(cols, t.rows, t.platforms) for cols in _chunks(groups, per)]
        for i, text in enumerate(texts):
            grids = [_text_grid(b, levels, _body(b, text), short) for b in blocks]
            if all(columns(line) <= width for grid in grids for line in grid):
                return _stacked(grids), i
    return _stacked(grids), len(texts) - 1  # nothing fits: the last tried, one place a block with the last cell text


def _stacked(grids: list[list[str]]) -> list[str]:
    """Blocks of a table one under the other, a blank line between them."""
    return [line for k, grid in enumerate(grids) for line in ([""] if k else []) + grid]


def text_table(results: list[RunResult], width: int | None = None) -> str:
    """``kit matrix`` on the terminal, within ``width`` columns (``terminal_width``): the
    platforms, the table (the richest cells that fit; places in blocks where they do not fit side
    by side), the legend, what did not pass (escaped), the count."""
    width = terminal_width(width)
    t = matrix(results)
    texts = [(lambda e, c, r, f=figures: cell(r, figures=f)) for figures in DETAIL]
    grid, used = fitted_grid(t, _levels(t), texts, width)
    sections = [[platform_line(place, info) for (place, _), info in t.platforms.items()], grid,
                [fit(legend(DETAIL[used], results, width), width, hang=0)]]
    failures = _failures(results)
    if failures:
        sections.append(["not passing:"] + [f"  {safe(f)}" for f in failures])
    return fit(_document([*sections, _footer(results)]), width)


def markdown_table(results: list[RunResult]) -> str:
    """``kit matrix --markdown`` and the step summary: the same table with every figure."""
    t = matrix(results)
    sections = [[f"- {platform_line(place, info)}" for (place, _), info in t.platforms.items()],
                _markdown_grid(t, _levels(t), _body(t, lambda e, c, r: cell(r))),
                [legend(FIGURES, results)]]
    failures = _failures(results)
    if failures:
        sections.append(["Not passing:", ""] + [f"- {f}" for f in failures])
    return _document([*sections, _footer(results)]) + "\n"


# -- kit report: many runs merged ---------------------------------------------------
MERGED_LEVELS = ("place", "python", "method")


NOTED_WHEN_PASSING = (Code.OUTPUT_DIFFERS, Code.OUTCOME_DIFFERS)
"""A passing cell still gets a note when the run that made it found a difference (its output or its
tests differ from another method's); an example's own diagnoses are what it demonstrates."""


def _notes(t: Table) -> dict[tuple[str, Column], int]:
    """A number for every cell that did not pass, or passed with a difference found, row by row."""
    notes: dict[tuple[str, Column], int] = {}
    for example, row in t.rows.items():
        for col in t.columns:
            r = row.get(col)
            if r is not None and (r.status is not Status.PASS or any(r.has(c) for c in NOTED_WHEN_PASSING)):
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
        lines.append(f"error: {clip(safe(r.error), 240)}")
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


def merged_text(t: Table, odd: Collection[tuple[str, Column]], differences: list[str], width: int | None = None
                ) -> str:
    """``kit report`` on the terminal, within ``width`` columns (``terminal_width``): the table
    (``!`` marks the ``odd`` cells; platforms in blocks where they do not fit side by side), the
    legend, numbered notes (details indented below), then ``differences``."""
    width = terminal_width(width)
    notes = _notes(t)
    marked = {(e, c): text for e, row in zip(t.rows, _merged_body(t, odd, notes, lambda text: "!" + text))
              for c, text in zip(t.columns, row[1:])}
    grid, _ = fitted_grid(t, MERGED_LEVELS, [lambda e, c, r: marked[(e, c)]], width, SHORT_METHOD)
    sections = [grid, [fit(MERGED_LEGEND, width, hang=0)]]
    if notes:
        lines: list[str] = []
        for (e, c), n in notes.items():
            first, *details = _note(t, e, c)
            lines += [f"[{n}] {first}", *(f"    {d}" for d in details)]
        sections.append(lines)
    sections.append([f"{merged_heading(t)}:"] + [f"  - {safe(line)}" for line in differences])
    return fit(_document(sections), width)


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
    return [clip(safe(line), width) for line in shown]


_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.TIMEOUT: "31", Status.ERROR: "35",
            Status.INTERRUPTED: "33", Status.INCONCLUSIVE: "33", Status.SKIPPED: "2"}


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal; ``NO_COLOR`` turns it off, ``FORCE_COLOR`` on (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return is_terminal(stream, controls=True)


def paint(text: str, status: Status, on: bool) -> str:
    code = _COLOURS.get(status)
    return f"\x1b[{code}m{text}\x1b[0m" if on and code else text


def _filled(items: Sequence[str], width: int, indent: str) -> list[str]:
    """Items joined by commas, as many on a line as fit ``width`` (an item is never split here)."""
    lines: list[str] = []
    for item in items:
        if lines and columns(f"{lines[-1]}, {item}") <= width:
            lines[-1] += f", {item}"
        else:
            lines[-1:] = [lines[-1] + ","] if lines else []
            lines.append(indent + item)
    return lines


def run_summary(r: RunResult, colour: bool = False, verbosity: int = 0, width: int | None = None) -> str:
    """What one run did, for ``kit run``, within ``width`` columns (``terminal_width``): status
    and reason, figures, the script's own output (trimmed), the last line of its error, and the
    diagnoses with their fixes; ``verbosity`` -1 keeps the first line only, 1 adds every check's
    verdict."""
    width = terminal_width(width)
    where = f"[{r.place}] " if r.platform and r.place != HOST else ""
    method = str(r.method) + (" (the default)" if r.requested_method == DEFAULT else "")
    if r.methods_used and r.methods_used != [r.method]:
        method += f", processes ran under {', '.join(r.methods_used)}"
    status = paint(str(r.status).upper(), r.status, colour)
    lines = [f"{where}{safe(r.subject)} under {method}: {status} - {safe(r.reason)}"]
    if r.status is Status.SKIPPED or verbosity < 0:
        return fit("\n".join(lines), width)
    figures = [f"wall {r.wall_s:.2f} s", f"exit code {exit_code(r.exitcode)}", peak_words(r),
               f"{r.cpu_s:.2f} CPU s = {r.cores_used:.2f} cores", memory_words(r), f"CPUs seen {r.cpus_seen or 'n/a'}",
               f"evidence {r.evidence}" if r.evidence else ""]
    lines += _filled([f for f in figures if f], width, "  ")
    lines += [f"  orphan (killed): {o.pid} {o.role} {safe(command_line(o.cmdline) or o.name)}" for o in r.orphans]
    lines += [f"  daemon terminated at exit: {d.pid}" for d in r.daemons_terminated]
    if r.stdout.strip():
        lines.append("  stdout:")
        lines += [f"    | {line}" for line in _trimmed(r.stdout)]
    if r.error:
        lines.append(f"  error: {clip(safe(r.error), 240, mark='')}")
    lines += [f"  warning: {clip(safe(w), 240, mark='')}" for w in r.warnings]
    if verbosity > 0:
        lines += [f"  check {'ok ' if c.ok else 'BAD'} {c.check}: {safe(c.reason)}" for c in r.checks]
        for p in r.processes:
            if p.stack:
                lines.append(f"  {p.stack_heading()}")
                lines += [f"    | {safe(line)}" for line in p.stack.rstrip().splitlines()]
    for d in r.diagnoses:
        lines.append(f"  diagnosis {d.code}: {safe(d.message)}")
        lines.append(f"    fix: {safe(d.fix)}")
    return fit("\n".join(lines), width)


def command_line(cmdline: list[str], width: int = 100) -> str:
    """A command line, cut at a word boundary."""
    text = " ".join(cmdline)
    if columns(text) <= width:
        return text
    room = _cut(text, width - 4)
    at = room.rfind(" ")
    return (room[:at] if at > width // 2 else room) + " ..."
