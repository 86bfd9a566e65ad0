"""kit/suite.py and kit/suite_render.py on hand-made evidence: a suite's tests, what each is charged with.

Nothing here starts a process: the events are those ``kit._pytest_plugin`` and the probe record
(``test_start``/``test_end``/``session_end``, ``process_started``, ``child_killed``), the processes
those the observer would have seen.  The real runs of the same behaviours, on the small projects in
tests/projects/suite_*, are in tests/test_pytest_command.py.

Each property is checked by a plain function, so that a test can also show it catching a broken
variant of the kit (``test_*_variant_*``): a ``charges`` that forgets descendants, a ``compare`` that
compares every cell with itself, a ``suite_passes`` that ignores pytest's exit status, a plugin
that records no ``test_end``.
"""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import pytest

from kit import checks as c
from kit import diagnose, junit, suite, suite_render
from kit.events import Event
from kit.judge import judge
from kit.observation import End, Observation
from kit.outcomes import Code, Ev, Method, Role, Status, TestOutcome
from kit.results import Diagnosis, PlatformInfo, ProcRecord, RunResult, TestResult

MAIN = 1000  # the process running pytest (and the tests)
PLATFORM = PlatformInfo(os="Linux", python="3.11.7", implementation="CPython", default_method="fork",
                        methods=["fork", "spawn", "forkserver"], cpu_count=2, machine="x86_64",
                        executable="/project/.venv/bin/python")
A = "tests/test_x.py::test_a"
B = "tests/test_x.py::test_b"
C = "tests/test_x.py::test_c"
PICKLE = "AttributeError: Can't pickle local object 'test_a.<locals>.work'"


# -- hand-made evidence -------------------------------------------------------------------------
def ev(kind: str, ms: float, pid: int = MAIN, **data: Any) -> Event:
    """An event ``ms`` milliseconds into the run."""
    return Event(int(ms * 1_000_000), pid, kind, data)


def ran(nodeid: str, start_ms: float, end_ms: float | None, outcome: str = "passed", message: str | None = None,
        alive: Sequence[int] = (), pid: int = MAIN) -> list[Event]:
    """A test's start and (unless ``end_ms`` is None: still running) its end, as the plugin records them."""
    out = [ev(Ev.TEST_START, start_ms, pid, nodeid=nodeid, worker=None)]
    if end_ms is not None:
        out.append(ev(Ev.TEST_END, end_ms, pid, nodeid=nodeid, outcome=outcome,
                      duration_s=(end_ms - start_ms) / 1000, message=message, worker=None, alive=list(alive)))
    return out


def started(ms: float, child: int, name: str = "Process-1", pid: int = MAIN, daemon: bool = False) -> Event:
    return ev(Ev.PROCESS_STARTED, ms, pid, child=child, daemon=daemon, name=name, method="spawn")


def session_end(ms: float, exitstatus: int, collected: int) -> Event:
    return ev(Ev.SESSION_END, ms, exitstatus=exitstatus, collected=collected, deselected=0, collect_errors=0,
              counts={})


def proc(pid: int, *, ppid: int = MAIN, role: str = "worker", name: str = "python3", first_seen_s: float = 0.0,
         stack: str = "") -> ProcRecord:
    return ProcRecord(pid=pid, ppid=ppid, name=name, cmdline=[name], create_time=0.0, role=Role(role),
                      first_seen_s=first_seen_s, last_seen_s=0.9, gone_s=0.9, cpu_s=0.1, stack=stack)


def observation(*events: Event, exitcode: int | None = 0, **overrides: Any) -> Observation:
    """A suite's run under spawn (started, ``events``, done) by pytest's process ``MAIN``."""
    fields: dict[str, Any] = dict(
        subject=".", method="spawn", scale=0.1, platform=PLATFORM, main_pid=MAIN, end=End.EXITED,
        exitcode=exitcode, wall_s=1.0, cpu_s=0.5, peak_processes=2, timeout_s=60.0,
        events=(ev(Ev.SCRIPT_START, 1, method="spawn", main=MAIN), *events),
        processes=(proc(MAIN, role="main", ppid=1),),
    )
    fields.update(overrides)
    return Observation(**fields)


