"""Unit tests of every check factory in kit.checks, on hand-built evidence.

Fabricated events make each failure certain and each test take microseconds;
tests/test_variants.py shows the same checks catching real broken scripts.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable
from collections.abc import Iterable

import pytest

from kit.outcomes import Role
from kit import checks as c
from kit.events import Event
from kit.results import ProcRecord, ProcRef

MAIN = 1000
CAUGHT: dict[str, list[str]] = {}


def catches(factory: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a test as showing ``factory``'s check catching something broken."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        CAUGHT.setdefault(factory, []).append(fn.__name__)
        return fn

    return deco


def ev(kind: str, ms: float, pid: int = MAIN, **data: Any) -> Event:
    """An event ``ms`` milliseconds into the run."""
    return Event(int(ms * 1_000_000), pid, kind, data)


def evidence(events: Iterable[Event] = (), **kw: Any) -> c.Evidence:
    """Evidence of a clean run, with ``kw`` replacing fields."""
    base: dict[str, Any] = dict(
        method="fork", events=sorted(events, key=lambda e: e.t_ns), stdout="", stderr="", exitcode=0,
        main_pid=MAIN, cores_used=0.0, cpu_count=2, cpus_seen=[], cpu_num_known=False,
    )
    base.update(kw)
    return c.Evidence(**base)


def worker(pid: int, cpus: list[int]) -> ProcRecord:
    return ProcRecord(pid=pid, ppid=MAIN, name="python3", cmdline=["python3"], create_time=0.0, role=Role.WORKER,
                      first_seen_s=0.0, last_seen_s=1.0, gone_s=1.0, cpu_s=1.0, cpus=cpus)


def verdict(check: c.Check, evid: c.Evidence) -> c.Verdict:
    v = check(evid)
    assert v.check == check.name and isinstance(v.reason, str) and v.reason
    return v


# -- generic -------------------------------------------------------------------
@catches("exits_with")
@pytest.mark.parametrize("code, want", [(0, True), (1, False), (-9, False), (None, False)])
def test_exits_with_compares_the_exit_code(code: int | None, want: bool) -> None:
    """A crashed or killed main process must fail, and the reason must show the code."""
    v = verdict(c.exits_with(0), evidence(exitcode=code))
    assert v.ok is want
    if not want:
        assert f"exited {code}" in v.reason and "expected 0" in v.reason


@catches("no_orphans")
def test_no_orphans_names_each_orphan() -> None:
    """An orphan fails the run, and the reason names its pid and command line."""
    orphans = [ProcRef(4242, "sleep", ["sleep", "30"]), ProcRef(4243, "python3", [])]
    v = verdict(c.no_orphans(), evidence(orphans=orphans))
    assert not v.ok
    assert v.reason.startswith("2 process(es) outlived the run")
    assert "4242 sleep 30" in v.reason and "4243 python3" in v.reason  # name when there is no cmdline
    assert verdict(c.no_orphans(), evidence()).ok


@catches("output_has")
def test_output_has_looks_in_the_named_stream_only() -> None:
    """A message on the wrong stream does not count."""
    check = c.output_has("bootstrapping phase", "stderr")
    assert not verdict(check, evidence(stdout="bootstrapping phase")).ok
    assert "stderr lacks" in verdict(check, evidence()).reason
    assert verdict(check, evidence(stderr="...the bootstrapping phase...")).ok
    assert verdict(c.output_has("我是一个进程"), evidence(stdout="我是一个进程\n")).ok


@catches("event_count")
def test_event_count_needs_enough_events() -> None:
    """99 cars passing when 100 must pass is a failure."""
    check = c.event_count("car_passes", 100)
    v = verdict(check, evidence([ev("car_passes", i, i=i) for i in range(99)]))
    assert not v.ok and v.reason == "only 99 'car_passes' event(s), expected 100"
    assert verdict(check, evidence([ev("car_passes", i, i=i) for i in range(100)])).ok


@catches("event_count")
def test_event_count_from_the_announced_number() -> None:
    """The number to reach comes from the script's own 'cars' event; without it, no guess: a failure."""
    check = c.event_count("car_passes", "cars")
    passes = [ev("car_passes", i + 1, i=i) for i in range(20)]
    assert verdict(check, evidence([ev("cars", 0, count=20), *passes])).ok
    v = verdict(check, evidence([ev("cars", 0, count=20), *passes[:10]]))
    assert not v.ok and v.reason == "only 10 'car_passes' event(s), expected 20"
    v = verdict(check, evidence(passes))
    assert not v.ok and v.reason == "no 'cars' event with a count: how many 'car_passes' to expect is unknown"
    assert not verdict(check, evidence([ev("cars", 0, count=0)])).ok


