"""A project's test suite as a thing to run: its subject, its tests' outcomes, and what each test is charged with.

``kit pytest`` runs ``python -m pytest`` in the project's folder with the kit's plugin
(``kit._pytest_plugin``), which records when each test starts and how it ended.  Everything
here is a pure function of those events and of the processes the observer saw: which tests ran
and how (``tests_of``), which test was running when the run was stopped (``in_progress``),
and which test started each process (``charges``), so that a death, an orphan, a leaked
process or a pickling failure names its test.

A process belongs to the test whose span (start to end, in the process running the tests)
holds the moment it was started; its descendants inherit the charge.  Processes started by
multiprocessing are known from their start events (exact); others (``subprocess``, a raw
``fork``) from the observer's first sight of them (within one sample).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import checks as c
from kit import diagnose
from kit.catalogue import SUITE, Subject
from kit.diagnose import Death
from kit.events import Event
from kit.observation import Observation
from kit.outcomes import Code, Ev, Status, TestOutcome
from kit.results import Diagnosis, ProcRecord, RunResult, TestResult
from kit.source import SourceFacts

PLUGIN = "kit._pytest_plugin"
NO_TESTS = 5  # pytest's exit status when nothing was collected
EXIT_STATUS = {0: "all tests passed", 1: "tests failed", 2: "interrupted (a collection error, or -x)",
               3: "pytest's internal error", 4: "pytest's usage error", NO_TESTS: "no tests were collected"}


def launcher_args(pytest_args: Sequence[str]) -> tuple[str, ...]:
    """What the launcher runs: ``python -m pytest`` with the kit's plugin, then the user's arguments."""
    return ("-m", "pytest", "-p", PLUGIN, *pytest_args)


def suite_subject(folder: str | Path, pytest_args: Sequence[str] = ()) -> Subject:
    """A project's suite: ``python -m pytest PYTEST_ARGS`` in ``folder``, named by the folder (and
    the arguments, when there are any: they select the tests)."""
    where = Path(folder).resolve()
    name = " ".join([str(folder), *pytest_args])
    return Subject(name, launcher_args(pytest_args), checks_for, path=str(where), kind=SUITE, cwd=str(where),
                   args=tuple(pytest_args))


@dataclass(frozen=True)
class Span:
    nodeid: str
    pid: int  # the process that ran it (pytest's, or an xdist worker's)
    start_ns: int
    end_ns: int | None  # None: still running when the run ended


def spans(events: Iterable[Event]) -> list[Span]:
    """Each test's span, in the order the tests started."""
    opened: dict[tuple[int, str], int] = {}
    out: list[Span] = []
    for e in sorted(events, key=lambda e: e.t_ns):
        nodeid = str(e.data.get("nodeid", ""))
        if e.kind == Ev.TEST_START:
            opened[(e.pid, nodeid)] = e.t_ns
        elif e.kind == Ev.TEST_END and (e.pid, nodeid) in opened:
            out.append(Span(nodeid, e.pid, opened.pop((e.pid, nodeid)), e.t_ns))
    out += [Span(nodeid, pid, t, None) for (pid, nodeid), t in opened.items()]
    return sorted(out, key=lambda s: s.start_ns)


def tests_of(events: Iterable[Event]) -> list[TestResult]:
    """Every test's outcome once (a test run again keeps its last outcome), collection errors as
    errors, in the order the tests ended."""
    out: dict[str, TestResult] = {}
    for e in sorted(events, key=lambda e: e.t_ns):
        if e.kind == Ev.TEST_END:
            nodeid = str(e.data.get("nodeid", ""))
            outcome = str(e.data.get("outcome", ""))
            if outcome not in {o.value for o in TestOutcome}:
                continue
            out.pop(nodeid, None)
            out[nodeid] = TestResult(nodeid, TestOutcome(outcome), round(float(e.data.get("duration_s") or 0.0), 3),
                                     str(e.data.get("message") or ""))
        elif e.kind == Ev.COLLECT_ERROR:
            nodeid = str(e.data.get("nodeid", ""))
            out[nodeid] = TestResult(nodeid, TestOutcome.ERROR, 0.0, str(e.data.get("message") or "collection failed"))
    return list(out.values())


