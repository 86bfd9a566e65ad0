"""Broken variants of the examples, run for real: each must fail the right check, for the right reason.

The scripts live in tests/variants and are run with ``script_subject(path,
like=EXAMPLE)``, so the example's own checks judge them.  Each runs under the
start method(s) where its failure is certain, with a ``scale`` that makes it so.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

import psutil
import pytest
from support import POSIX, carries_marker, explain, is_alive, run_bounded, variant

from kit.examples import path_of
from kit.results import RunResult
from kit.runner import example_subject, script_subject

CAUGHT: dict[str, list[str]] = {}


def catches(*factories: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a test as showing these check factories catching a real broken script."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        for f in factories:
            CAUGHT.setdefault(f, []).append(fn.__name__)
        return fn

    return deco


def failed(result: RunResult) -> dict[str, str]:
    """The failing checks of a result: name -> reason."""
    return {v.check: v.reason for v in result.checks if not v.ok}


def by_method(*methods: str) -> pytest.MarkDecorator:
    """Run a test only under these start methods (each still skipped where missing)."""
    return pytest.mark.parametrize("method", methods, indirect=True)


def generated(tmp_path: Path, example: str, old: str, new: str) -> str:
    """A variant written from the example's own source with one change (fails loudly if it no longer applies)."""
    source = path_of(example).read_text("utf-8")
    assert source.count(old) == 1, f"{old!r} is no longer in {example}.py: update this variant"
    path = tmp_path / f"{example}_variant.py"
    path.write_text(source.replace(old, new), "utf-8")
    return str(path)


# -- concurrency ----------------------------------------------------------------------
@catches("max_inside")
def test_lock_not_acquired_lets_everyone_in(method: str) -> None:
    """A Lock nobody acquires must show up as overlapping critical sections under every method."""
    r = run_bounded(script_subject(variant("lock_not_locking"), like="lock"), method, scale=1.0)
    assert r.status == "fail", explain(r)
    assert set(failed(r)) == {"at most 1 inside"}, explain(r)
    assert re.fullmatch(r"\d+ processes inside at once, limit 1", r.reason), explain(r)


@catches("max_inside")
@by_method("fork")
def test_semaphore_of_five_exceeds_the_limit_of_four(method: str) -> None:
    """Semaphore(5) lets a fifth process in: the semaphore check must say 5 inside, limit 4."""
    r = run_bounded(script_subject(variant("semaphore_five"), like="semaphore"), method, scale=0.2)
    assert r.status == "fail", explain(r)
    assert failed(r) == {"at most 4 inside": "5 processes inside at once, limit 4"}, explain(r)


@catches("passes_only_on_green")
@by_method("fork")
def test_cars_that_ignore_the_light_pass_on_red(method: str) -> None:
    """Cars that never wait for the Event drive through red: the event check must name one."""
    r = run_bounded(script_subject(variant("cars_ignore_light"), like="event"), method, scale=0.05)
    assert r.status == "fail", explain(r)
    assert set(failed(r)) == {"cars pass only on green"}, explain(r)
    assert re.fullmatch(r"car \d+ passed while the light was red", r.reason), explain(r)


@catches("event_count")
@by_method("fork")
def test_half_the_cars_is_not_enough(method: str, tmp_path: Path) -> None:
    """Every other car of the event example never passes: the count check must notice (the
    cars that do pass still show the light, so that check keeps passing)."""
    script = generated(tmp_path, "event", 'record("car_passes", i=i)', 'record("car_passes", i=i) if i % 2 else None')
    r = run_bounded(script_subject(script, like="event"), method, scale=0.1)  # 20 cars at this scale
    assert r.status == "fail", explain(r)
    assert failed(r) == {"car_passes = cars count": "only 10 'car_passes' event(s), expected 20"}, explain(r)


# -- ordering and processes -------------------------------------------------------------
@catches("happens_before", "lines_in_order")
@by_method("spawn", "forkserver")  # under fork the child may win the race even without join
def test_join_missing_lets_the_parent_print_first(method: str) -> None:
    """Without join() the parent's line comes first: both the event order and stdout order fail."""
    r = run_bounded(script_subject(variant("join_missing"), like="join"), method)
    assert r.status == "fail", explain(r)
    bad = failed(r)
    assert set(bad) == {"child_printed before parent_printed", "'我是一个name' before '我是第一顺序执行者'"}, explain(r)
    order = bad["child_printed before parent_printed"]
    assert re.fullmatch(r"'parent_printed' came \d+ ms before 'child_printed'", order), order
    assert r.stdout.index("我是第一顺序执行者") < r.stdout.index("我是一个name")