@catches("children_exit_cleanly")
def test_children_exit_cleanly_fails_on_any_child_death() -> None:
    check = c.children_exit_cleanly()
    assert verdict(check, evidence([ev("process_started", 1, child=1001)])).ok
    died = evidence([ev("child_died", 5, pid=1001, error="RuntimeError: An attempt has been made ...")])
    v = verdict(check, died)
    assert not v.ok and "pid 1001" in v.reason and "RuntimeError" in v.reason
    raised = evidence([ev("child_error", 5, pid=1002, name="SpawnPoolWorker-1", error="ValueError: bad init")])
    v = verdict(check, raised)
    assert not v.ok and "SpawnPoolWorker-1" in v.reason


@catches("event_value")
def test_event_value_fails_on_a_wrong_or_missing_value() -> None:
    """The guard's child exit code: missing, wrong and right."""
    check = c.event_value("child_exitcode", "exitcode", 1)
    assert verdict(check, evidence()).reason == "no 'child_exitcode' event"
    v = verdict(check, evidence([ev("child_exitcode", 1, exitcode=0)]))
    assert not v.ok and "exitcode=0, expected 1" in v.reason
    assert verdict(check, evidence([ev("child_exitcode", 1, exitcode=1)])).ok


def test_event_value_requires_every_event_to_match() -> None:
    """One matching event does not hide a second, wrong one."""
    check = c.event_value("child_exitcode", "exitcode", 1)
    assert not verdict(check, evidence([ev("child_exitcode", 1, exitcode=1), ev("child_exitcode", 2, exitcode=0)])).ok


def test_event_value_reason_names_the_mismatching_value() -> None:
    """The reason must show the value that broke the expectation, not a good one."""
    check = c.event_value("child_exitcode", "exitcode", 1)
    v = verdict(check, evidence([ev("child_exitcode", 1, exitcode=1), ev("child_exitcode", 2, exitcode=0)]))
    assert "exitcode=0" in v.reason, v.reason


# -- ordering and processes ---------------------------------------------------------
@catches("happens_before")
def test_happens_before_fails_when_the_order_is_reversed() -> None:
    """The parent printing before the child (no join) fails, with the gap in the reason."""
    check = c.happens_before("child_printed", "parent_printed")
    v = verdict(check, evidence([ev("parent_printed", 10), ev("child_printed", 62, pid=2)]))
    assert not v.ok and v.reason == "'parent_printed' came 52 ms before 'child_printed'"
    assert verdict(check, evidence([ev("parent_printed", 10)])).reason == "missing event: child_printed"
    assert verdict(check, evidence([ev("child_printed", 5, pid=2), ev("parent_printed", 10)])).ok


def test_happens_before_compares_the_last_first_with_the_first_second() -> None:
    """Every ``first`` must precede every ``second``: one late ``first`` breaks it."""
    check = c.happens_before("a", "b")
    assert not verdict(check, evidence([ev("a", 1), ev("b", 2), ev("a", 3)])).ok


@catches("lines_in_order")
def test_lines_in_order_reads_stdout_order() -> None:
    """The join example's two lines, swapped, fail; a missing line fails too."""
    check = c.lines_in_order("我是一个name", "我是第一顺序执行者")
    v = verdict(check, evidence(stdout="我是第一顺序执行者\n我是一个name\n"))
    assert not v.ok and v.reason == "'我是第一顺序执行者' printed before '我是一个name'"
    assert verdict(check, evidence(stdout="我是一个name\n")).reason == "stdout lacks '我是第一顺序执行者'"
    assert verdict(check, evidence(stdout="我是一个name\n我是第一顺序执行者\n")).ok


@catches("in_other_processes")
def test_in_other_processes_rejects_one_process_and_the_main_one() -> None:
    """Put and get in one pid fail; with off_main, the main process taking part fails."""
    same = evidence([ev("put", 1, pid=7, value="hello"), ev("got", 2, pid=7, value="hello")])
    assert verdict(c.in_other_processes("put", "got", off_main=False), same).reason == "'put' and 'got' both in pid 7"
    via_main = evidence([ev("put", 1, pid=7), ev("got", 2, pid=MAIN)])
    assert verdict(c.in_other_processes("put", "got", off_main=False), via_main).ok
    v = verdict(c.in_other_processes("put", "got", off_main=True), via_main)
    assert not v.ok and f"the main process {MAIN} took part" in v.reason
    siblings = evidence([ev("put", 1, pid=7), ev("got", 2, pid=8)])
    assert verdict(c.in_other_processes("put", "got", off_main=True), siblings).ok
    assert not verdict(c.in_other_processes("put", "got", off_main=True), evidence([ev("put", 1)])).ok


