"""How a suite's results read: one line per cell with its totals, then only the tests worth a look.

A real suite has hundreds or thousands of tests: listing them all would bury the answer.  The
text and the Markdown show the totals per cell, the tests whose outcome depends on the start
method (with the cells, the failure and the diagnosis that explains it), the tests that fail
everywhere, and the other diagnoses charged to a test; every test's outcome is in the JSON and
in JUnit.  Nothing runs here.
"""
from __future__ import annotations

from collections.abc import Sequence

from kit import suite
from kit.outcomes import Code, Status
from kit.render import fit, paint, safe, terminal_width
from kit.results import RunResult

SHOWN = 20
"""The most tests (or groups of tests) listed in each section (the JSON and JUnit have them all)."""
GROUP_SHOWN = 5
"""The most tests named in one group of tests that differ the same way."""


def _cell(r: RunResult) -> str:
    star = "*" if r.platform is not None and r.method == r.platform.default_method else ""
    return f"{r.place} {r.method}{star}"


def _totals(r: RunResult) -> str:
    if r.tests is None:
        return r.reason
    return suite.totals_line(r.tests) + (f"; {r.reason}" if r.status not in (Status.PASS, Status.FAIL) else "")


def header(results: Sequence[RunResult]) -> str:
    """The suite and the interpreter that ran it, per place."""
    first = results[0]
    ran = {(r.place, r.platform.executable or "?", r.platform.implementation, r.platform.python)
           for r in results if r.platform is not None}
    where = "; ".join(f"{place}: {exe} ({impl} {version})" for place, exe, impl, version in sorted(ran))
    return f"kit pytest {safe(first.subject)}" + (f"  ({where})" if where else "")


def cells(results: Sequence[RunResult], colour: bool = False) -> list[str]:
    width = max(len(_cell(r)) for r in results)
    return [f"  {_cell(r):<{width}}  {paint(f'{r.status!s:<7}', r.status, colour)} {safe(_totals(r))}  "
            f"({r.wall_s:.1f} s)" for r in results]


def _more(items: int) -> list[str]:
    return [f"  ... and {items - SHOWN} more: see --json or --junit-xml"] if items > SHOWN else []


def depends(results: Sequence[RunResult]) -> list[str]:
    """The tests whose outcome depends on the method, grouped by where they differ and why (a
    class of twenty tests that fail the same way reads as one block): the tests, their outcome in
    every cell, the first failure's line, the fix and the diagnosis that explains it."""
    found = suite.depends_on_method(results)
    if not found:
        return []
    groups: dict[tuple[str, str, str], list[str]] = {}
    for nodeid in found:
        d = next(d for r in found[nodeid] for d in r.diagnoses if d.code is Code.OUTCOME_DIFFERS and d.test == nodeid)
        why = next((str(x.code) for r in results for x in r.diagnoses if x.test == nodeid
                    and x.code is not Code.OUTCOME_DIFFERS), "")
        groups.setdefault((outcomes_of(nodeid, results), why, d.fix), []).append(nodeid)
    lines = [f"{len(found)} test(s) whose outcome depends on the start method:"]
    for (where, why, fix), nodeids in list(groups.items())[:SHOWN]:
        lines += [f"  {safe(n)}" for n in nodeids[:GROUP_SHOWN]]
        if len(nodeids) > GROUP_SHOWN:
            lines.append(f"  ... and {len(nodeids) - GROUP_SHOWN} more the same way")
        lines.append(f"      {safe(where)}")
        failing = [t for r in results for t in (r.tests or []) if t.nodeid == nodeids[0] and not t.outcome.ok]
        if failing and failing[0].message:
            lines.append(f"      {safe(failing[0].message)}")
        lines.append(f"      fix{f' ({why})' if why else ''}: {safe(fix)}")
    return lines + _more(len(groups))