def judged(obs: Observation) -> RunResult:
    """The cell, judged as ``kit pytest`` judges it."""
    return judge(obs, suite.checks_for(obs.method), suite=True)


def by_code(ds: Sequence[Diagnosis], code: Code) -> list[Diagnosis]:
    return [d for d in ds if d.code is code]


# -- tests_of, spans, in_progress ---------------------------------------------------------------
def test_each_test_once_in_the_order_it_ended_with_its_outcome_duration_and_message() -> None:
    events = [*ran(A, 10, 30), *ran(B, 40, 100, "failed", "AssertionError: no"), *ran(C, 110, 120, "skipped", "later"),
              ev(Ev.COLLECT_ERROR, 5, nodeid="tests/test_y.py", message="ImportError: no module named y")]
    tests = suite.tests_of(events)
    assert [(t.nodeid, t.outcome, t.message) for t in tests] == [
        ("tests/test_y.py", TestOutcome.ERROR, "ImportError: no module named y"),
        (A, TestOutcome.PASSED, ""), (B, TestOutcome.FAILED, "AssertionError: no"), (C, TestOutcome.SKIPPED, "later")]
    assert tests[2].duration_s == 0.06
    assert suite.totals_line(tests) == "1 passed, 1 failed, 1 error, 1 skipped"
    assert suite.totals_line([]) == "no tests"


def test_a_test_run_again_keeps_its_last_outcome_and_an_unknown_outcome_is_ignored() -> None:
    events = [*ran(A, 10, 20, "failed", "flaky"), *ran(A, 30, 40), *ran(B, 50, 60, "exploded")]
    assert [(t.nodeid, t.outcome) for t in suite.tests_of(events)] == [(A, TestOutcome.PASSED)]


def test_the_test_in_progress_is_the_one_started_and_never_ended() -> None:
    events = [*ran(A, 10, 20), *ran(B, 30, None)]
    assert suite.in_progress(events) == [B]
    assert [(s.nodeid, s.end_ns) for s in suite.spans(events)] == [(A, 20_000_000), (B, None)]


# -- charges ------------------------------------------------------------------------------------
def check_descendants_are_charged() -> None:
    """A test's child, the child's own child (known by its start event) and that one's child (known
    only from the observer: a ``subprocess``) are all the test's; a process started between tests is nobody's."""
    events = [*ran(A, 10, 100), started(20, 2001), started(30, 2002, pid=2001), *ran(B, 200, 300),
              started(250, 2101)]
    processes = [proc(2003, ppid=2002, name="sleep", first_seen_s=0.05), proc(2200, first_seen_s=0.15)]
    charge = suite.charges(events, processes, t0_ns=1)
    assert charge.get(2001) == A
    assert charge.get(2002) == A, "the grandchild (started by the test's child) is the test's too"
    assert charge.get(2003) == A, "a process the grandchild started is the test's too"
    assert charge.get(2101) == B
    assert 2200 not in charge, "started between two tests: charged to neither"
    assert MAIN not in charge


def test_every_process_a_test_started_is_charged_to_it_descendants_too() -> None:
    check_descendants_are_charged()


def charges_ignoring_descendants(events: Sequence[Event], processes: Sequence[ProcRecord] = (), t0_ns: int = 0
                                 ) -> dict[int, str]:
    """The broken variant: only the children of the process running the tests (by their start events
    or, for a ``subprocess``, the observer's first sight); what those children start is nobody's."""
    ss = suite.spans(events)

    def during(pid: int, t_ns: int) -> str | None:
        return next((s.nodeid for s in ss if s.pid == pid and s.start_ns <= t_ns <= (s.end_ns or t_ns)), None)

    charge: dict[int, str] = {}
    found = [(int(e.data["child"]), during(e.pid, e.t_ns)) for e in events if e.kind == Ev.PROCESS_STARTED]
    found += [(p.pid, during(p.ppid, t0_ns + int(p.first_seen_s * 1e9))) for p in processes if t0_ns]
    for pid, test in found:
        if test is not None:
            charge.setdefault(pid, test)
    return charge