@catches("in_other_processes")
def test_main_process_as_consumer_is_not_two_siblings(method: str) -> None:
    """When main gets the message itself, the siblings example must fail naming the main process."""
    r = run_bounded(script_subject(variant("queue_siblings_via_main"), like="queue_siblings"), method)
    assert r.status == "fail", explain(r)
    main = next(p.pid for p in r.processes if p.role == "main")
    reason = f"the main process {main} took part; expected two siblings"
    assert failed(r) == {"put/got across processes": reason}, explain(r)


@catches("same_value", "output_has")
@by_method("fork")
def test_a_typo_in_the_message_is_caught(method: str, tmp_path: Path) -> None:
    """The child records 'hello' but sends 'hallo': sent and received differ, stdout lacks hello."""
    script = generated(tmp_path, "queue_parent_child", "q.put('hello')", "q.put('hallo')")
    r = run_bounded(script_subject(script, like="queue_parent_child"), method)
    assert r.status == "fail", explain(r)
    assert failed(r) == {
        "got value": "sent 'hello' but received 'hallo'",
        "stdout has 'hello'": "stdout lacks 'hello'",
    }, explain(r)


@catches("output_has", "event_value")
@by_method("spawn", "forkserver")
def test_a_guarded_script_does_not_show_the_bootstrapping_error(method: str) -> None:
    """With the __main__ guard, spawn children run fine: the guard example's expectations must fail."""
    r = run_bounded(script_subject(variant("guarded"), like="guard"), method)
    assert r.status == "fail", explain(r)
    assert failed(r) == {
        "stderr has 'bootstrapping phase'": "stderr lacks 'bootstrapping phase'",
        "child_exitcode exitcode=1": "child_exitcode: exitcode=0, expected 1",
    }, explain(r)
    assert "我是一个进程" in r.stdout


@by_method("fork")
def test_the_unguarded_example_works_under_fork(method: str) -> None:
    """Under fork the child never re-imports the module: the guard example prints the child's message."""
    r = run_bounded(example_subject("guard"), method)
    assert r.status == "pass", explain(r)
    assert "我是一个进程" in r.stdout and "子进程退出码 0" in r.stdout, explain(r)
    assert "bootstrapping phase" not in r.stderr


# -- exit codes, daemons, orphans, hangs ---------------------------------------------------
@catches("exits_with")
@pytest.mark.skipif(not POSIX, reason="SIGKILL is POSIX")
@by_method("fork")
def test_a_main_process_killed_by_sigkill_fails_with_its_exit_code(method: str) -> None:
    """A main process that dies by SIGKILL must fail with exit code -9 in the reason."""
    r = run_bounded(script_subject(variant("killed")), method)
    assert r.status == "fail", explain(r)
    assert r.exitcode == -9
    assert failed(r) == {"exit 0": "main process exited -9, expected 0"}, explain(r)
    assert "-9" in r.reason and "goodbye" in r.stdout


@catches("daemon_terminated", "no_orphans")
def test_a_daemon_left_alive_by_os_exit_is_an_orphan(method: str) -> None:
    """os._exit skips the handler that terminates daemons: the daemon check fails, the daemon is an
    orphan, and the kit kills it."""
    r = run_bounded(script_subject(variant("daemon_left_alive"), like="daemon"), method, grace=0.5)
    assert r.status == "fail", explain(r)
    printed = re.search(r"daemon pid (\d+)", r.stdout)
    assert printed, explain(r)
    daemon = int(printed.group(1))
    record = next(p for p in r.processes if p.pid == daemon)
    assert not is_alive(daemon, record.create_time), "the daemon survived run()"
    assert record.role == "worker"
    assert r.daemons_terminated == []
    bad = failed(r)
    assert bad["daemon terminated at exit"] == f"daemon {daemon} was not terminated when the main process exited"
    assert daemon in {o.pid for o in r.orphans}, explain(r)
    assert "no orphans" in bad and str(daemon) in bad["no orphans"]


@catches("children_exit_cleanly")
def test_a_child_that_raises_fails_the_script_although_main_exits_0(method: str) -> None:
    """A script's parent carries on when its child dies: the run still fails, and says which child and why."""
    r = run_bounded(script_subject(variant("child_raises")), method)
    assert r.status == "fail" and r.exitcode == 0, explain(r)
    assert "ValueError: the child failed" in failed(r)["children exit cleanly"], explain(r)
    assert [d.code for d in r.diagnoses] == ["worker_died"], r.diagnoses