def in_progress(events: Iterable[Event]) -> list[str]:
    """Tests started and never ended: what was running when the run was stopped."""
    return [s.nodeid for s in spans(events) if s.end_ns is None]


def session(events: Iterable[Event]) -> Mapping[str, Any] | None:
    """pytest's own summary (``session_end``: exit status, counts), None if it never got there."""
    ends = [e for e in events if e.kind == Ev.SESSION_END]
    return ends[-1].data if ends else None


def charges(events: Sequence[Event], processes: Iterable[ProcRecord] = (), t0_ns: int = 0) -> dict[int, str]:
    """pid -> the nodeid of the test that started it (directly, or through its ancestors).

    ``processes`` (with ``t0_ns``, the clock of their ``first_seen_s``) charge what no start event
    names: a process whose parent is charged inherits it; one started by the process running the
    tests is charged to the test running when it was first seen."""
    ss = spans(events)
    runners = {s.pid for s in ss}

    def during(pid: int, t_ns: int) -> str | None:
        for s in ss:
            if s.pid == pid and s.start_ns <= t_ns and (s.end_ns is None or t_ns <= s.end_ns):
                return s.nodeid
        return None

    charge: dict[int, str] = {}
    for e in sorted((e for e in events if e.kind == Ev.PROCESS_STARTED), key=lambda e: e.t_ns):
        child = e.data.get("child")
        if not isinstance(child, int):
            continue
        test = charge.get(e.pid) or during(e.pid, e.t_ns)
        if test is not None:
            charge.setdefault(child, test)
    _charge_listed(events, charge)
    for p in sorted(processes, key=lambda p: p.first_seen_s):
        if p.pid in charge or p.pid in runners:
            continue
        test = charge.get(p.ppid)
        if test is None and p.ppid in runners and t0_ns:
            test = during(p.ppid, t0_ns + int(p.first_seen_s * 1e9))
        if test is not None:
            charge[p.pid] = test
    return charge


def _charge_listed(events: Sequence[Event], charge: dict[int, str]) -> None:
    """A child that a test's end lists (``children``: every child of the process running the tests,
    whatever started it) and its start did not was started by that test: charged exactly, however
    short the test (the observer's first sight of it may fall in the next test)."""
    before: dict[tuple[int, str], set[int]] = {}
    for e in sorted(events, key=lambda e: e.t_ns):
        nodeid = str(e.data.get("nodeid", ""))
        listed = {pid for pid in e.data.get("children") or [] if isinstance(pid, int)}
        if e.kind == Ev.TEST_START:
            before[(e.pid, nodeid)] = listed
        elif e.kind == Ev.TEST_END:
            for pid in sorted(listed - before.pop((e.pid, nodeid), set())):
                charge.setdefault(pid, nodeid)


def totals(tests: Iterable[TestResult]) -> dict[TestOutcome, int]:
    """How many tests ended each way, in pytest's order."""
    counts = {o: 0 for o in TestOutcome}
    for t in tests:
        counts[t.outcome] += 1
    return counts


def totals_line(tests: Sequence[TestResult]) -> str:
    """``12 passed, 2 failed, 1 skipped`` (what pytest's last line says), or ``no tests``."""
    parts = [f"{n} {o}" for o, n in totals(tests).items() if n]
    return ", ".join(parts) or "no tests"


_LAST = re.compile(r"\s+")