def test_variant_charges_that_ignore_descendants_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "charges", charges_ignoring_descendants)
    with pytest.raises(AssertionError, match="grandchild"):
        check_descendants_are_charged()


def test_a_process_first_seen_by_the_observer_is_charged_to_the_test_running_then() -> None:
    """``subprocess`` starts leave no start event: the observer's first sight (``first_seen_s`` after
    ``t0_ns``) falls in the test's span."""
    events = [*ran(A, 10, 100), *ran(B, 200, 300)]
    t0_ns = 1_000_000  # the main process started 1 ms into the events' clock
    processes = [proc(3001, name="sleep", first_seen_s=0.05), proc(3002, name="sleep", first_seen_s=0.25)]
    assert suite.charges(events, processes, t0_ns) == {3001: A, 3002: B}


def test_a_process_started_by_a_quick_test_is_charged_to_it_not_to_the_next_one() -> None:
    """The observer first sees the quick test's ``subprocess`` child while the next test runs; the
    test's end lists it among the children (its start did not): charged to the quick test."""
    events = [ev(Ev.TEST_START, 10, nodeid=A, children=[]), ev(Ev.TEST_END, 20, nodeid=A, outcome="passed",
                                                                 children=[3001]),
              ev(Ev.TEST_START, 30, nodeid=B, children=[3001]), ev(Ev.TEST_END, 300, nodeid=B, outcome="passed",
                                                                     children=[3001])]
    quick = proc(3001, name="sleep", first_seen_s=0.1)  # first sampled 100 ms in (during B)
    assert suite.charges(events, [quick], t0_ns=1)[3001] == A


