"""The pitfalls beyond the article: each reproduced on this host under every start method, and
the expectation tables that say what must happen where.

A reproduced failure is a pass: ``kill_parent`` passes because the main process died by
SIGKILL and its children were left as orphans.  A cell whose (OS, Python, method) has no row in
its example's table is inconclusive, never a guess.
"""
from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from support import explain, run_bounded

from kit import checks as c
from kit import report
from kit.catalogue import (
    ANY,
    ARTICLE,
    EXAMPLES,
    LINUX,
    PITFALLS,
    Example,
    Expect,
    python_matches,
    select,
    version_tuple,
)
from kit.events import Event
from kit.judge import judge
from kit.observation import End, Observation
from kit.outcomes import GENERIC_CHECKS, Ev, Method, Role, Status
from kit.results import PlatformInfo, ProcRecord, RunResult
from kit.runner import example_subject

PITFALL_NAMES = [n for n, e in EXAMPLES.items() if PITFALLS in e.tags]
WARNED = sys.version_info >= (3, 12)

#: What each pitfall's passing reason must say it reproduced (any documented variant of it).
REPRODUCED: dict[str, dict[str, str]] = {
    "kill_parent": {
        "fork": r"^main process exited -9; 2 orphan\(s\) after the main process died: daemon \d+, child \d+$",
        "spawn": r"^main process exited -9; 3 orphan\(s\) after the main process died: "
                 r"resource_tracker \d+, daemon \d+, child \d+$",
        "forkserver": r"^main process exited -9; 4 orphan\(s\) after the main process died: "
                      r"resource_tracker \d+, forkserver \d+, daemon \d+, child \d+$",
    },
    "kill_parent_safe": {
        "fork": r"^main process exited -9; 2 'protected' event\(s\); protected: how='(pdeathsig|watchdog)'$",
        "spawn": r"^main process exited -9; 2 'protected' event\(s\); protected: how='(pdeathsig|watchdog)'$",
        "forkserver": r"^main process exited -9; 2 'protected' event\(s\); protected: how='watchdog'$",
    },
    "lambda_target": {
        "fork": r"^stdout has '我是一个 lambda 进程'; child_exitcode: exitcode=0$",
        "spawn": r"^start_failed: PicklingError: .*[Cc]an't pickle .*lambda",
        "forkserver": r"^start_failed: PicklingError: .*[Cc]an't pickle .*lambda",
    },
    "global_state": {"fork": r"^child_sees: value=100$", "spawn": r"^child_sees: value=0$",
                     "forkserver": r"^child_sees: value=0$"},
    "fork_threads": {
        "fork": ("^threads_at_start: count=2; stderr has 'is multi-threaded, use of fork\\(\\) may lead to deadlocks "
                 "in the child' 1 time\\(s\\); fork while thread 'waiter' ran, started at .*fork_threads.py:\\d+"
                 ) if WARNED else
                ("^threads_at_start: count=2; stderr has no 'is multi-threaded, use of fork.*; fork while thread "
                 "'waiter' ran, started at .*fork_threads.py:\\d+"),
        "spawn": "^threads_at_start: count=2; stderr has no 'is multi-threaded, use of fork.*; no fork while other",
        "forkserver": "^threads_at_start: count=2; stderr has no 'is multi-threaded, use of fork.*; no fork while",
    },
    "daemon_children": {m: r"^grandchild_refused: error='daemonic processes are not allowed to have children'$"
                        for m in ("fork", "spawn", "forkserver")},
    "default_method": {m: r"^script_start: platform_default='(fork|forkserver|spawn)'; "
                          r"start_methods: available=\[.*'spawn'\]$" for m in ("fork", "spawn", "forkserver")},
    "unpicklable_result": {m: r"^result_error: MaybeEncodingError: Error sending result: .*cannot pickle "
                              r"'_thread\.lock' object.*; pool_after: value=\[0, 1, 4, 9\]$"
                           for m in ("fork", "spawn", "forkserver")},
    "queue_qsize": {m: r"^qsize: (value=1|error='NotImplementedError')$" for m in ("fork", "spawn", "forkserver")},
    "preload_main": {
        "fork": r"^the top level ran in 1 process\(es\): main$",
        "spawn": r"^the top level ran in 3 process\(es\): main, Process-1, Process-2$",
        "forkserver": r"^the top level ran in (3 process\(es\): main, Process-1, Process-2|"
                      r"2 process\(es\): main, the forkserver)$",
    },
    "fork_buffered_output": {m: r"^stdout has 'Process.start\(\) 之前的一行' 1 time\(s\); "
                                r"stdout has '裸 fork\(\) 之前的一行' 2 time\(s\); raw_fork: available=True$"
                             for m in ("fork", "spawn", "forkserver")},
    "long_tmpdir": {
        "fork": r"^child_exitcode: exitcode=0$",
        "spawn": r"^child_exitcode: exitcode=0$",
        "forkserver": r"^(start_failed: OSError: AF_UNIX path too long|child_exitcode: exitcode=0)$",
    },
    "copy_on_write": {
        "fork": (r"^2 'buffer_read' event\(s\); buffer_read: private \d+ MiB = 0\.\d\d of the 64 MiB data; "
                 r"memory peak \d+ MiB \((cgroup|container|sampled)\) = 1\.\d copies of the 64 MiB data; objects_read: "
                 r"copied \d+ MiB = 0\.\d\d of the \d+ MiB objects; objects_collected: copied .*; "
                 r"objects_collected_frozen: copied \d+ MiB = 0\.0\d of the \d+ MiB objects$"),
        **{m: (r"^2 'buffer_read' event\(s\); buffer_read: private \d+ MiB = 1\.\d\d of the 64 MiB data; "
               r"memory peak \d+ MiB \((cgroup|container|sampled)\) = [3-9]\.\d copies of the 64 MiB data$")
           for m in ("spawn", "forkserver")},
    },
}