@catches("same_value")
def test_same_value_compares_what_was_sent_with_what_arrived() -> None:
    """A changed message or nothing arriving fails."""
    check = c.same_value("put", "got")
    v = verdict(check, evidence([ev("put", 1, pid=7, value="hello"), ev("got", 2, value="hallo")]))
    assert not v.ok and v.reason == "sent 'hello' but received 'hallo'"
    assert verdict(check, evidence([ev("put", 1, pid=7, value="hello")])).reason == "no 'got' event: nothing arrived"
    assert verdict(check, evidence([ev("put", 1, pid=7, value="hello"), ev("got", 2, value="hello")])).ok


# -- concurrency ---------------------------------------------------------------------
def sections(spans: list[tuple[float, float]]) -> list[Event]:
    """enter/leave events, one process per (enter_ms, leave_ms) span."""
    out = []
    for i, (a, b) in enumerate(spans):
        out += [ev("enter", a, pid=10 + i, k=i), ev("leave", b, pid=10 + i, k=i)]
    return out


@catches("max_inside")
def test_max_inside_catches_overlapping_critical_sections() -> None:
    """Two processes inside a Lock at once is the failure the lock example exists to catch."""
    check = c.max_inside("enter", "leave", limit=1, processes=3)
    v = verdict(check, evidence(sections([(0, 10), (5, 15), (20, 30)])))
    assert not v.ok and v.reason == "2 processes inside at once, limit 1"
    assert verdict(check, evidence(sections([(0, 10), (10, 20), (20, 30)]))).ok  # touching is not overlapping


def test_max_inside_needs_every_process_and_the_limit_reached() -> None:
    """Too few processes fail too; a Semaphore(4) never holding four is not shown to be at fault
    (slow starts): not a pass, not a failure -- the run is inconclusive."""
    check = c.max_inside("enter", "leave", limit=2, processes=3)
    assert verdict(check, evidence(sections([(0, 10), (5, 15)]))).reason == "2 of 3 processes went through"
    serial = verdict(check, evidence(sections([(0, 10), (10, 20), (20, 30)])))
    assert not serial.ok and serial.unshown and "the limit 2 was never reached" in serial.reason
    assert verdict(check, evidence(sections([(0, 10), (5, 15), (12, 30)]))).ok
    five = c.max_inside("enter", "leave", limit=4, processes=5)
    v = verdict(five, evidence(sections([(0, 50)] * 5)))
    assert v.reason == "5 processes inside at once, limit 4"


def light(events: list[tuple[float, str]]) -> list[Event]:
    return [ev("light", ms, pid=2, state=state) for ms, state in events]


def car(i: int, waits_ms: float, passes_ms: float) -> list[Event]:
    return [ev("car_waits", waits_ms, pid=100 + i, i=i), ev("car_passes", passes_ms, pid=100 + i, i=i)]


@catches("passes_only_on_green")
def test_passes_only_on_green_catches_a_car_on_red() -> None:
    """A car that never waits passes at red; the reason names it."""
    lights = light([(0, "red"), (100, "green"), (200, "red"), (300, "green")])
    ok = evidence(lights + car(0, 50, 101) + car(1, 150, 151) + car(2, 250, 301))
    assert verdict(c.passes_only_on_green(), ok).reason == "2 cars waited at red, none passed on red"
    bad = verdict(c.passes_only_on_green(), evidence(lights + car(0, 50, 101) + car(1, 250, 251)))
    assert not bad.ok and bad.reason == "car 1 passed while the light was red"


def test_passes_only_on_green_needs_a_car_that_waited() -> None:
    """If no car ever met a red light, the example showed nothing."""
    lights = light([(0, "red"), (100, "green"), (200, "red")])
    v = verdict(c.passes_only_on_green(), evidence(lights + car(0, 110, 111)))
    assert not v.ok and v.unshown and "no car arrived at a red light" in v.reason  # inconclusive, not failed