def test_the_broken_variant_charging_by_first_sight_names_the_next_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the children lists (the observer's first sight only), the quick test's child is the next one's."""
    events = [*ran(A, 10, 20), *ran(B, 30, 300)]
    quick = proc(3001, name="sleep", first_seen_s=0.1)
    assert suite.charges(events, [quick], t0_ns=1)[3001] == B


# -- diagnoses charged to tests -----------------------------------------------------------------
def test_a_pickling_failure_is_charged_to_its_test() -> None:
    obs = observation(*ran(A, 10, 50, "failed", PICKLE), *ran(B, 60, 70), session_end(80, 1, 2), exitcode=1)
    r = judged(obs)
    [d] = by_code(r.diagnoses, Code.PICKLING)
    assert d.test == A and A in d.message and "under spawn" in d.message and "top level" in d.fix
    assert "Under spawn a Process's target and arguments are pickled" in d.message
    assert r.status is Status.FAIL and r.tests is not None and len(r.tests) == 2
    [under_fork] = by_code(suite.diagnoses(dataclasses.replace(obs, method="fork")), Code.PICKLING)
    assert under_fork.test == A and "target and arguments are pickled" not in under_fork.message


def test_a_pool_worker_killed_is_charged_to_the_test_that_started_it() -> None:
    obs = observation(*ran(A, 10, 500, "failed", "TimeoutError"), started(20, 2001, "SpawnPoolWorker-1"),
                      ev(Ev.CHILD_KILLED, 100, child=2001, name="SpawnPoolWorker-1", signal="SIGKILL", exitcode=-9),
                      session_end(600, 1, 1), exitcode=1)
    [d] = by_code(suite.diagnoses(obs), Code.WORKER_DIED)
    assert d.test == A
    assert "killed by SIGKILL" in d.message and "SpawnPoolWorker-1" in d.message
    assert "ProcessPoolExecutor" in d.fix


def test_a_child_that_died_outside_any_test_is_not_charged() -> None:
    obs = observation(*ran(A, 10, 50), started(60, 2001, "Process-9"),
                      ev(Ev.CHILD_ERROR, 70, pid=2001, name="Process-9", error="ValueError: x", exitcode=1),
                      session_end(80, 0, 1))
    [d] = by_code(suite.diagnoses(obs), Code.WORKER_DIED)
    assert d.test == ""


def check_leak_and_orphan_charged() -> None:
    """A daemon left running when its test ended, a process that outlived pytest, and one the daemon
    started that outlived pytest too: each names the test that started it (or its parent)."""
    events = [*ran(A, 10, 100, alive=[2001]), started(20, 2001, "Process-1", daemon=True),
              *ran(B, 200, 800), *ran(C, 900, 950), session_end(960, 0, 3)]
    sleep = proc(3001, name="sleep", role="other", first_seen_s=0.3)
    grandchild = proc(3002, ppid=2001, name="sleep", role="other", first_seen_s=0.05)
    obs = observation(*events, processes=(proc(MAIN, role="main", ppid=1), proc(2001), sleep, grandchild),
                      orphans=frozenset({3001, 3002}), t0_ns=1)
    said = [(d.test, d.message) for d in by_code(suite.diagnoses(obs), Code.LEAKED_PROCESS)]
    assert (A, f"{A} left 1 process(es) it started running when it ended: Process-1 (pid 2001)") in said, said
    assert (B, f"{B} started other sleep (pid 3001), still running after pytest exited (an orphan: killed by the "
               "kit)") in said, said
    assert (A, f"{A} started other sleep (pid 3002), still running after pytest exited (an orphan: killed by the "
               "kit)") in said, f"the orphan of the test's child is the test's: {said}"
    assert len(said) == 3, said


def test_a_leaked_process_and_an_orphan_are_charged_to_their_tests() -> None:
    check_leak_and_orphan_charged()


def test_an_orphan_is_said_once_as_an_orphan_not_also_as_a_leak() -> None:
    events = [*ran(A, 10, 100, alive=[2001]), started(20, 2001), session_end(200, 0, 1)]
    obs = observation(*events, processes=(proc(MAIN, role="main", ppid=1), proc(2001)), orphans=frozenset({2001}))
    [d] = by_code(suite.diagnoses(obs), Code.LEAKED_PROCESS)
    assert d.test == A and "after pytest exited" in d.message


def test_variant_charges_ignoring_descendants_misses_the_orphan_a_subprocess_left(monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    monkeypatch.setattr(suite, "charges", charges_ignoring_descendants)
    with pytest.raises(AssertionError, match="the orphan of the test's child is the test's"):
        check_leak_and_orphan_charged()


LIB = "/usr/lib/python3.11"
WAITING = f"""Current thread 0x00007f179ffc4b80 (most recent call first):
  File "{LIB}/threading.py", line 327 in wait
  File "{LIB}/multiprocessing/pool.py", line 768 in wait
  File "{LIB}/multiprocessing/pool.py", line 771 in get
  File "/project/tests/test_x.py", line 14 in test_b
  File "/site/_pytest/python.py", line 157 in pytest_pyfunc_call
"""


def test_a_hang_names_the_test_in_progress_and_the_test_after_it_never_ran() -> None:
    events = [*ran(A, 10, 20), *ran(B, 30, None), started(40, 2001, "SpawnPoolWorker-1"),
              ev(Ev.CHILD_KILLED, 100, child=2001, name="SpawnPoolWorker-1", signal="SIGKILL", exitcode=-9)]
    obs = observation(*events, end=End.TIMEOUT, exitcode=None, timeout_s=15.0,
                      processes=(proc(MAIN, role="main", ppid=1, stack=WAITING),))
    r = judged(obs)
    assert r.status is Status.TIMEOUT
    [hang] = by_code(r.diagnoses, Code.HANG)
    assert hang.test == B and f"the test in progress: {B}" in hang.message
    assert "still running after 15 s" in hang.message
    assert "the main process in wait (threading.py:327) from test_b (test_x.py:14)" in hang.message
    [died] = by_code(r.diagnoses, Code.WORKER_DIED)
    assert died.test == B and "killed by SIGKILL" in died.message
    assert [t.nodeid for t in r.tests or []] == [A], "B never ended, C never started"


# -- suite_passes -------------------------------------------------------------------------------
def check_zero_tests_fail() -> None:
    """pytest's exit 5 (nothing collected) fails the cell: a suite that ran nothing is not green."""
    r = judged(observation(session_end(50, 5, 0), exitcode=5))
    assert r.status is Status.FAIL, r.reason
    assert "no tests were collected" in r.reason
    assert r.tests == []


def test_a_suite_with_zero_tests_fails() -> None:
    check_zero_tests_fail()


def test_the_cell_passes_only_when_every_test_passes_and_pytest_says_so() -> None:
    ok = judged(observation(*ran(A, 10, 20), *ran(C, 30, 40, "xfailed", "known"), session_end(50, 0, 2)))
    assert ok.status is Status.PASS and ok.reason == "1 passed, 1 xfailed", ok.reason
    failed = judged(observation(*ran(A, 10, 20), *ran(B, 30, 40, "failed", "AssertionError: 1 == 2"),
                                session_end(50, 1, 2), exitcode=1))
    assert failed.status is Status.FAIL
    assert failed.reason == f"1 passed, 1 failed; first: {B}: AssertionError: 1 == 2"
    # every test passed, but pytest said otherwise (a session fixture's teardown failed, say)
    odd = judged(observation(*ran(A, 10, 20), session_end(50, 3, 1), exitcode=3))
    assert odd.status is Status.FAIL and "but pytest exited 3: pytest's internal error" in odd.reason
    # pytest never got to its session end: its exit status decides
    cut = judged(observation(*ran(A, 10, 20), exitcode=1))
    assert cut.status is Status.FAIL and "but pytest exited 1" in cut.reason


def suite_passes_ignoring_the_exit_status() -> c.Check:
    """The broken variant: no failed test is enough."""
    def fn(ev: c.Evidence) -> tuple[bool, str]:
        tests = suite.tests_of(ev.events)
        return all(t.outcome.ok for t in tests), suite.totals_line(tests)

    return c.Check("suite passes", fn, replaces="exit 0")


def test_variant_suite_passes_ignoring_the_exit_status_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "suite_passes", suite_passes_ignoring_the_exit_status)
    with pytest.raises(AssertionError, match="no tests"):
        check_zero_tests_fail()


def check_no_test_end_is_no_tests() -> None:
    """A run whose plugin recorded no ``test_end`` (it broke, or was not loaded) has no tests: its cell
    fails, it is never green on pytest's word alone."""
    r = judged(observation(ev(Ev.TEST_START, 10, nodeid=A, worker=None), session_end(50, 0, 1)))
    assert r.tests == [] and r.status is Status.FAIL


def test_a_run_whose_plugin_recorded_no_test_end_is_not_green() -> None:
    check_no_test_end_is_no_tests()


# -- across cells: compare, depends_on_method, fails_everywhere ---------------------------------
def cell(method: str, tests: Sequence[TestResult], status: Status = Status.FAIL, diagnoses: Sequence[Diagnosis] = (),
         place: str = "host") -> RunResult:
    return RunResult(".", Method(method), status, "", wall_s=1.5, platform=dataclasses.replace(PLATFORM, place=place),
                     tests=list(tests), diagnoses=list(diagnoses), exitcode=0 if status is Status.PASS else 1)


def passed(nodeid: str) -> TestResult:
    return TestResult(nodeid, TestOutcome.PASSED, 0.01)


def failed(nodeid: str, message: str = "AssertionError") -> TestResult:
    return TestResult(nodeid, TestOutcome.FAILED, 0.02, message)


def three_cells() -> list[RunResult]:
    """A depends on the method (a local target: pickled under spawn and forkserver); B fails everywhere."""
    pickling = Diagnosis(Code.PICKLING, f"under spawn, {A} failed", "Define targets at module top level", test=A)
    return [cell("fork", [passed(A), failed(B), passed(C)]),
            cell("spawn", [failed(A, PICKLE), failed(B), passed(C)], diagnoses=[pickling]),
            cell("forkserver", [failed(A, PICKLE), failed(B), passed(C)],
                 diagnoses=[dataclasses.replace(pickling, message=f"under forkserver, {A} failed")])]


def check_method_dependence_found(rs: list[RunResult]) -> None:
    suite.compare(rs)
    fork, spawn, forkserver = rs
    assert not by_code(fork.diagnoses, Code.OUTCOME_DIFFERS), "the reference cell differs from nothing"
    for r in (spawn, forkserver):
        differs = by_code(r.diagnoses, Code.OUTCOME_DIFFERS)
        assert len(differs) == 1, f"under {r.method}: {differs}"
        d = differs[0]
        assert d.test == A
        assert d.message.startswith(f"{A}: failed under {r.method} on host, passed under fork on host: {PICKLE}")
        assert d.message.endswith("(diagnosis: pickling)") and d.fix == "Define targets at module top level"
    assert {k: [r.method for r in v] for k, v in suite.depends_on_method(rs).items()} == {A: ["spawn", "forkserver"]}
    assert [t.nodeid for t in suite.fails_everywhere(rs)] == [B]


def test_a_method_dependent_test_is_named_with_its_cells_and_the_diagnosis_that_explains_it() -> None:
    check_method_dependence_found(three_cells())


def test_compare_replaces_what_it_said_before() -> None:
    rs = three_cells()
    suite.compare(rs)
    suite.compare(rs)
    assert len(by_code(rs[1].diagnoses, Code.OUTCOME_DIFFERS)) == 1


def test_variant_compare_of_each_cell_with_itself_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnose, "reference_of", lambda r, results: r)
    with pytest.raises(AssertionError):
        check_method_dependence_found(three_cells())