def test_every_pitfall_has_its_reproduction_written_down() -> None:
    assert sorted(REPRODUCED) == sorted(PITFALL_NAMES)
    assert len(PITFALL_NAMES) == 13


@pytest.mark.parametrize("name", PITFALL_NAMES)
def test_pitfall_is_reproduced(name: str, method: str) -> None:
    """The documented behaviour happens here, and the cell's reason says what happened."""
    result = run_bounded(example_subject(name), method, timeout=30)
    if result.status == Status.INCONCLUSIVE:  # a host the table has no row for (Windows: kill_parent)
        assert result.reason.startswith(f"no expectation for {name} on "), explain(result)
        pytest.skip(result.reason)
    assert result.status == "pass", explain(result)
    assert re.search(REPRODUCED[name][method], result.reason), explain(result)


# -- what the runs show beyond the reason --------------------------------------------------------
@pytest.mark.parametrize("method", ["forkserver"], indirect=True)
def test_kill_parent_leaves_the_forkserver_and_names_roles(method: str) -> None:
    """Under forkserver the workers are the forkserver's children: it is left too, and the kit kills all."""
    r = run_bounded(example_subject("kill_parent"), method, timeout=30)
    assert r.status == "pass" and r.exitcode == -9, explain(r)
    roles = sorted(str(o.role) for o in r.orphans)
    assert roles == ["forkserver", "resource_tracker", "worker", "worker"], explain(r)
    assert [v.check for v in r.checks] == ["exit -9", "orphans left: forkserver, resource_tracker"]
    forkserver = next(o.pid for o in r.orphans if o.role == "forkserver")
    workers = [p for p in r.processes if p.role == "worker"]
    assert {p.ppid for p in workers} == {forkserver}, explain(r)


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_fork_buffered_output_writes_the_raw_fork_line_twice(method: str) -> None:
    r = run_bounded(example_subject("fork_buffered_output"), method)
    assert r.status == "pass", explain(r)
    assert r.stdout.count("裸 fork() 之前的一行") == 2 and r.stdout.count("Process.start() 之前的一行") == 1


def test_default_method_records_the_shipped_default_not_the_cells(method: str) -> None:
    """The launcher makes the cell's method the default; the script_start event keeps Python's own."""
    r = run_bounded(example_subject("default_method"), method)
    assert r.status == "pass", explain(r)
    assert f"本次运行使用: {method}" in r.stdout
    assert r.platform is not None and f"platform_default='{r.platform.default_method}'" in r.reason


# -- the expectation tables -----------------------------------------------------------------------
def evidence(**kw: Any) -> c.Evidence:
    base: dict[str, Any] = dict(method="fork", events=[], stdout="", stderr="", exitcode=0, main_pid=1000,
                                cores_used=0.0, cpu_count=2, cpus_seen=[], cpu_num_known=False)
    base.update(kw)
    return c.Evidence(**base)