# -- psutil evidence ------------------------------------------------------------------
@catches("daemon_terminated")
def test_daemon_terminated_needs_the_daemon_among_the_terminated() -> None:
    """A daemon that outlived main fails; a script without a daemon fails; the right one passes."""
    started = [ev("process_started", 1, child=77, daemon=True, name="Process-1"),
               ev("process_started", 2, child=78, daemon=False, name="Process-2")]
    v = verdict(c.daemon_terminated(), evidence(started))
    assert not v.ok and v.reason == "daemon 77 was not terminated when the main process exited"
    assert verdict(c.daemon_terminated(), evidence(started[1:])).reason == "no daemon process was started"
    wrong = evidence(started, daemons_terminated=[ProcRef(78, "python3", [])])
    assert not verdict(c.daemon_terminated(), wrong).ok
    assert verdict(c.daemon_terminated(), evidence(started, daemons_terminated=[ProcRef(77, "python3", [])])).ok


@catches("uses_cores")
def test_uses_cores_wants_cores_and_cpus() -> None:
    """Sleeping workers use no core; busy workers stuck on one CPU fail where psutil knows the CPU."""
    check = c.uses_cores(0.75)
    workers = [ev("workers", 0, count=2, seconds=1.0)]
    v = verdict(check, evidence(workers, cores_used=0.04, cpu_count=2))
    assert not v.ok and v.reason == "0.04 cores used, expected at least 1.50"
    one_cpu = evidence(workers, cores_used=1.9, cpu_count=2, cpu_num_known=True,
                       processes=[worker(5, [0]), worker(6, [0])])
    assert verdict(check, one_cpu).reason == "workers ran on CPUs [0] only"
    good = evidence(workers, cores_used=1.9, cpu_count=2, cpu_num_known=True,
                    processes=[worker(5, [0, 1]), worker(6, [1])])
    assert verdict(check, good).reason == "1.90 cores used by 2 workers on CPUs [0, 1]"


@catches("uses_cores")
def test_uses_cores_measures_the_burn_itself() -> None:
    """Over the burn, from the workers' own clocks: two workers side by side use 2 cores though
    the whole run (start-up, join) shows less; the same burns one after the other use 1; and
    workers cannot claim more CPU than the run's own total."""
    check = c.uses_cores(0.75)
    workers = ev("workers", 0, count=2, seconds=0.5)
    side_by_side = [workers, ev("burn_start", 100, 5, cpu_s=0.05), ev("burn_start", 110, 6, cpu_s=0.05),
                    ev("burn_end", 600, 5, cpu_s=0.55), ev("burn_end", 615, 6, cpu_s=0.55)]
    v = verdict(check, evidence(side_by_side, cores_used=1.3, cpu_count=2, cpu_s=1.3))
    assert v.ok and v.reason == "1.94 cores used while the workers burned by 2 workers (1.30 over the whole run)"
    one_after_the_other = [workers, ev("burn_start", 100, 5, cpu_s=0.05), ev("burn_end", 600, 5, cpu_s=0.55),
                           ev("burn_start", 600, 6, cpu_s=0.05), ev("burn_end", 1100, 6, cpu_s=0.55)]
    v = verdict(check, evidence(one_after_the_other, cores_used=1.0, cpu_count=2, cpu_s=1.3))
    assert not v.ok and v.reason == "1.00 cores used while the workers burned, expected at least 1.50"
    v = verdict(check, evidence(side_by_side, cores_used=0.5, cpu_count=2, cpu_s=0.5))
    assert not v.ok and v.reason == "the workers report 1.00 CPU s, more than the run's 0.50"


def test_uses_cores_scales_to_the_cpus_there_are() -> None:
    """Eight workers on a two-CPU machine are asked for 1.5 cores, not 6."""
    check = c.uses_cores(0.75)
    assert verdict(check, evidence([ev("workers", 0, count=8)], cores_used=1.6, cpu_count=2)).ok
    assert verdict(check, evidence(cores_used=0.8, cpu_count=1)).ok  # no workers event: cpu_count


# -- every factory is covered -----------------------------------------------------------
def factories() -> list[str]:
    return sorted(
        name for name, fn in inspect.getmembers(c, inspect.isfunction)
        if fn.__module__ == c.__name__ and not name.startswith("_")
        and inspect.signature(fn).return_annotation in (c.Check, "Check")
    )


def test_every_check_factory_has_a_test_that_catches_it() -> None:
    """A new check in kit.checks must come with a test of what it catches."""
    found = factories()
    assert len(found) >= 13, found
    assert set(found) <= set(CAUGHT), f"untested: {sorted(set(found) - set(CAUGHT))}"