def test_an_unfinished_cell_is_not_compared_its_missing_tests_never_ran() -> None:
    rs = three_cells()
    rs[1] = cell("spawn", [failed(A, PICKLE)], status=Status.TIMEOUT)
    suite.compare(rs)
    assert not by_code(rs[1].diagnoses, Code.OUTCOME_DIFFERS)
    assert [t.nodeid for t in suite.fails_everywhere(rs)] == [B]  # the timed-out cell is left out


def test_a_test_run_in_one_finished_cell_only_is_not_compared() -> None:
    """pytest's -x or --maxfail stopped one cell before the test: nothing to compare it with."""
    rs = [cell("fork", [passed(A), passed(C)], Status.PASS), cell("spawn", [passed(A)], Status.PASS)]
    suite.compare(rs)
    assert rs[1].diagnoses == []


def test_tests_left_unrun_by_x_are_not_a_method_dependence() -> None:
    fork = cell("fork", [passed(A), failed(B)])
    spawn = cell("spawn", [failed(A, PICKLE)])
    rs = [fork, spawn]
    suite.compare(rs)
    assert [d.test for d in by_code(spawn.diagnoses, Code.OUTCOME_DIFFERS)] == [A]


# -- suite_render: text and markdown ------------------------------------------------------------
def test_the_text_shows_totals_per_cell_the_dependent_test_why_and_the_failures_everywhere() -> None:
    rs = three_cells()
    suite.compare(rs)
    out = suite_render.text(rs)
    lines = out.splitlines()
    assert lines[0] == "kit pytest .  (host: /project/.venv/bin/python (CPython 3.11.7))"
    assert "host fork*       fail    2 passed, 1 failed  (1.5 s)" in out
    assert "host spawn       fail    1 passed, 2 failed  (1.5 s)" in out
    assert "1 test(s) whose outcome depends on the start method:" in out
    assert "passed under host fork*; failed under host spawn, host forkserver" in out
    assert "fix (pickling): Define targets at module top level" in out
    assert "1 test(s) fail under every method (not a method dependence):" in out
    assert f"  {B}: failed: AssertionError" in out
    assert lines[-1] == "1 test(s) depend on the start method"
    md = suite_render.markdown(rs)
    assert "| host spawn | fail | 1 passed, 2 failed | 1.5 |" in md
    assert md.rstrip().endswith("depend on the start method")