def outcomes_of(nodeid: str, results: Sequence[RunResult]) -> str:
    """``passed under host fork*; failed under host spawn, host forkserver``."""
    by = suite.where_outcomes(nodeid, ((_cell(r), r) for r in results if r.tests is not None))
    return "; ".join(f"{outcome} under {', '.join(cells)}" for outcome, cells in by.items())


def everywhere(results: Sequence[RunResult]) -> list[str]:
    failing = suite.fails_everywhere(results)
    if not failing:
        return []
    several = len({r.method for r in results if r.status is not Status.SKIPPED}) > 1
    lines = [f"{len(failing)} test(s) fail under every method (not a method dependence):" if several else
             f"{len(failing)} test(s) fail:"]
    lines += [f"  {safe(t.nodeid)}: {t.outcome}" + (f": {safe(t.message)}" if t.message else "")
              for t in failing[:SHOWN]]
    return lines + _more(len(failing))


def other_diagnoses(results: Sequence[RunResult]) -> list[str]:
    """The other diagnoses, once per (code, test) with the cells that had it; a test already shown
    among those that depend on the method is not repeated."""
    shown = set(suite.depends_on_method(results))
    first: dict[tuple[str, str], tuple[str, str]] = {}
    where: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for d in r.diagnoses:
            if d.code is Code.OUTCOME_DIFFERS or (d.test and d.test in shown):
                continue
            key = (str(d.code), d.test)
            first.setdefault(key, (d.message, d.fix))
            where.setdefault(key, []).append(_cell(r))
    if not first:
        return []
    lines = ["diagnoses:"]
    for (code, test), (message, fix) in list(first.items())[:SHOWN]:
        lines.append(f"  {code}" + (f" [{safe(test)}]" if test else "") + f" ({', '.join(where[(code, test)])}): "
                     f"{safe(message)}")
        lines.append(f"      fix: {safe(fix)}")
    return lines + _more(len(first))


def verdict(results: Sequence[RunResult]) -> str:
    ran = [r for r in results if r.status is not Status.SKIPPED]
    if not ran:
        return "nothing ran"
    found = suite.depends_on_method(results)
    if found:
        return f"{len(found)} test(s) depend on the start method"
    methods = {r.method for r in ran}
    if len(methods) == 1:  # nothing was compared across methods: say what ran, not "every method"
        (method,) = methods
        status = "every test passes" if all(r.status is Status.PASS for r in ran) else "some cells did not pass"
        return f"{status} under {method}, the only method run: nothing compared across methods"
    if all(r.status is Status.PASS for r in ran):
        return "every test passes under every method" + (" and place" if len({r.place for r in ran}) > 1 else "")
    return "no test depends on the start method; some cells did not pass"


def text(results: Sequence[RunResult], colour: bool = False, width: int | None = None) -> str:
    """``kit pytest`` on the terminal, within ``width`` columns (``render.terminal_width``)."""
    if not results:
        return "nothing ran"
    sections = [[header(results), *cells(results, colour)], depends(results), everywhere(results),
                other_diagnoses(results), [verdict(results)]]
    return fit("\n\n".join("\n".join(s) for s in sections if s), terminal_width(width))


def _code(text: str) -> str:
    """A line as Markdown code: ``<locals>`` and ``*`` must not become HTML or emphasis."""
    return "`" + text.replace("`", "'") + "`"


def markdown(results: Sequence[RunResult]) -> str:
    """``kit pytest --markdown`` and the step summary: fits a pull request's comment."""
    if not results:
        return "nothing ran\n"
    lines = [f"**{header(results)}**", "", "| cell | status | tests | wall s |", "|---|---|---|---:|"]
    lines += [f"| {_cell(r)} | {r.status} | {_totals(r).replace('|', '/')} | {r.wall_s:.1f} |" for r in results]
    for section in (depends(results), everywhere(results), other_diagnoses(results)):
        if section:
            lines += ["", f"**{section[0]}**", "", *(f"- {_code(line.strip())}" if not line.startswith("      ") else
                                                  f"  - {_code(line.strip())}" for line in section[1:])]
    lines += ["", verdict(results)]
    return "\n".join(lines) + "\n"