def suite_passes() -> c.Check:
    """Every test passed (or was skipped, or failed as expected) and pytest said so: its exit status 0.
    Stands in for the generic ``exit 0``: the reason names the failing tests, not only the status."""

    def fn(ev: c.Evidence) -> tuple[bool, str]:
        tests = tests_of(ev.events)
        summary = session(ev.events)
        status = summary.get("exitstatus") if summary else ev.exitcode
        bad = [t for t in tests if not t.outcome.ok]
        said = totals_line(tests)
        if bad:
            first = bad[0]
            return False, f"{said}; first: {first.nodeid}" + (f": {_LAST.sub(' ', first.message)[:200]}"
                                                              if first.message else "")
        if status == NO_TESTS or (not tests and status in (0, None)):
            return False, "no tests were collected (pytest exit 5): nothing ran, nothing to compare"
        if status != 0 or ev.exitcode != 0:
            what = EXIT_STATUS.get(status, "") if isinstance(status, int) else ""
            return False, f"{said}, but pytest exited {ev.exitcode}" + (f": {what}" if what else "")
        return True, said

    return c.Check("suite passes", fn, replaces="exit 0")


def checks_for(method: str) -> list[c.Check]:
    """A suite's checks under any method: its tests pass (and, generic, no process outlives it)."""
    return [suite_passes()]


# -- diagnoses charged to tests ------------------------------------------------------------------
LEAK_FIX = ("Join or terminate every process a test starts before the test ends (a `with Pool(...)` block, "
            "`p.join()`, an executor's `shutdown()`), or do it in a fixture's teardown.")


def diagnoses(obs: Observation, facts: SourceFacts | None = None) -> list[Diagnosis]:
    """A suite's diagnoses: each process's death, each failed test's pickling error and each orphan
    charged to the test that started it; then what belongs to the whole run (a hang names the
    test in progress)."""
    charge = charges(obs.events, obs.processes, obs.t0_ns)
    by_test: dict[str, list[Death]] = {}
    loose: list[Death] = []
    for d in diagnose.deaths(obs.events):
        if d.main:  # pytest's own exit (SystemExit 1 when tests fail): its tests say why
            continue
        test = charge.get(d.pid)
        (by_test.setdefault(test, []) if test is not None else loose).append(d)
    out: list[Diagnosis] = []
    for test, dead in by_test.items():
        out += [dataclasses.replace(x, test=test) for x in diagnose.of_deaths(obs, dead, facts)]
    out += diagnose.of_deaths(obs, loose, facts)
    out += _pickling_in_tests(obs, {x.test for x in out if x.code is Code.PICKLING})
    out += _leaks(obs, charge) + _orphans(obs, charge)
    running = in_progress(obs.events)
    for x in diagnose.of_the_run(obs):
        if x.code is Code.HANG and running:
            x = dataclasses.replace(x, message=f"{x.message}; the test in progress: {', '.join(running)}",
                                    test=running[0])
        out.append(x)
    return out


def _pickling_in_tests(obs: Observation, said: set[str]) -> list[Diagnosis]:
    """A test that failed because something could not be pickled in the test's own process (a
    ``Process.start()`` or ``Pool.map`` raising there)."""
    out = []
    for t in tests_of(obs.events):
        if t.outcome.ok or t.nodeid in said or not diagnose.pickling_failure(t.message):
            continue
        fork = obs.method == "fork"
        spawnish = (" A Pool or an executor pickles its tasks under every method, fork included." if fork
                    else f" Under {obs.method} a Process's target and arguments are pickled; under fork they are not "
                         "(a Pool's or an executor's tasks are, always).")
        out.append(Diagnosis(Code.PICKLING, f"under {obs.method}, {t.nodeid} failed: {t.message}.{spawnish}",
                             "Define targets and pool functions at module top level (no lambdas, no functions "
                             "nested in the test), and pass only picklable arguments.", test=t.nodeid))
    return out


def _orphans(obs: Observation, charge: Mapping[int, str]) -> list[Diagnosis]:
    """Processes that outlived pytest, each named with the test that started it."""
    named = {p.pid: p for p in obs.processes}
    by_test: dict[str, list[str]] = {}
    for pid in sorted(obs.orphans):
        test = charge.get(pid)
        if test is None:
            continue
        p = named.get(pid)
        by_test.setdefault(test, []).append(f"{p.role} {p.name} (pid {pid})" if p else f"pid {pid}")
    return [Diagnosis(Code.LEAKED_PROCESS, f"{test} started {', '.join(who)}, still running after pytest exited "
                                           "(an orphan: killed by the kit)", LEAK_FIX, test=test)
            for test, who in by_test.items()]