@pytest.mark.parametrize("version, spec, want", [
    ("3.11.7", "", True), ("3.11.7", "<3.12", True), ("3.12.0", "<3.12", False), ("3.12.0", ">=3.12", True),
    ("3.13.5", ">=3.13.8,<3.14", False), ("3.13.8", ">=3.13.8,<3.14", True), ("3.14.0", ">=3.13.8,<3.14", False),
    ("3.14.0", ">=3.14.1", False), ("3.14.8", ">=3.14.1", True), ("3.15.0a1", ">=3.14.1", True),
    ((3, 14), ">=3.14", True), ("3.14.1", "==3.14.1", True), ("3.14.1", "!=3.14.1", False),
])
def test_python_ranges(version: str, spec: str, want: bool) -> None:
    assert python_matches(spec, version) is want


def test_malformed_versions_and_ranges_fail_loudly() -> None:
    with pytest.raises(ValueError):
        version_tuple("three")
    with pytest.raises(ValueError):
        python_matches("~3.12", "3.12")
    with pytest.raises(ValueError):
        Expect(ANY, ">= three", ANY, ())


TABLE = Example("t", "a table", (c.event_count("base", 1),), tags=(PITFALLS,), table=(
    Expect(("fork",), ">=3.12", (LINUX,), (c.output_has("new"),)),
    Expect(("fork",), "", (LINUX,), (c.output_has("old"),)),
    Expect(("spawn",), "", ANY, (c.output_has("spawned"),)),
))


@pytest.mark.parametrize("os_, python, method, checks", [
    ("Linux", "3.14.0", "fork", ["1x base", "stdout has 'new'"]),
    ("Linux", "3.11.7", "fork", ["1x base", "stdout has 'old'"]),  # the first row that matches wins
    ("Windows", "3.11.7", "spawn", ["1x base", "stdout has 'spawned'"]),
])
def test_the_first_matching_row_gives_the_checks(os_: str, python: str, method: str, checks: list[str]) -> None:
    assert [k.name for k in TABLE.checks_for(method, os_, python)] == checks


@pytest.mark.parametrize("os_, python, method", [("Darwin", "3.13.0", "fork"), ("Linux", "3.13.0", "forkserver")])
def test_no_row_is_no_expectation(os_: str, python: str, method: str) -> None:
    """An (OS, Python, method) the table does not cover gets one undecided check saying so."""
    (only,) = TABLE.checks_for(method, os_, python)
    v = only(evidence())
    assert v.undecided and v.reason == f"no expectation for t on {os_}, Python {python}, {method}"


def test_an_example_without_a_table_keeps_its_checks_everywhere() -> None:
    guard = EXAMPLES["guard"]
    assert [k.name for k in guard.checks_for("spawn", "Plan9", "9.9")] == [k.name for k in guard.checks_for("spawn")]


def test_the_pitfall_tables_cover_the_pythons_of_the_containers_on_linux() -> None:
    """Every pitfall has a row for Linux x every container Python x every method."""
    for name in PITFALL_NAMES:
        for python in ("3.11.2", "3.13.5", "3.14.3", "3.15.0"):
            for method in ("fork", "spawn", "forkserver"):
                assert EXAMPLES[name].row_for("Linux", python, method) is not None, (name, python, method)


def test_windows_rows_exist_only_where_documented() -> None:
    """No guess: kill_parent on Windows has no row (inconclusive); default_method does (spawn only)."""
    assert EXAMPLES["kill_parent"].row_for("Windows", "3.13.0", "spawn") is None
    assert EXAMPLES["default_method"].row_for("Windows", "3.13.0", "spawn") is not None


# -- judging: inconclusive, and generic checks an example replaces --------------------------------------
START = Event(1, 1000, Ev.SCRIPT_START, {"method": "fork", "main": 1000})
HERE = PlatformInfo("Linux", "3.11.7", "CPython", "fork", ["fork", "spawn", "forkserver"], 2, "x86_64")


def observation(**overrides: Any) -> Observation:
    fields: dict[str, Any] = dict(subject="t", method="fork", scale=0.1, platform=HERE, main_pid=1000,
                                  end=End.EXITED, exitcode=0, wall_s=1.0, cpu_s=0.1, peak_processes=2,
                                  timeout_s=60.0, events=(START,))
    fields.update(overrides)
    return Observation(**fields)


def test_a_cell_without_expectation_is_inconclusive_even_with_an_orphan() -> None:
    """No row, no guess: inconclusive with the reason, whatever else the run did."""
    orphan = ProcRecord(1001, 1000, "python3", ["python3"], 0.0, Role.WORKER, 0.0, 1.0, None, 0.0)
    checks = TABLE.checks_for("fork", "Darwin", "3.13.0")
    r = judge(observation(exitcode=1, processes=(orphan,), orphans=frozenset({1001})), checks)
    assert r.status is Status.INCONCLUSIVE and Status(r.status).ok
    assert r.reason == "no expectation for t on Darwin, Python 3.13.0, fork"


