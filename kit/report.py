"""Merge results from many runs (OSes, Pythons, targets) into one table.

Reads only JSON files written by ``--json``: nothing runs here.  Columns are
(platform, Python, start method); two runners of one platform and Python (two Linux runners,
both CPython 3.12) get columns of their own, told apart by what differs between them (the
machine, the Python's full version) or else by their files' names, never one overwriting the
other's cells; a cell whose status differs from its row's cell
under that platform's default start method (what a script gets without choosing)
is marked; every cell that did not pass gets a numbered note with its reason, its
error line and its diagnoses with their fixes; under the table, a short summary
of what differs.  Merging,
the most common status and the differences are here; ``kit.render`` writes the
table (text and Markdown), as it writes ``kit matrix``'s.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kit import render, results
from kit.errors import ReportError  # re-exported: report.ReportError is where callers look
from kit.render import Column, Table  # re-exported: report.Column, the merged table's column
from kit.outcomes import GENERIC_CHECKS, HOST, METHODS, UNKNOWN_PLACE, Status
from kit.results import PlatformInfo, RunResult

__all__ = ["ReportError", "load_files", "read_files", "merge", "merge_files", "markdown", "text", "differences"]

DIFFERS = render.NOTED_WHEN_PASSING
"""A cell with one of these differs from its reference cell even where their statuses agree: the
run that made it compared them (``kit run``'s output, ``kit pytest``'s tests) and found a difference."""


@dataclass
class Merged(Table):
    """The merged table (columns: platform, Python, method; ``render.Column``) and how many
    cells a later file replaced."""

    duplicates: int = 0


def read_files(paths: list[str]) -> dict[str, list[RunResult]]:
    """Each file's results, by its path as given (a path given twice is read once)."""
    out: dict[str, list[RunResult]] = {}
    for path in dict.fromkeys(paths):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: cannot read: {exc}") from None
        try:
            out[path] = results.load(text)
        except ValueError as exc:
            raise ReportError(f"{path}: {exc}") from None
    return out


def load_files(paths: list[str]) -> list[RunResult]:
    """Every file's results, in one list (as if from one run)."""
    return [r for rs in read_files(paths).values() for r in rs]


def place_of(info: PlatformInfo | None) -> str:
    """A merged column's place: the OS, and how it ran there (``Linux docker``); the Python is a
    column level of its own."""
    if info is None:
        return UNKNOWN_PLACE
    name = {"Darwin": "macOS"}.get(info.os, info.os)
    kind = info.place.split(":")[0]  # "docker:3.14" -> docker
    return name if kind == HOST else f"{name} {kind}"


def column_of(r: RunResult) -> Column:
    python = ".".join(r.platform.python.split(".")[:2]) if r.platform else UNKNOWN_PLACE
    return Column(place_of(r.platform), python, r.method)


def _version_key(c: Column) -> tuple[str, tuple[int, ...], int]:
    digits = tuple(int(x) for x in c.python.split(".") if x.isdigit())
    return c.place, digits, METHODS.index(c.method) if c.method in METHODS else 9


def merge(rs: list[RunResult]) -> Merged:
    """One cell per (example, column); a later result of the same cell replaces an earlier one (one run)."""
    return merge_files({"": rs})


def merge_files(files: Mapping[str, Sequence[RunResult]]) -> Merged:
    """One cell per (example, column), from each file's results (``read_files``).  Within a file a
    later result of a cell replaces an earlier one; files of one platform and Python share its
    columns only when they ran on the same platform and hold different cells (a run completed by
    another), else each runner gets columns of its own (``_runner_places``)."""
    places = _runner_places(files)
    rows: dict[str, dict[Column, RunResult]] = {}
    platforms: dict[tuple[str, str], PlatformInfo] = {}
    duplicates = 0
    for name, rs in files.items():
        for r in rs:
            base = column_of(r)
            col = Column(places[(name, base.place, base.python)], base.python, base.method)
            row = rows.setdefault(r.subject, {})
            duplicates += col in row
            row[col] = r
            if r.platform:
                platforms[(col.place, col.python)] = r.platform
    columns = sorted({c for row in rows.values() for c in row}, key=_version_key)
    return Merged(columns, rows, platforms, duplicates)


@dataclass
class _Runner:
    """What one or more files hold for one (place, Python): the platform they ran on and their cells."""

    platform: PlatformInfo | None
    files: list[str]
    cells: set[tuple[str, str]] = field(default_factory=set)  # (subject, method)


TOLD_APART_BY = ("machine", "python", "implementation")
"""What names colliding runners in the header, the first that differs between all of them; else their files."""