def _leaks(obs: Observation, charge: Mapping[int, str]) -> list[Diagnosis]:
    """Processes a test started and left running when it ended (``test_end``'s ``alive``); an
    orphan is said by ``_orphans`` instead."""
    named = {p.pid: p for p in obs.processes}
    started = {e.data.get("child"): str(e.data.get("name") or "") for e in obs.of(Ev.PROCESS_STARTED)}
    out = []
    for e in obs.of(Ev.TEST_END):
        nodeid = str(e.data.get("nodeid", ""))
        left = [pid for pid in e.data.get("alive") or [] if isinstance(pid, int) and charge.get(pid) == nodeid
                and pid not in obs.orphans]
        if not left:
            continue
        who = ", ".join(f"{started.get(pid) or (named[pid].name if pid in named else 'a process')} (pid {pid})"
                        for pid in left[:5])
        out.append(Diagnosis(Code.LEAKED_PROCESS, f"{nodeid} left {len(left)} process(es) it started running "
                                                  f"when it ended: {who}", LEAK_FIX, test=nodeid))
    return out


# -- across cells --------------------------------------------------------------------------------
_UNFINISHED = (Status.TIMEOUT, Status.INTERRUPTED, Status.ERROR, Status.SKIPPED)
NOT_RUN = "not run"
DIFFERS_FIX = ("Make the test independent of the start method: under spawn and forkserver a child imports the "
               "test module afresh (module state set by the test or a fixture is not there) and everything sent "
               "to it is pickled; to test one method on purpose, use multiprocessing.get_context(METHOD).")


def compare(results: Sequence[RunResult]) -> None:
    """Add ``outcome_differs`` to each suite cell for each test whose outcome differs from the
    reference cell's (the first place's default method, as for scripts), naming the test, both
    cells, and the diagnosis that explains it where the failing cell has one.  A test that fails
    in every cell differs nowhere: it is a failure, not a method dependence.  Cells that did not
    finish (a timeout, a stop) are not compared: their missing tests never ran; nor is a test that
    ran in one cell only (pytest's ``-x`` or ``--maxfail`` stopped the other)."""
    for r in results:
        r.diagnoses = [d for d in r.diagnoses if d.code is not Code.OUTCOME_DIFFERS]
    for r in results:
        ref = diagnose.reference_of(r, results)
        if ref is None or r.tests is None or ref.tests is None or r.status in _UNFINISHED or ref.status in _UNFINISHED:
            continue
        mine, theirs = {t.nodeid: t for t in r.tests}, {t.nodeid: t for t in ref.tests}
        for nodeid in dict.fromkeys([*theirs, *mine]):
            a, b = mine.get(nodeid), theirs.get(nodeid)
            if a is None or b is None or a.outcome is b.outcome:  # run in one cell only: -x, --maxfail
                continue
            r.diagnoses.append(_differs(nodeid, r, a, ref, b))


def _differs(nodeid: str, r: RunResult, a: TestResult | None, ref: RunResult, b: TestResult | None) -> Diagnosis:
    def said(t: TestResult | None, cell: RunResult) -> str:
        return f"{t.outcome if t else NOT_RUN} under {cell.method} on {cell.place}"

    failing = next(((t, cell) for t, cell in ((a, r), (b, ref)) if t is not None and not t.outcome.ok), None)
    why = f": {failing[0].message}" if failing and failing[0].message else ""
    explained = next((d for d in (failing[1].diagnoses if failing else []) if d.test == nodeid
                      and d.code is not Code.OUTCOME_DIFFERS), None)
    also = f" (diagnosis: {explained.code})" if explained else ""
    return Diagnosis(Code.OUTCOME_DIFFERS, f"{nodeid}: {said(a, r)}, {said(b, ref)}{why}{also}",
                     explained.fix if explained else DIFFERS_FIX, test=nodeid)