def test_a_portable_suite_has_nothing_to_say() -> None:
    rs = [cell(m, [passed(A), passed(B)], Status.PASS) for m in ("fork", "spawn", "forkserver")]
    suite.compare(rs)
    out = suite_render.text(rs)
    assert out.splitlines()[-1] == "every test passes under every method"
    assert "depends on" not in out and "diagnoses:" not in out and "fail under every" not in out
    assert all(not r.diagnoses for r in rs)


def test_tests_that_differ_the_same_way_are_one_block() -> None:
    many = [f"tests/test_x.py::test_{i}" for i in range(suite_render.SHOWN + 5)]
    rs = [cell("fork", [passed(n) for n in many], Status.PASS), cell("spawn", [failed(n) for n in many])]
    suite.compare(rs)
    out = suite_render.text(rs)
    assert f"{len(many)} test(s) whose outcome depends on the start method:" in out
    assert f"  ... and {len(many) - suite_render.GROUP_SHOWN} more the same way" in out
    assert "test_24" not in out and out.count("passed under host fork*; failed under host spawn") == 1


def test_a_long_list_of_groups_is_cut_and_points_to_the_json() -> None:
    many = [f"tests/test_x.py::test_{i}" for i in range(suite_render.SHOWN + 5)]
    rs = [cell("fork", [passed(n) for n in many], Status.PASS),
          cell("spawn", [failed(n, f"Error {i}") for i, n in enumerate(many)])]  # each its own way: a group each
    for r in rs[1:]:
        r.diagnoses = [Diagnosis(Code.WORKER_DIED, "m", f"fix {i}", test=n) for i, n in enumerate(many)]
    suite.compare(rs)
    out = suite_render.text(rs)
    assert "  ... and 5 more: see --json or --junit-xml" in out
    assert "test_24" not in out


