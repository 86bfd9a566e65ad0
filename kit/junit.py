"""Results as JUnit XML (one test case per cell) and as a GitHub step summary.

CI systems (GitHub via test-report actions, GitLab, Jenkins) show JUnit files natively: a
cell is a test case named ``target/example[method]`` in a suite per target; a cell that did
not pass is a ``failure`` (fail, timeout, interrupted) or an ``error`` (the kit could not run
it), ``skipped`` and ``inconclusive`` are skipped with their reason, and every case carries
the run's stdout and stderr.  A failure's text holds the diagnoses with their fixes and, for a
run that hung, each process's Python stacks: where it waited, in the CI's own test view.
A suite's cell (``kit pytest``) is a test suite of its own, with a case per test.
No XML library beyond the standard one is needed.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from kit.outcomes import Status, TestOutcome
from kit.results import RunResult

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
_FAILURE = {Status.FAIL, Status.TIMEOUT, Status.INTERRUPTED}
_SKIP = {Status.SKIPPED, Status.INCONCLUSIVE}
_XML_BAD = {c: None for c in (*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20))}


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters: drop them."""
    return text.translate(_XML_BAD)


def case_name(r: RunResult) -> str:
    """``place/subject[method]`` (a script by its file name)."""
    subject = Path(r.subject).name if r.subject.endswith(".py") else r.subject
    return f"{r.place}/{subject}[{r.method}]"


def to_xml(results: Sequence[RunResult]) -> str:
    suites = ET.Element("testsuites", name="kit")
    by_place: dict[str, list[RunResult]] = {}
    for r in results:
        if r.tests is not None:
            _suite_cell(suites, r)
            continue
        by_place.setdefault(r.place, []).append(r)
    for place, rs in by_place.items():
        suite = ET.SubElement(suites, "testsuite", name=place, tests=str(len(rs)),
                              failures=str(sum(r.status in _FAILURE for r in rs)),
                              errors=str(sum(r.status is Status.ERROR for r in rs)),
                              skipped=str(sum(r.status in _SKIP for r in rs)),
                              time=f"{sum(r.wall_s for r in rs):.3f}")
        for r in rs:
            case = ET.SubElement(suite, "testcase", classname=place, name=case_name(r), time=f"{r.wall_s:.3f}")
            message = _clean(f"{r.status}: {r.reason}")
            if r.status in _FAILURE:
                ET.SubElement(case, "failure", message=message, type=str(r.status)).text = _clean("\n".join(
                    [f"{d.code}: {d.message}\nfix: {d.fix}" for d in r.diagnoses]
                    + [f"{p.stack_heading()}\n{p.stack}" for p in r.processes if p.stack]))
            elif r.status is Status.ERROR:
                ET.SubElement(case, "error", message=message, type="error")
            elif r.status in _SKIP:
                ET.SubElement(case, "skipped", message=message)
            ET.SubElement(case, "system-out").text = _clean(r.stdout)
            ET.SubElement(case, "system-err").text = _clean(r.stderr)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


_TEST_FAILURE = {TestOutcome.FAILED, TestOutcome.XPASSED}


def _suite_cell(suites: ET.Element, r: RunResult) -> None:
    """A suite's cell: a ``testsuite`` named for the cell, a case per test whose class name starts
    with the cell (``host.spawn.tests.test_x``), so that CI views group the same test by cell.  A
    cell that did not finish gets one more case saying why (its diagnoses and stacks)."""
    tests = r.tests or []
    cell = f"{r.place}.{r.method}"
    suite = ET.SubElement(suites, "testsuite", name=f"{r.place} {r.method}", tests=str(len(tests)),
                          failures=str(sum(t.outcome is TestOutcome.FAILED for t in tests)),
                          errors=str(sum(t.outcome is TestOutcome.ERROR for t in tests)),
                          skipped=str(sum(t.outcome in (TestOutcome.SKIPPED, TestOutcome.XFAILED) for t in tests)),
                          time=f"{r.wall_s:.3f}")
    charged: dict[str, list[str]] = {}
    for d in r.diagnoses:
        if d.test:
            charged.setdefault(d.test, []).append(f"{d.code}: {d.message}\nfix: {d.fix}")
    for t in tests:
        path, _, name = t.nodeid.partition("::")
        module = path[:-3] if path.endswith(".py") else path
        case = ET.SubElement(suite, "testcase", classname=f"{cell}.{module.replace('/', '.')}",
                             name=name or t.nodeid, time=f"{t.duration_s:.3f}")
        text = _clean("\n".join(charged.get(t.nodeid, [])))
        if t.outcome is TestOutcome.FAILED:
            ET.SubElement(case, "failure", message=_clean(t.message), type="failed").text = text
        elif t.outcome is TestOutcome.ERROR:
            ET.SubElement(case, "error", message=_clean(t.message), type="error").text = text
        elif t.outcome in (TestOutcome.SKIPPED, TestOutcome.XFAILED):
            ET.SubElement(case, "skipped", message=_clean(t.message))
    if r.status not in (Status.PASS, Status.FAIL):
        case = ET.SubElement(suite, "testcase", classname=cell, name="(the run)", time=f"{r.wall_s:.3f}")
        ET.SubElement(case, "error", message=_clean(f"{r.status}: {r.reason}"), type=str(r.status)).text = _clean(
            "\n".join([f"{d.code}: {d.message}\nfix: {d.fix}" for d in r.diagnoses]
                      + [f"{p.stack_heading()}\n{p.stack}" for p in r.processes if p.stack]))
        suite.set("errors", str(int(suite.get("errors", "0")) + 1))
        suite.set("tests", str(len(tests) + 1))


def append_step_summary(markdown: str) -> str | None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when it is set; returns the path written, or None."""
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return None
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n\n")
    return path