@catches("no_orphans")
@pytest.mark.skipif(not POSIX, reason="uses the sleep command and start_new_session")
@by_method("fork")
def test_a_detached_grandchild_is_reported_and_killed(method: str) -> None:
    """A `sleep 30` in its own session outlives main: reported as orphan, killed, and run() still quick."""
    t0 = time.monotonic()
    r = run_bounded(script_subject(variant("orphan_grandchild")), method)
    took = time.monotonic() - t0
    assert took < 6, f"run() took {took:.1f} s"
    assert r.status == "fail", explain(r)
    sleeps = [o for o in r.orphans if o.cmdline == ["sleep", "30"]]
    assert len(sleeps) == 1, explain(r)
    assert f"sleep pid {sleeps[0].pid}" in r.stdout
    assert set(failed(r)) == {"no orphans"} and "sleep 30" in r.reason, explain(r)
    record = next(p for p in r.processes if p.pid == sleeps[0].pid)
    assert not is_alive(record.pid, record.create_time)
    left = [p.pid for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "30"]
            and carries_marker(p)]
    assert left == [], f"sleep 30 still running: {left}"


def test_a_pool_that_never_finishes_times_out_cleanly(method: str) -> None:
    """A Pool waiting an hour: status timeout soon after the timeout, and the whole tree killed."""
    t0 = time.monotonic()
    r = run_bounded(script_subject(variant("hang_pool")), method, timeout=3)
    took = time.monotonic() - t0
    assert r.status == "timeout", explain(r)
    assert took < 3 + 2, f"run() took {took:.1f} s for a 3 s timeout"
    assert r.reason.startswith("still running after 3 s: killed"), r.reason
    assert r.exitcode is None
    assert r.peak_processes >= 3  # main and the pool's two workers at least
    still = [p.pid for p in r.processes if is_alive(p.pid, p.create_time)]
    assert still == [], f"alive after run(): {still}"


@catches("uses_cores")
@by_method("fork")
def test_sleeping_workers_use_no_cores(method: str) -> None:
    """Workers that sleep instead of computing: the cpu example's parallelism check must fail."""
    r = run_bounded(script_subject(variant("cpu_sleepers"), like="cpu"), method, scale=0.05)
    assert r.status == "fail", explain(r)
    assert set(failed(r)) == {"real parallelism"}, explain(r)
    assert re.fullmatch(r"\d+\.\d\d cores used while the workers burned, expected at least \d+\.\d\d", r.reason), \
        explain(r)
    assert r.cores_used < 0.5


@catches("thread_at_fork")
@by_method("fork")
def test_a_thread_started_after_the_fork_is_not_named(method: str, tmp_path: Path) -> None:
    """The thread starts after the child: no fork with it running, and the check says so."""
    script = generated(tmp_path, "fork_threads", "    t.start()\n", "")
    script_path = Path(script)
    script_path.write_text(script_path.read_text("utf-8").replace("    p.join()\n", "    t.start()\n    p.join()\n", 1),
                           "utf-8")
    r = run_bounded(script_subject(script, like="fork_threads"), method)
    assert r.status == "fail", explain(r)
    assert failed(r)["fork with thread 'waiter'"] == ("no fork while thread 'waiter' ran (0 fork(s) with threads; "
                                                      "threads seen: none)"), explain(r)
    assert set(failed(r)) == {"fork with thread 'waiter'", "threads_at_start count=2"}, explain(r)  # 1 thread then


@catches("no_fork_with_threads")
@by_method("spawn")
def test_a_fork_context_under_spawn_is_caught(method: str, tmp_path: Path) -> None:
    """The script picks the fork context itself: under the spawn cell it still forks with the thread."""
    script = generated(tmp_path, "fork_threads", "from multiprocessing import Process",
                       "from multiprocessing import get_context\nProcess = get_context('fork').Process")
    r = run_bounded(script_subject(script, like="fork_threads"), method)
    assert r.status == "fail", explain(r)
    assert failed(r)["no fork with threads"] == "1 fork(s) while other threads ran (waiter)", explain(r)


def copy_on_write_caught(r: RunResult, share: str, copies: str, bound: tuple[str, str]) -> None:
    """Both memory checks of copy_on_write failed, with these figures (regular expressions)."""
    assert r.status == "fail", explain(r)
    bad = failed(r)
    assert re.fullmatch(rf"buffer_read: private \d+ MiB = {share} of the 64 MiB data, expected {bound[0]}",
                        bad["buffer_read private share"]), explain(r)
    assert re.fullmatch(rf"memory peak \d+ MiB \((cgroup|container|sampled)\) = {copies} copies of the 64 MiB "
                        rf"data, expected {bound[1]}", bad["run memory in copies"]), explain(r)