def _runner_places(files: Mapping[str, Sequence[RunResult]]) -> dict[tuple[str, str, str], str]:
    """(file, place, Python) -> the place its columns take: the place itself, or where runners of one
    place and Python collide (another platform, or the same cells again), the place with what tells
    them apart: ``Linux (aarch64)``, ``Linux (linux-a/kit.json)``."""
    found: dict[tuple[str, str], list[_Runner]] = {}
    of_file: dict[tuple[str, str, str], _Runner] = {}
    for name, rs in files.items():
        here: dict[tuple[str, str], _Runner] = {}
        for r in rs:
            col = column_of(r)
            runner = here.setdefault((col.place, col.python), _Runner(r.platform, [name]))
            runner.cells.add((r.subject, col.method))
            runner.platform = r.platform or runner.platform
        for key, runner in here.items():
            group = found.setdefault(key, [])
            same = next((g for g in group if g.platform == runner.platform and not g.cells & runner.cells), None)
            if same is None:
                group.append(runner)
                same = runner
            else:
                same.files.append(name)
                same.cells |= runner.cells
            of_file[(name, *key)] = same
    place_of_runner = {id(g): f"{place} ({label})" if len(group) > 1 else place
                       for (place, _), group in found.items() for g, label in zip(group, _told_apart(group))}
    return {key: place_of_runner[id(g)] for key, g in of_file.items()}


def _told_apart(group: list[_Runner]) -> list[str]:
    """A label per runner, all different: the first of ``TOLD_APART_BY`` that differs, else the files' names."""
    for name in TOLD_APART_BY:
        values = [str(getattr(g.platform, name)) if g.platform else "" for g in group]
        if all(values) and len(set(values)) == len(values):
            return values
    short = _short_names([f for g in group for f in g.files])
    return ["+".join(short[f] for f in g.files) for g in group]


def _short_names(paths: list[str]) -> dict[str, str]:
    """Each path by its last parts, as few as tell them all apart: ``a.json``, ``linux-a/kit.json``."""
    parts = [Path(p).parts or (p,) for p in paths]
    for k in range(1, max(map(len, parts), default=0) + 1):
        names = ["/".join(x[-k:]) for x in parts]
        if len(set(names)) == len(names):
            return dict(zip(paths, names))
    return {p: p for p in paths}


def majority(row: dict[Column, RunResult]) -> Status:
    return Counter(r.status for r in row.values()).most_common(1)[0][0]


def differences(m: Merged) -> list[str]:
    """What is not the same everywhere, in a few lines a person can act on."""
    lines = []
    several = _several_platforms(m)  # with one, "everywhere" would claim what was never compared
    skipped: dict[str, set[str]] = {}
    cells = [(c, r) for row in m.rows.values() for c, r in row.items()]  # a result's own column (its runner's)
    for c, r in cells:
        if r.status is Status.SKIPPED:
            skipped.setdefault(r.method, set()).add(c.place)
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
               if r.status is not usual and r.status is not Status.SKIPPED]
        if odd:
            where = ", ".join(f"{c.label} ({r.status}: {r.reason})" for c, r in odd[:3])
            more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
            lines.append(f"{example}: {usual} except {where}{more}")
        by_method: dict[str, set[Status]] = {}
        for c, r in row.items():
            by_method.setdefault(c.method, set()).add(r.status)
        for method, statuses in sorted(by_method.items()):
            if several and len(row) > 1 and len(statuses) == 1 and statuses - {Status.PASS, Status.SKIPPED}:
                lines.append(f"{example}: {statuses.pop()} under {method} everywhere")
    lines += _tests_that_differ(m)
    observed = _observed_by_example(m)
    lines += _behaviour_by_method(m, skip=set(observed))  # an example's observed line says it better
    lines += observed.values()
    warned = sorted({(r.subject, c.label, r.warnings[0]) for c, r in cells if r.warnings})
    for example, label, first in warned[:5]:
        lines.append(f"{example} warns on {label}: {first}")
    if len(warned) > 5:
        lines.append(f"... and {len(warned) - 5} more runs with warnings (see the JSON)")
    differing = {e for e, row in m.rows.items() if any(r.has(code) for r in row.values() for code in DIFFERS)}
    for example in sorted(differing):
        found = [c.label for c, r in sorted(m.rows[example].items(), key=lambda kv: _version_key(kv[0]))
                 if any(r.has(code) for code in DIFFERS)]
        lines.append(f"{example}: the run found a difference (output or tests) on {', '.join(found[:3])}"
                     + (f" and {len(found) - 3} more" if len(found) > 3 else "") + ": see the notes")
    same = [e for e, row in m.rows.items() if {r.status for r in row.values()} <= {Status.PASS, Status.SKIPPED}
            and e not in differing]
    if same:
        lines.append(f"the same everywhere it can run (pass): {', '.join(same)}" if several
                     else f"pass under every start method it can run: {', '.join(same)}")
    return lines


TESTS_SHOWN = 10
"""The most tests named per suite in a report's differences (the JSON has them all)."""