def test_a_cell_that_did_not_finish_says_why_in_its_totals() -> None:
    stopped = RunResult(".", Method.SPAWN, Status.TIMEOUT, "still running after 15 s: killed 3 process(es)",
                        platform=PLATFORM, tests=[passed(A)])
    assert "1 passed; still running after 15 s" in "\n".join(suite_render.cells([stopped]))


# -- JUnit and JSON of a suite ------------------------------------------------------------------
def test_junit_has_a_case_per_cell_and_test_with_the_cell_in_its_class_name() -> None:
    rs = three_cells()
    suite.compare(rs)
    root = ET.fromstring(junit.to_xml(rs))
    cases = [(tc.get("classname"), tc.get("name")) for tc in root.iter("testcase")]
    assert len(cases) == 9
    assert ("host.spawn.tests.test_x", "test_a") in cases and ("host.fork.tests.test_x", "test_c") in cases
    spawn = next(s for s in root.iter("testsuite") if s.get("name") == "host spawn")
    assert (spawn.get("tests"), spawn.get("failures")) == ("3", "2")
    a = next(tc for tc in spawn.iter("testcase") if tc.get("name") == "test_a")
    failure = a.find("failure")
    assert failure is not None and failure.get("message") == PICKLE
    assert "pickling: under spawn" in (failure.text or "") and "outcome_differs" in (failure.text or "")


def test_junit_gives_a_cell_that_timed_out_a_case_saying_why() -> None:
    stopped = RunResult(".", Method.SPAWN, Status.TIMEOUT, "still running after 15 s", platform=PLATFORM,
                        tests=[passed(A)], diagnoses=[Diagnosis(Code.HANG, "stuck", "look", test=B)])
    root = ET.fromstring(junit.to_xml([stopped]))
    run = next(tc for tc in root.iter("testcase") if tc.get("name") == "(the run)")
    error = run.find("error")
    assert error is not None and error.get("type") == "timeout" and "hang: stuck" in (error.text or "")


def test_the_json_of_a_suite_cell_has_its_tests_and_a_script_cell_has_none() -> None:
    r = three_cells()[1]
    out = r.to_dict()
    assert out["tests"][0] == {"nodeid": A, "outcome": "failed", "duration_s": 0.02, "message": PICKLE}
    assert out["platform"]["executable"] == "/project/.venv/bin/python"
    assert out["diagnoses"][0]["test"] == A
    assert RunResult.from_dict(out).tests == r.tests
    assert "tests" not in dataclasses.replace(r, tests=None).to_dict()