# -- the pitfall examples' checks (appended) ------------------------------------------------------
@catches("event_matches")
def test_event_matches_wants_every_value_to_match_the_pattern() -> None:
    """spawn's start() must fail with a PicklingError: another error, or none, is caught."""
    check = c.event_matches("start_failed", "error", r"^PicklingError: .*[Cc]an't pickle")
    assert verdict(check, evidence()).reason == "no 'start_failed' event"
    wrong = verdict(check, evidence([ev("start_failed", 1, error="TypeError: cannot pickle '_thread.lock' object")]))
    assert not wrong.ok and wrong.reason.startswith("start_failed: error=\"TypeError: cannot pickle")
    assert "does not match" in wrong.reason
    right = verdict(check, evidence([ev("start_failed", 1, error="PicklingError: Can't pickle <function <lambda>>")]))
    assert right.ok and right.reason == "start_failed: PicklingError: Can't pickle <function <lambda>>"


@catches("output_count")
def test_output_count_wants_the_exact_number_of_occurrences() -> None:
    """A raw fork's line written once (flushed) or three times fails; 0 means absent."""
    check = c.output_count("before fork", 2)
    v = verdict(check, evidence(stdout="before fork\n"))
    assert not v.ok and v.reason == "stdout has 'before fork' 1 time(s), expected 2"
    assert verdict(check, evidence(stdout="before fork\nbefore fork\n")).ok
    assert not verdict(check, evidence(stdout="before fork\n" * 3)).ok
    quiet = c.output_count("multi-threaded", 0, "stderr")
    assert verdict(quiet, evidence(stdout="multi-threaded")).reason == "stderr has no 'multi-threaded'"
    loud = verdict(quiet, evidence(stderr="DeprecationWarning: ... is multi-threaded, ..."))
    assert not loud.ok and loud.reason == "stderr has 'multi-threaded' 1 time(s), expected 0"


def orphan(pid: int, role: str = "worker") -> ProcRef:
    return ProcRef(pid, "python3", ["python3"], Role(role))


@catches("orphans_left")
def test_orphans_left_needs_every_child_and_each_helper_among_the_orphans() -> None:
    """A killed main process must leave its daemon and its child (and the forkserver) behind."""
    started = [ev("process_started", 1, child=77, daemon=True), ev("process_started", 2, child=78, daemon=False)]
    check = c.orphans_left(Role.FORKSERVER)
    assert check.replaces == "no orphans"
    assert verdict(check, evidence()).reason == "the main process started no child"
    v = verdict(check, evidence(started, orphans=[orphan(77)]))
    assert not v.ok and v.reason == "child 78 did not outlive the main process"
    v = verdict(check, evidence(started, orphans=[orphan(78)]))
    assert v.reason == "daemon 77 did not outlive the main process"
    v = verdict(check, evidence(started, orphans=[orphan(77), orphan(78)]))
    assert not v.ok and v.reason == "no forkserver among the orphans (daemon 77, child 78)"
    good = verdict(check, evidence(started, orphans=[orphan(76, "forkserver"), orphan(77), orphan(78)]))
    assert good.ok and good.reason == "3 orphan(s) after the main process died: forkserver 76, daemon 77, child 78"
    grandchild = [ev("process_started", 3, pid=77, child=90)]  # started by a child: not the main's to leave
    assert verdict(c.orphans_left(), evidence(started + grandchild, orphans=[orphan(77), orphan(78)])).ok


def test_exits_with_replaces_the_generic_exit_check() -> None:
    assert c.exits_with(-9).replaces == "exit 0" and c.no_orphans().replaces == ""
    assert c.exits_with(0).replaces == ""  # the generic check itself: repeating it replaces nothing


@catches("top_level_count")
def test_top_level_count_counts_processes_and_names_them() -> None:
    """Under spawn with two children the top level runs in 3 processes; 2 is caught, and the
    forkserver is named as such (its own name is still MainProcess)."""
    runs = [ev("top_level", 1, process="MainProcess"), ev("top_level", 5, pid=1001, process="Process-1")]
    v = verdict(c.top_level_count(3), evidence(runs))
    assert not v.ok and v.reason == "the top level ran in 2 process(es): main, Process-1; expected 3"
    forkserver = ProcRecord(pid=999, ppid=MAIN, name="python3", cmdline=["python3", "-c", "..."], create_time=0.0,
                            role=Role.FORKSERVER, first_seen_s=0.0, last_seen_s=1.0, gone_s=None, cpu_s=0.0)
    preloaded = [ev("top_level", 1, process="MainProcess"), ev("top_level", 3, pid=999, process="MainProcess")]
    v = verdict(c.top_level_count(2), evidence(preloaded, processes=[forkserver]))
    assert v.ok and v.reason == "the top level ran in 2 process(es): main, the forkserver"
    unknown = verdict(c.top_level_count(2), evidence(preloaded))
    assert unknown.reason == "the top level ran in 2 process(es): main, pid 999"