def _tests_that_differ(m: Merged) -> list[str]:
    """For each suite (``kit pytest``): every test whose outcome is not the same in every column
    that finished, with where it went which way."""
    lines = []
    for subject, row in m.rows.items():
        ran = sorted(((c, r) for c, r in row.items() if r.tests is not None
                      and r.status in (Status.PASS, Status.FAIL)), key=lambda kv: _version_key(kv[0]))
        if len(ran) < 2:
            continue
        from kit import suite  # only a report that holds suites needs it

        labelled = [(c.label, r) for c, r in ran]
        outcomes = {n: suite.where_outcomes(n, labelled) for n in {t.nodeid for _, r in ran for t in r.tests or []}}
        differ = sorted(n for n, by in outcomes.items() if len(by) > 1)
        for nodeid in differ[:TESTS_SHOWN]:
            lines.append(f"{subject}: {nodeid}: " + "; ".join(f"{o} on {', '.join(where)}"
                                                              for o, where in outcomes[nodeid].items()))
        if len(differ) > TESTS_SHOWN:
            lines.append(f"{subject}: ... and {len(differ) - TESTS_SHOWN} more tests that differ (see the JSON)")
    return lines


def _several_platforms(m: Merged) -> bool:
    return len(m.platforms_compared) > 1


def _behaviour_by_method(m: Merged, skip: Collection[str] = ()) -> list[str]:
    """Examples whose expected behaviour depends on the start method (``guard``), as observed."""
    lines = []
    for example, row in m.rows.items():
        if example in skip:
            continue
        shown: dict[tuple[str, ...], set[str]] = {}
        per_method: dict[str, set[tuple[str, ...]]] = {}
        for col, r in row.items():
            if r.status is Status.PASS:
                names = tuple(v.check for v in r.checks if v.check not in GENERIC_CHECKS)
                shown.setdefault(names, set()).add(col.method)
                per_method.setdefault(col.method, set()).add(names)
        if any(len(kinds) > 1 for kinds in per_method.values()):
            continue  # a method's own cells differ (by Python or OS): not a difference by method
        if len(shown) > 1:
            parts = [f"{'/'.join(sorted(methods))}: {', '.join(names)}" for names, methods in shown.items()]
            lines.append(f"{example} behaves differently by start method, as expected: " + "; ".join(parts))
    return lines


def observed_differences(m: Merged) -> list[str]:
    """One line per example whose runs showed different things in different columns
    (``_observed_by_example``)."""
    return list(_observed_by_example(m).values())


def _observed_by_example(m: Merged) -> dict[str, str]:
    """Example -> one line, for each example whose runs showed different things in different columns, read from
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
        if not _several_platforms(m):  # one platform: the methods are the only place things differ
            return " and ".join(f"under {'/'.join(methods)}" if methods else "under every method"
                                for methods in groups)
        return " and ".join((f"under {'/'.join(methods)} " if methods else "")
                            + ("everywhere" if ats == everywhere else "on " + ", ".join(ats))
                            for methods, ats in groups.items())

    lines: dict[str, str] = {}
    for example, row in m.rows.items():
        spec = EXAMPLES.get(example)
        if spec is None or spec.observed is None:
            continue
        seen: dict[str, list[Column]] = {}
        for col, r in sorted(row.items(), key=lambda kv: _version_key(kv[0])):
            if r.status in (Status.PASS, Status.FAIL, Status.INCONCLUSIVE):  # the script ran to its end
                seen.setdefault(spec.observed(r), []).append(col)
        if len(seen) > 1:
            ran = sorted((c for cols in seen.values() for c in cols), key=_version_key)
            lines[example] = f"{example}: " + "; ".join(f"{fact} {where(cols, ran)}" for fact, cols in seen.items())
    return lines


def _reference_cell(m: Merged, example: str, c: Column) -> RunResult | None:
    row = m.rows[example]
    info = m.platforms.get((c.place, c.python))
    return row.get(Column(c.place, c.python, info.default_method)) if info is not None else None


def reference(m: Merged, example: str, c: Column) -> Status:
    """What a cell is compared with: the status of its platform's default start method in the same row
    (what a script gets when it chooses nothing), else, without that cell, the row's most common status."""
    return _reference_status(m, example, _reference_cell(m, example, c))


def _reference_status(m: Merged, example: str, default: RunResult | None) -> Status:
    return default.status if default is not None else majority(m.rows[example])


def _found_different(r: RunResult | None) -> bool:
    return r is not None and any(r.has(code) for code in DIFFERS)


def odd_cells(m: Merged) -> set[tuple[str, Column]]:
    """The (example, column) cells that differ from their ``reference``: another status, or the same
    status where the run found a difference (``DIFFERS``) that the reference cell does not carry:
    the marked ones."""
    odd = set()
    for example, row in m.rows.items():
        for c, r in row.items():
            default = _reference_cell(m, example, c)  # looked up once: its status and what it found
            if r.status is not _reference_status(m, example, default) or (
                    _found_different(r) and not _found_different(default)):
                odd.add((example, c))
    return odd


def markdown(m: Merged) -> str:
    return render.merged_markdown(m, odd_cells(m), differences(m))


def text(m: Merged, width: int | None = None) -> str:
    return render.merged_text(m, odd_cells(m), differences(m), width)