def test_the_subject_runs_pytest_with_the_plugin_in_the_folder() -> None:
    s = suite.suite_subject("proj", ["-k", "quick"])
    assert s.name == "proj -k quick" and s.kind == "suite"
    assert s.launcher_args == ("-m", "pytest", "-p", suite.PLUGIN, "-k", "quick") and s.args == ("-k", "quick")
    assert s.cwd.endswith("proj") and s.path == s.cwd


def test_kit_report_names_each_test_whose_outcome_differs_across_machines() -> None:
    """Suites merged from two machines: the test that passes on one and fails on the other is named
    with where it went which way; a test failing on both is not a difference."""
    from kit import report

    linux = cell("fork", [passed(A), failed(B)], Status.FAIL)
    mac = cell("spawn", [failed(A, PICKLE), failed(B)], Status.FAIL)
    assert mac.platform is not None
    mac.platform = dataclasses.replace(mac.platform, os="Darwin", python="3.14.0", default_method="spawn")
    lines = report.differences(report.merge([linux, mac]))
    named = [line for line in lines if "::" in line]
    assert named == [f".: {A}: passed on Linux py3.11 fork; failed on macOS py3.14 spawn"], lines


# -- confirming a difference ---------------------------------------------------------------------
def differing() -> list[RunResult]:
    rs = [cell("fork", [passed(A), passed(B)], Status.PASS), cell("spawn", [failed(A, PICKLE), passed(B)])]
    suite.compare(rs)
    return rs


def test_the_tests_to_confirm_are_the_differing_ones_in_both_cells_of_their_place() -> None:
    assert suite.to_confirm(differing()) == {"host": (["spawn", "fork"], [A])}


def test_a_difference_that_reproduces_is_kept() -> None:
    rs = differing()
    suite.confirm(rs, [cell("spawn", [failed(A, PICKLE)]), cell("fork", [passed(A)], Status.PASS)])
    assert [d.code for d in rs[1].diagnoses] == [Code.OUTCOME_DIFFERS]
    assert list(suite.depends_on_method(rs)) == [A]


def test_a_difference_that_does_not_reproduce_is_flaky_not_a_method_dependence() -> None:
    rs = differing()
    suite.confirm(rs, [cell("spawn", [passed(A)], Status.PASS), cell("fork", [passed(A)], Status.PASS)])
    [d] = rs[1].diagnoses
    assert d.code is Code.FLAKY and d.test == A and "passed under spawn and passed under fork" in d.message
    assert suite.depends_on_method(rs) == {}
    out = suite_render.text(rs)
    assert "flaky [" in out and "whose outcome depends on the start method" not in out, out


def test_the_broken_variant_that_keeps_every_difference_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kit that never confirms (``confirm`` a no-op) calls the flaky test method-dependent: the
    test above fails against it."""
    monkeypatch.setattr(suite, "confirm", lambda results, again: None)
    with pytest.raises(AssertionError):  # the outcome_differs stays where a flaky diagnosis belongs
        test_a_difference_that_does_not_reproduce_is_flaky_not_a_method_dependence()


def test_one_method_is_not_called_every_method() -> None:
    """With one method nothing was compared: the verdict says which method ran (the broken wording,
    "every test passes under every method", is what it replaced)."""
    one = [cell("fork", [passed(A), passed(C)], status=Status.PASS)]
    assert suite_render.verdict(one) == ("every test passes under fork, the only method run: nothing compared "
                                         "across methods")
    failing = [cell("spawn", [failed(B)])]
    suite.compare(failing)
    out = suite_render.text(failing)
    assert "every method" not in out and "1 test(s) fail:" in out
    both = [cell("fork", [passed(A)], status=Status.PASS), cell("spawn", [passed(A)], status=Status.PASS)]
    assert suite_render.verdict(both) == "every test passes under every method"