@catches("share_of", "run_memory")
@by_method("fork")
def test_a_worker_that_copies_the_buffer_is_caught(method: str, tmp_path: Path) -> None:
    """Under fork a worker that copies the parent's buffer owns its pages: its private memory and
    the run's peak both say so."""
    script = generated(tmp_path, "copy_on_write", 'total = data.count(b"\\x01")',
                       'mine = bytearray(data)  # the copy a careless worker makes, held\n'
                       '    total = mine.count(b"\\x01")')
    r = run_bounded(script_subject(script, like="copy_on_write"), method)
    copy_on_write_caught(r, r"1\.\d\d", r"[2-9]\.\d", ("at most 0\\.25", "at most 1\\.6"))


@catches("share_of", "run_memory")
@by_method("spawn")
def test_workers_that_get_no_copy_are_caught(method: str, tmp_path: Path) -> None:
    """Under spawn, workers that are sent a small buffer instead of the data hold no copy: both checks fail."""
    script = generated(tmp_path, "copy_on_write", "args=(data, ready)", "args=(bytes(1024), ready)")
    r = run_bounded(script_subject(script, like="copy_on_write"), method)
    copy_on_write_caught(r, r"0\.\d\d", r"1\.\d", ("at least 0\\.9", "at least 2\\.5"))


def test_every_check_factory_catches_a_real_broken_script() -> None:
    """Each check of kit.checks has a broken script it demonstrably catches."""
    from test_checks import factories

    assert set(factories()) <= set(CAUGHT), f"no variant for: {sorted(set(factories()) - set(CAUGHT))}"


def test_variants_keep_the_main_guard() -> None:
    """Variants must be safe to spawn: each one guards its main code (none is about the guard)."""
    folder = Path(variant("killed")).parent
    for script in sorted(folder.glob("*.py")):
        assert "if __name__ == '__main__':" in script.read_text("utf-8"), script.name


# -- the pitfall examples' checks (appended) ---------------------------------------------------------
@catches("orphans_left")
@pytest.mark.skipif(not POSIX, reason="kill_parent's expectations cover POSIX only")
@by_method("fork", "forkserver")
def test_children_terminated_before_the_kill_leave_no_orphan_to_show(method: str) -> None:
    """kill_parent must show orphans: a main process that cleans up first fails, naming the daemon."""
    r = run_bounded(script_subject(variant("kill_parent_cleaned_up"), like="kill_parent"), method, timeout=30)
    assert r.status == "fail" and r.exitcode == -9, explain(r)
    printed = re.search(r"children (\d+) (\d+) terminated", r.stdout)
    assert printed, explain(r)
    bad = failed(r)
    check = "orphans left" if method == "fork" else "orphans left: forkserver, resource_tracker"
    assert bad == {check: f"daemon {printed.group(1)} did not outlive the main process"}, explain(r)
    assert "exit 0" not in {v.check for v in r.checks}  # exit -9 is expected, and said so
    assert not any(o.role == "worker" for o in r.orphans), explain(r)


@catches("event_matches")
@by_method("spawn", "forkserver")
def test_a_lock_argument_fails_start_with_another_error_than_a_lambda(method: str) -> None:
    """lambda_target expects the PicklingError of a lambda; a lock argument's TypeError is caught."""
    r = run_bounded(script_subject(variant("lambda_lock_argument"), like="lambda_target"), method)
    assert r.status == "fail" and r.exitcode == 0, explain(r)
    (reason,) = failed(r).values()
    assert reason.startswith("start_failed: error=\"TypeError: cannot pickle '_thread.lock' object\""), reason
    assert reason.endswith("does not match \"^PicklingError: .*[Cc]an't pickle\""), reason


@catches("output_count")
@pytest.mark.skipif(not POSIX, reason="a raw os.fork is POSIX-only")
@by_method("fork")
def test_a_flushed_line_is_not_duplicated_by_a_raw_fork(method: str) -> None:
    """fork_buffered_output expects the unflushed line twice: flushing it first is caught."""
    r = run_bounded(script_subject(variant("fork_flushed"), like="fork_buffered_output"), method)
    assert r.status == "fail", explain(r)
    line = "'裸 fork() 之前的一行'"
    assert failed(r) == {f"stdout has {line} 2x": f"stdout has {line} 1 time(s), expected 2"}, explain(r)


@catches("top_level_count")
@by_method("spawn")
def test_one_child_runs_the_top_level_in_two_processes_not_three(method: str) -> None:
    """preload_main under spawn expects main and two children: one child is caught, by name."""
    r = run_bounded(script_subject(variant("preload_one_child"), like="preload_main"), method)
    assert r.status == "fail", explain(r)
    assert failed(r) == {"top level runs 3x": "the top level ran in 2 process(es): main, Process-1; expected 3"}