def test_an_example_can_replace_the_generic_checks() -> None:
    """exits_with(-9) replaces exit 0, orphans_left() replaces no orphans; others keep both."""
    assert [k.name for k in c.generic_checks([])] == list(GENERIC_CHECKS)
    assert [k.name for k in c.generic_checks([c.exits_with(-9)])] == ["no orphans"]
    assert [k.name for k in c.generic_checks([c.orphans_left(), c.exits_with(-9)])] == []
    started = Event(5, 1000, Ev.PROCESS_STARTED, {"child": 1001, "daemon": True})
    orphan = ProcRecord(1001, 1, "python3", ["python3"], 0.0, Role.WORKER, 0.0, 1.0, None, 0.0)
    obs = observation(exitcode=-9, events=(START, started), processes=(orphan,), orphans=frozenset({1001}))
    r = judge(obs, [c.exits_with(-9), c.orphans_left()])
    assert r.status is Status.PASS, r.reason
    assert [v.check for v in r.checks] == ["exit -9", "orphans left"]
    plain = judge(obs, [])
    assert plain.status is Status.FAIL and set(plain.reason.split("; ")) >= {"main process exited -9, expected 0"}


# -- tags and selection --------------------------------------------------------------------------
def test_tags_split_the_article_from_the_pitfalls() -> None:
    assert select([ARTICLE]) == ["hello", "join", "daemon", "lock", "semaphore", "event", "queue",
                                 "queue_parent_child", "queue_siblings", "guard", "cpu"]
    assert select([PITFALLS]) == PITFALL_NAMES
    assert select(["all"]) == list(EXAMPLES)
    assert select(["global_state", "hello", "pitfalls"]) == ["hello", *PITFALL_NAMES]  # catalogue order, once
    with pytest.raises(ValueError, match="unknown example 'nope'"):
        select(["nope"])


# -- the report names what differs, from the runs ------------------------------------------------
def result(example: str, python: str, method: str, **kw: Any) -> RunResult:
    info = PlatformInfo("Linux", python, "CPython", "forkserver" if python >= "3.14" else "fork",
                        ["fork", "spawn", "forkserver"], 2, "x86_64", f"docker:{python[:4]}")
    return RunResult(example, Method(method), kw.pop("status", "pass"), "declared reasons are not read", platform=info,
                     **kw)


PYTHONS = ("3.11.2", "3.13.5", "3.14.3", "3.15.0")
WARNING = ("DeprecationWarning: This process (pid=7) is multi-threaded, use of fork() may lead to deadlocks "
           "in the child.")


def test_report_names_the_fork_threads_difference() -> None:
    rs = [result("fork_threads", py, m, stderr=WARNING if m == "fork" and py > "3.12" else "")
          for py in PYTHONS for m in ("fork", "spawn", "forkserver")]
    assert report.observed_differences(report.merge(rs)) == [
        "fork_threads: silent on 3.11 and under spawn/forkserver on 3.13, 3.14, 3.15; "
        "DeprecationWarning (multi-threaded fork) under fork on 3.13, 3.14, 3.15"]
    assert report.observed_differences(report.merge(rs))[0] in report.differences(report.merge(rs))


def test_report_reads_the_runs_not_the_expectations() -> None:
    """preload_main from each run's top-level count; a run that timed out says nothing."""
    runs = {("3.11.2", "forkserver"): 3, ("3.14.3", "forkserver"): 2, ("3.11.2", "spawn"): 3, ("3.14.3", "spawn"): 3}
    rs = [result("preload_main", py, m, top_level_runs=n) for (py, m), n in runs.items()]
    rs.append(result("preload_main", "3.15.0", "forkserver", status="timeout", top_level_runs=0))
    assert report.observed_differences(report.merge(rs)) == [
        "preload_main: top level ran in 3 process(es) on 3.11 and under spawn on 3.14; "
        "top level ran in 2 process(es) under forkserver on 3.14"]


def test_report_is_silent_when_every_run_showed_the_same() -> None:
    rs = [result("global_state", py, "spawn", stdout="子进程看到 counter = 0\n") for py in PYTHONS]
    assert report.observed_differences(report.merge(rs)) == []
    rs.append(result("global_state", "3.11.2", "fork", stdout="子进程看到 counter = 100\n"))
    assert report.observed_differences(report.merge(rs)) == [
        "global_state: the child saw counter=100 under fork on 3.11; the child saw counter=0 under spawn everywhere"]