def where_outcomes(nodeid: str, cells: Iterable[tuple[str, RunResult]]) -> dict[str, list[str]]:
    """For one test: each outcome (or ``not run``) and the labels of the cells that gave it, in order."""
    by: dict[str, list[str]] = {}
    for label, r in cells:
        t = next((t for t in r.tests or [] if t.nodeid == nodeid), None)
        by.setdefault(str(t.outcome) if t else NOT_RUN, []).append(label)
    return by


def depends_on_method(results: Sequence[RunResult]) -> dict[str, list[RunResult]]:
    """nodeid -> the cells where its outcome differs from the reference, in the order found."""
    out: dict[str, list[RunResult]] = {}
    for r in results:
        for d in r.diagnoses:
            if d.code is Code.OUTCOME_DIFFERS and d.test:
                out.setdefault(d.test, []).append(r)
    return out


def fails_everywhere(results: Sequence[RunResult]) -> list[TestResult]:
    """Tests that failed (or errored) in every finished cell that ran them."""
    finished = [r for r in results if r.tests is not None and r.status not in _UNFINISHED]
    if not finished:
        return []
    by: dict[str, list[TestResult]] = {}
    for r in finished:
        for t in r.tests or []:
            by.setdefault(t.nodeid, []).append(t)
    return [ts[0] for ts in by.values() if len(ts) == len(finished) and all(not t.outcome.ok for t in ts)]


# -- confirming a difference ---------------------------------------------------------------------
CONFIRM_FIX = ("Its outcome varies from run to run, not (only) with the method: look for timing, ordering or "
               "shared state (a port, a file, a global) in it; run it alone and repeatedly to see.")


def to_confirm(results: Sequence[RunResult]) -> dict[str, tuple[list[str], list[str]]]:
    """place -> (the methods, the tests) to run once more there: each test whose outcome differs, in
    its cell and in the reference cell, so that a difference is said only when it reproduces.  A
    place's cells run again at once (a test asked for by one method runs under the others too)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for r in results:
        ref = diagnose.reference_of(r, results)
        for d in r.diagnoses:
            if d.code is Code.OUTCOME_DIFFERS and d.test and ref is not None:
                for cell in (r, ref):
                    methods, tests = out.setdefault(cell.place, ([], []))
                    methods += [str(cell.method)] if str(cell.method) not in methods else []
                    tests += [d.test] if d.test not in tests else []
    return out


def confirm(results: Sequence[RunResult], again: Sequence[RunResult]) -> None:
    """Keep an ``outcome_differs`` only where the second run (``again``: the tests of ``to_confirm``
    run once more in both cells) gave both cells the outcomes of the first; otherwise the test is
    ``flaky``: what it shows cannot be put down to the method."""
    second = {(r.place, str(r.method)): {t.nodeid: t.outcome for t in r.tests or []} for r in again}
    for r in results:
        ref = diagnose.reference_of(r, results)
        if ref is None:
            continue
        kept = []
        for d in r.diagnoses:
            if d.code is not Code.OUTCOME_DIFFERS or not d.test:
                kept.append(d)
                continue
            first = {t.nodeid: t.outcome for t in r.tests or []}.get(d.test)
            first_ref = {t.nodeid: t.outcome for t in ref.tests or []}.get(d.test)
            mine = second.get((r.place, str(r.method)), {}).get(d.test)
            theirs = second.get((ref.place, str(ref.method)), {}).get(d.test)
            if mine is first and theirs is first_ref:
                kept.append(d)
            else:
                kept.append(Diagnosis(Code.FLAKY, f"{d.message}; run again, it gave {mine or NOT_RUN} under "
                                                  f"{r.method} and {theirs or NOT_RUN} under {ref.method}: not "
                                                  "reproduced, so not put down to the method", CONFIRM_FIX,
                                      test=d.test))
        r.diagnoses = kept