def test_orphans_are_named_in_the_order_they_started_even_across_the_pid_wrap() -> None:
    """After the pid counter wrapped, the helpers (32766, 32767) are older than the children (300,
    301): named first, as they started.  Sorting by pid (the broken variant) names the children first."""
    pids = [300, 301, 32766, 32767]
    assert sorted(pids, key=lambda p: c.unwrapped(p, pids)) == [32766, 32767, 300, 301]
    assert sorted(pids) != [32766, 32767, 300, 301]
    assert sorted([2547, 2548, 2549], key=lambda p: c.unwrapped(p, [2547, 2548, 2549])) == [2547, 2548, 2549]


# -- threads alive at a fork (kit.probe's fork_with_threads) --------------------------------------
def forked(*names: str, started_at: str = "x.py:3 in <module>") -> Event:
    return ev("fork_with_threads", 5, forking="MainThread", native_beyond=0,
              threads=[{"name": n, "daemon": False, "started_at": started_at} for n in names])


@catches("thread_at_fork")
def test_thread_at_fork_wants_that_thread_and_where_it_started() -> None:
    check = c.thread_at_fork("waiter")
    assert verdict(check, evidence([forked("waiter")])).reason == \
        "fork while thread 'waiter' ran, started at x.py:3 in <module>"
    assert verdict(check, evidence([forked("other")])).reason == \
        "no fork while thread 'waiter' ran (1 fork(s) with threads; threads seen: other)"
    assert not verdict(check, evidence()).ok
    assert verdict(check, evidence([forked("waiter", started_at="")])).reason == \
        "a fork while thread 'waiter' ran, but where it was started is unknown"


@catches("no_fork_with_threads")
def test_no_fork_with_threads_fails_on_any_such_fork() -> None:
    check = c.no_fork_with_threads()
    assert verdict(check, evidence()).ok
    v = verdict(check, evidence([forked("QueueFeederThread")]))
    assert not v.ok and v.reason == "1 fork(s) while other threads ran (QueueFeederThread)"


# -- memory: shares of the data, the run's peak in copies ------------------------------------------
@catches("share_of")
def test_share_of_bounds_each_process_and_says_when_unknown() -> None:
    data = ev("data", 1, size=64 * 2**20)
    shared = c.share_of("buffer_read", "private", of="data", at_most=0.25)
    read = [ev("buffer_read", 2, pid=2, private=2 * 2**20), ev("buffer_read", 3, pid=3, private=40 * 2**20)]
    v = verdict(shared, evidence([data, *read]))
    assert not v.ok and v.reason == "buffer_read: private 40 MiB = 0.62 of the 64 MiB data, expected at most 0.25"
    assert verdict(shared, evidence([data, read[0]])).ok
    unknown = verdict(shared, evidence([data, ev("buffer_read", 2, pid=2, private=None)]))
    assert unknown.unshown and "does not say" in unknown.reason
    assert not verdict(shared, evidence([*read])).ok  # no data size: nothing to compare with
    copied = c.share_of("buffer_read", "private", of="data", at_least=0.9)
    assert verdict(copied, evidence([data, ev("buffer_read", 2, private=70 * 2**20)])).ok
    assert not verdict(copied, evidence([data, *read])).ok  # the smallest is judged


@catches("run_memory")
def test_run_memory_counts_copies_of_the_data() -> None:
    data = ev("data", 1, size=64 * 2**20)
    one = c.run_memory(of="data", at_most=1.6)
    assert verdict(one, evidence([data], memory_peak_bytes=80 * 2**20, memory_source="cgroup")).reason == \
        "memory peak 80 MiB (cgroup) = 1.2 copies of the 64 MiB data"
    v = verdict(one, evidence([data], memory_peak_bytes=200 * 2**20, memory_source="cgroup"))
    assert not v.ok and v.reason.endswith("= 3.1 copies of the 64 MiB data, expected at most 1.6")
    assert verdict(one, evidence([data])).unshown  # the peak is unknown here
    assert not verdict(c.run_memory(of="data", at_least=2.5), evidence([data], memory_peak_bytes=80 * 2**20)).ok
