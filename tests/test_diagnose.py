"""Diagnoses: what went wrong in a run and what to change.

(a) each diagnosis code on hand-made observations: it fires on the broken shape and stays
    silent on the correct one;
(b) ``compare()`` and ``summary_line()`` on hand-made results;
(c) end to end: small real scripts under each start method, judged as the kit judges them.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import re
import threading
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support import METHODS, explain, run_bounded

from kit import _platform, diagnose, render
from kit.catalogue import script_subject
from kit.diagnose import BOOTSTRAP, Diagnosis, compare, summary_line
from kit.events import Event
from kit.judge import judge
from kit.observation import End, Observation, Output
from kit.outcomes import Code, Ev, Method, Role, Status
from kit.results import PlatformInfo, ProcRecord, RunResult
from kit.source import SourceFacts, analyse

MAIN = 1000
PLATFORM = PlatformInfo(os="Linux", python="3.11.7", implementation="CPython", default_method="fork",
                        methods=["fork", "spawn", "forkserver"], cpu_count=2, machine="x86_64")
BOOTSTRAP_ERROR = (f"RuntimeError: An attempt has been made to start a new process {BOOTSTRAP}. "
                   "This probably means that you are not using fork to start your child processes")


# -- hand-made evidence -------------------------------------------------------------------------
def ev(kind: str, ms: float, pid: int = MAIN, **data: Any) -> Event:
    """An event ``ms`` milliseconds into the run."""
    return Event(int(ms * 1_000_000), pid, kind, data)


def proc(pid: int, *, role: str = "worker", ppid: int = MAIN) -> ProcRecord:
    return ProcRecord(pid=pid, ppid=ppid, name="python3", cmdline=["python3"], create_time=0.0, role=Role(role),
                      first_seen_s=0.0, last_seen_s=0.5, gone_s=0.5, cpu_s=0.1)


def started(ms: float, child: int, name: str, method: str = "spawn", pid: int = MAIN) -> Event:
    return ev(Ev.PROCESS_STARTED, ms, pid=pid, child=child, daemon=False, name=name, method=method)


def text(stream: str) -> Output:
    return Output(stream, len(stream.encode()))


def observation(*events: Event, **overrides: Any) -> Observation:
    """A clean run (started, done, exit 0) with ``events`` between; ``overrides`` replace fields."""
    fields: dict[str, Any] = dict(
        subject="script.py", method="spawn", scale=0.1, platform=PLATFORM, main_pid=MAIN, end=End.EXITED,
        exitcode=0, wall_s=1.0, cpu_s=0.5, peak_processes=2, timeout_s=60.0,
        events=(ev(Ev.SCRIPT_START, 1, method="spawn", main=MAIN), *events, ev(Ev.SCRIPT_DONE, 900, alive=[])),
        processes=(proc(MAIN, role="main", ppid=1),),
    )
    fields.update(overrides)
    return Observation(**fields)


def found(obs: Observation, facts: SourceFacts | None = None) -> dict[str, Diagnosis]:
    """The diagnoses of one run, by code (each code at most once)."""
    out = diagnose.diagnose(obs, facts)
    assert len({d.code for d in out}) == len(out), out
    assert all(d.message and d.fix for d in out), out
    return {d.code.value: d for d in out}


def test_a_clean_run_gets_no_diagnosis() -> None:
    clean = observation(started(10, 2001, "Process-1"), ev(Ev.TOP_LEVEL, 5, run_name="__main__"),
                        stderr=text("/x.py:1: UserWarning: harmless\n"))
    assert diagnose.diagnose(clean, analyse(INERT)) == []
    assert judge(clean, [], analyse(INERT)).diagnoses == []


# -- missing_guard ----------------------------------------------------------------------------------
def test_missing_guard_from_a_child_that_died_bootstrapping() -> None:
    obs = observation(started(10, 2001, "Process-1"), ev(Ev.CHILD_DIED, 50, pid=2001, error=BOOTSTRAP_ERROR))
    d = found(obs, SourceFacts(guarded=False))
    assert set(d) == {"missing_guard"}  # not also worker_died
    message = d["missing_guard"].message
    assert message.startswith("1 child process(es) under spawn died re-importing the main module: child (pid 2001)")
    assert "The script has no `if __name__ == \"__main__\":` block." in message
    assert "stopped early" not in message
    assert "if __name__ == \"__main__\":" in d["missing_guard"].fix


def test_missing_guard_counts_and_says_stopped_early_in_a_crash_loop() -> None:
    deaths = [ev(Ev.CHILD_DIED, 50 + i, pid=2001 + i, error=BOOTSTRAP_ERROR) for i in range(5)]
    obs = observation(*deaths, end=End.CRASH_LOOP, exitcode=None, stop_reason="5 died")
    message = found(obs, None)["missing_guard"].message
    assert message.startswith("5 child process(es) under spawn died re-importing the main module (stopped early")
    assert "child (pid 2001), child (pid 2002), child (pid 2003) and 2 more" in message
    assert "has no `if __name__" not in message  # nothing known of the source: nothing said about it


def test_missing_guard_is_silent_for_a_guarded_script_and_for_the_main_process() -> None:
    assert "missing_guard" not in found(observation(started(10, 2001, "Process-1")), SourceFacts(guarded=True))
    main_only = observation(ev(Ev.SCRIPT_ERROR, 50, error=BOOTSTRAP_ERROR), exitcode=1)
    assert "missing_guard" not in found(main_only)


# -- pickling ---------------------------------------------------------------------------------------
LOCAL = "AttributeError: Can't pickle local object 'main.<locals>.f'"


def test_pickling_names_the_local_object_in_the_parent() -> None:
    obs = observation(ev(Ev.SCRIPT_ERROR, 50, error=LOCAL), exitcode=1)
    d = found(obs)
    assert set(d) == {"pickling"}
    assert d["pickling"].message == f"under spawn, something could not be pickled ('main.<locals>.f') in the " \
                                    f"parent: {LOCAL}."
    assert "A Pool pickles" not in d["pickling"].message
    assert d["pickling"].fix.startswith("Define targets and pool functions at module top level")


def test_pickling_adds_the_pool_note_when_pool_workers_started() -> None:
    obs = observation(started(10, 2001, "ForkPoolWorker-1", "fork"), started(11, 2002, "ForkPoolWorker-2", "fork"),
                      ev(Ev.SCRIPT_ERROR, 50, error=LOCAL), exitcode=1, method="fork")
    message = found(obs)["pickling"].message
    assert message.startswith("under fork, something could not be pickled ('main.<locals>.f') in the parent")
    assert message.endswith("A Pool pickles its tasks and results under every start method, fork included.")


def test_pickling_a_thread_lock_says_to_pass_a_multiprocessing_lock() -> None:
    obs = observation(ev(Ev.SCRIPT_ERROR, 50, error="TypeError: cannot pickle '_thread.lock' object"), exitcode=1)
    d = found(obs)["pickling"]
    assert "(_thread.lock) in the parent" in d.message
    assert "pass a multiprocessing.Lock()" in d.fix


def test_pickling_in_a_child_that_cannot_find_the_function() -> None:
    error = "AttributeError: Can't get attribute 'work' on <module '__mp_main__' from '/s.py'>"
    obs = observation(started(10, 2001, "Process-1"), ev(Ev.CHILD_DIED, 50, pid=2001, error=error))
    d = found(obs)
    assert set(d) == {"pickling"}  # not also worker_died
    assert "(work) in child (pid 2001)" in d["pickling"].message
    assert "re-imported main module" in d["pickling"].fix


def test_pickling_names_a_lambda_whole() -> None:
    error = ("_pickle.PicklingError: Can't pickle <function <lambda> at 0x7f3a2c1e0>: "
             "attribute lookup <lambda> on __main__ failed")
    message = found(observation(ev(Ev.SCRIPT_ERROR, 50, error=error), exitcode=1))["pickling"].message
    assert "(<function <lambda> at 0x7f3a2c1e0>)" in message


def test_pickling_is_silent_on_other_errors() -> None:
    obs = observation(ev(Ev.SCRIPT_ERROR, 50, error="ValueError: not a pickle problem"), exitcode=1)
    assert found(obs) == {}


# -- worker_died ------------------------------------------------------------------------------------
def test_worker_died_quotes_the_error_and_counts() -> None:
    deaths = [ev(Ev.CHILD_ERROR, 50 + i, pid=2001 + i, name=f"Process-{i + 1}", error="ValueError: bad input")
              for i in range(4)]
    other = ev(Ev.CHILD_ERROR, 60, pid=2009, name="Process-9", error="SystemExit: 3")
    d = found(observation(*deaths, other))
    assert set(d) == {"worker_died"}
    assert d["worker_died"].message == (
        "4 child process(es) died under spawn: ValueError: bad input [Process-1 (pid 2001), Process-2 (pid 2002), "
        "Process-3 (pid 2003) and 1 more] (and 1 other death(s)).")
    assert "A Pool replaces a worker" not in d["worker_died"].fix


def test_worker_died_in_a_pool_crash_loop() -> None:
    deaths = [ev(Ev.CHILD_ERROR, 50 + i, pid=2001 + i, name=f"SpawnPoolWorker-{i + 1}",
                 error="ValueError: initializer refuses spawn") for i in range(5)]
    d = found(observation(*deaths, end=End.CRASH_LOOP, exitcode=None, stop_reason="5 died"))["worker_died"]
    assert d.message.startswith("5 child process(es) died under spawn: ValueError: initializer refuses spawn")
    assert "The same death repeated 5 times: the run was stopped early" in d.message
    assert "an initializer that raises makes the pool hang" in d.fix


def test_worker_died_is_silent_when_only_the_main_process_failed() -> None:
    assert found(observation(ev(Ev.SCRIPT_ERROR, 50, error="KeyError: 'x'"), exitcode=1)) == {}


# -- top_level_reexecuted ------------------------------------------------------------------------------
INERT = '''\
"""Only imports, definitions and constants at top level: importing it again does nothing."""
import multiprocessing
from os import path

LIMIT = 4
NAMES: tuple[str, ...] = ("a", "b")


def work(n):
    return n * n


class Box:
    pass


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print(pool.map(work, range(LIMIT)))
'''

EFFECTS = '''\
import multiprocessing

print("hello from top level")


def work():
    pass


if __name__ == "__main__":
    p = multiprocessing.Process(target=work)
    p.start()
    p.join()
'''

COMPUTED = '''\
import multiprocessing

DATA = sorted(range(10))


def work():
    pass


if __name__ == "__main__":
    multiprocessing.Process(target=work).start()
'''


def top_levels(*pids: int, wall_s: float = 0.01) -> list[Event]:
    out = []
    for i, pid in enumerate(pids):
        run_name = "__main__" if pid == MAIN else "__mp_main__"
        out += [ev(Ev.TOP_LEVEL, 10 * i + 1, pid=pid, run_name=run_name,
                   process="MainProcess" if pid == MAIN else f"Process-{i}"),
                ev(Ev.TOP_LEVEL_DONE, 10 * i + 5, pid=pid, run_name=run_name, wall_s=wall_s, cpu_s=wall_s)]
    return out


def test_source_facts_of_the_inert_script_have_no_effects() -> None:
    facts = analyse(INERT)
    assert facts.effects == () and facts.computed == () and facts.guarded


def test_top_level_reexecuted_when_code_with_effects_ran_in_two_processes() -> None:
    obs = observation(*top_levels(MAIN, 2001), processes=(proc(MAIN, role="main", ppid=1), proc(2001)))
    d = found(obs, analyse(EFFECTS))
    assert set(d) == {"top_level_reexecuted"}
    assert d["top_level_reexecuted"].message == (
        "the script's top level ran in 2 processes under spawn (main 1000, Process-1 2001): "
        "line 3: print(\"hello from top level\").")


def test_top_level_is_not_flagged_for_imports_definitions_and_constants() -> None:
    obs = observation(*top_levels(MAIN, 2001, 2002))
    assert found(obs, analyse(INERT)) == {}


def test_top_level_is_not_flagged_in_one_process_or_without_source_facts() -> None:
    assert found(observation(*top_levels(MAIN)), analyse(EFFECTS)) == {}
    assert found(observation(*top_levels(MAIN, 2001)), None) == {}


def test_top_level_computation_is_flagged_only_when_slow() -> None:
    facts = analyse(COMPUTED)
    assert facts.effects == () and [e.line for e in facts.computed] == [3]
    assert found(observation(*top_levels(MAIN, 2001, wall_s=0.01)), facts) == {}
    d = found(observation(*top_levels(MAIN, 2001, wall_s=0.8)), facts)["top_level_reexecuted"]
    assert "line 3: DATA = sorted(range(10))" in d.message
    assert d.message.endswith("It took up to 0.8 s in each child.")


def test_top_level_names_the_forkserver() -> None:
    events = [*top_levels(MAIN, 2001), ev(Ev.TOP_LEVEL, 30, pid=2002, run_name="__mp_main__", process="MainProcess")]
    obs = observation(*events, method="forkserver",
                      processes=(proc(MAIN, role="main", ppid=1), proc(2001), proc(2002, role="forkserver")))
    message = found(obs, analyse(EFFECTS))["top_level_reexecuted"].message
    assert "ran in 3 processes under forkserver (main 1000, Process-1 2001, the forkserver 2002)" in message


# -- fork_with_threads and leaked_resources (from stderr) ------------------------------------------------
FORK_WARNING = ("/usr/lib/python3.12/multiprocessing/popen_fork.py:66: DeprecationWarning: This process "
                "(pid=1000) is multi-threaded, use of fork() may lead to deadlocks in the child.")
LEAK = ("/usr/lib/python3.11/multiprocessing/resource_tracker.py:224: UserWarning: resource_tracker: There appear "
        "to be 2 leaked semaphore objects to clean up at shutdown")


def test_fork_with_threads_from_the_deprecation_warning() -> None:
    obs = observation(method="fork", stderr=text(f"{FORK_WARNING}\n  self.pid = os.fork()\n{FORK_WARNING}\n"))
    d = found(obs)
    assert set(d) == {"fork_with_threads"}
    assert d["fork_with_threads"].message == f"fork() of a multi-threaded process, 2 time(s): {FORK_WARNING}"
    assert "forkserver" in d["fork_with_threads"].fix


def test_fork_with_threads_is_silent_without_the_warning() -> None:
    obs = observation(method="fork", stderr=text("/s.py:3: DeprecationWarning: something else\n"))
    assert found(obs) == {}


def test_leaked_resources_from_the_resource_tracker() -> None:
    d = found(observation(stderr=text(f"{LEAK}\n  warnings.warn('resource_tracker: %s' % name)\n")))
    assert set(d) == {"leaked_resources"}
    assert d["leaked_resources"].message == f"the resource tracker cleaned up after the run: {LEAK}"


def test_leaked_resources_is_silent_on_other_resource_tracker_lines() -> None:
    err = "resource_tracker: process died unexpectedly, relaunching.  Some resources might leak.\n"
    assert found(observation(stderr=text(err))) == {}


# -- sets_own_method ----------------------------------------------------------------------------------
def test_sets_own_method_from_the_main_process() -> None:
    obs = observation(ev(Ev.SET_START_METHOD, 5, method="spawn", force=False, ok=True),
                      started(10, 2001, "Process-1", "spawn"), method="fork")
    d = found(obs)
    assert set(d) == {"sets_own_method"}
    assert d["sets_own_method"].message == ("the script calls set_start_method('spawn') itself (the kit made fork "
                                            "the default); its processes ran under spawn")
    assert d["sets_own_method"].fix.startswith("Nothing to fix.")


def test_sets_own_method_without_processes_says_so() -> None:
    obs = observation(ev(Ev.SET_START_METHOD, 5, method="forkserver", force=True, ok=True))
    assert found(obs)["sets_own_method"].message.endswith("; it started no process")


def test_sets_own_method_is_silent_in_a_child_or_when_refused() -> None:
    in_child = ev(Ev.SET_START_METHOD, 5, pid=2001, method="spawn", force=False, ok=True)
    refused = ev(Ev.SET_START_METHOD, 6, method="spawn", force=False, ok=False, error="RuntimeError: context")
    assert found(observation(in_child, refused)) == {}


# -- output_truncated ---------------------------------------------------------------------------------
def test_output_truncated_says_how_much_was_dropped() -> None:
    obs = observation(stdout=Output("head\n[kit: dropped]\ntail", total_bytes=12_000_000, dropped_bytes=2_000_000))
    d = found(obs)
    assert set(d) == {"output_truncated"}
    assert "stdout 12,000,000 bytes (2,000,000 dropped)" in d["output_truncated"].message
    assert "stderr" not in d["output_truncated"].message


def test_output_truncated_is_silent_when_everything_was_kept() -> None:
    assert found(observation(stdout=Output("x" * 1000, total_bytes=1000, dropped_bytes=0))) == {}


# what faulthandler writes: the main process joins; its child exits, waiting for its Queue's feeder
LIB = "/usr/lib/python3.11"
JOINING = f"""Current thread 0x00007f179ffc4b80 (most recent call first):
  File "{LIB}/multiprocessing/popen_fork.py", line 27 in poll
  File "{LIB}/multiprocessing/popen_fork.py", line 43 in wait
  File "{LIB}/multiprocessing/process.py", line 149 in join
  File "/home/me/deadlock.py", line 8 in <module>
  File "<frozen runpy>", line 291 in run_path
  File "/site/kit/launcher.py", line 73 in main
"""
SLEEPING = JOINING.replace("process.py\", line 149 in join", "threading.py\", line 320 in wait")
FEEDING = f"""Thread 0x00007f179ef186c0 (most recent call first):
  File "{LIB}/multiprocessing/connection.py", line 384 in _send
  File "{LIB}/multiprocessing/connection.py", line 200 in send_bytes
  File "{LIB}/multiprocessing/queues.py", line 250 in _feed
  File "{LIB}/threading.py", line 982 in run

Current thread 0x00007f179ffc4b80 (most recent call first):
  File "{LIB}/threading.py", line 1139 in _wait_for_tstate_lock
  File "{LIB}/multiprocessing/util.py", line 360 in _exit_function
  File "{LIB}/multiprocessing/process.py", line 317 in _bootstrap
  File "<string>", line 1 in <module>
"""


def stuck(main: str, child: str = "", *, end: End = End.TIMEOUT) -> Observation:
    procs = [dataclasses.replace(proc(MAIN, role="main", ppid=1), stack=main)]
    procs += [dataclasses.replace(proc(MAIN + 1), stack=child)] if child else []
    procs += [dataclasses.replace(proc(MAIN + 2, role="forkserver"), stack=SLEEPING)]
    return observation(end=end, exitcode=None, timeout_s=3.0, processes=tuple(procs))


def test_hang_recognises_a_join_of_a_child_whose_queue_is_unread() -> None:
    d = found(stuck(JOINING, FEEDING))[Code.HANG]
    assert "still running after 3 s" in d.message
    assert "the main process in poll (popen_fork.py:27) from <module> (deadlock.py:8)" in d.message
    assert f"worker (pid {MAIN + 1}) exiting, in _wait_for_tstate_lock (threading.py:1139)" in d.message
    assert "Queue's feeder thread blocked writing data nobody reads, in _send (connection.py:384)" in d.message
    assert "joins a child that cannot exit" in d.message and "q.get() before p.join()" in d.fix
    assert "forkserver" not in d.message  # a forkserver waits by design


def test_hang_without_the_join_says_where_and_gives_the_general_fix() -> None:
    """The broken variants of the pattern: a blocked feeder while the main process waits elsewhere,
    and a main process in join() with no blocked feeder, are not called the Queue deadlock."""
    for obs in (stuck(SLEEPING, FEEDING), stuck(JOINING, SLEEPING)):
        d = found(obs)[Code.HANG]
        assert "joins a child that cannot exit" not in d.message
        assert "processes[].stack" in d.fix


def test_hang_is_silent_without_stacks_or_when_the_run_ended() -> None:
    assert found(observation(end=End.TIMEOUT, exitcode=None)) == {}
    assert found(stuck(JOINING, FEEDING, end=End.EXITED)) == {}
    assert Code.HANG.value not in found(stuck("not a faulthandler dump"))


EXITING = f"""Current thread 0x00007f179ffc4b80 (most recent call first):
  File "{LIB}/multiprocessing/popen_fork.py", line 27 in poll
  File "{LIB}/multiprocessing/process.py", line 149 in join
  File "{LIB}/multiprocessing/util.py", line 360 in _exit_function
"""
LOOPING = """Current thread 0x00007f179ffc4b80 (most recent call first):
  File "/home/me/stubborn.py", line 6 in stubborn
  File "<string>", line 1 in <module>
"""


def test_hang_at_exit_tells_a_stubborn_daemon_from_a_non_daemon_child() -> None:
    obs = stuck(EXITING, LOOPING)
    as_daemon = dataclasses.replace(obs, events=(*obs.events, ev(Ev.PROCESS_STARTED, 10, child=MAIN + 1, daemon=True,
                                                                 name="Process-1", method="fork")))
    d = found(as_daemon)[Code.HANG]
    assert "the main process exiting, in poll (popen_fork.py:27)" in d.message
    assert f"the daemon (pid {MAIN + 1}) did not end on it" in d.message and "end on SIGTERM" in d.fix
    d = found(stuck(EXITING, LOOPING))[Code.HANG]  # started as a non-daemon (no daemon event)
    assert "waits for a non-daemon child that never ends" in d.message and "sentinel" in d.fix


def test_hang_not_at_exit_is_not_called_an_exit_hang() -> None:
    """The broken variant: the main process joins in its own code, not at exit."""
    d = found(stuck(JOINING, LOOPING))[Code.HANG]
    assert "exiting" not in d.message and "processes[].stack" in d.fix


def test_hang_when_the_kit_was_stopped_says_by_what() -> None:
    obs = dataclasses.replace(stuck(JOINING, FEEDING, end=End.INTERRUPTED), stop_reason="SIGTERM", wall_s=1.25)
    d = found(obs)[Code.HANG]
    assert d.message.startswith("stopped (SIGTERM) after 1.2 s; where each process was: the main process in poll")


def test_threads_of_reads_a_dump_innermost_first() -> None:
    threads = diagnose.threads_of(FEEDING)
    assert [t[0].func for t in threads] == ["_send", "_wait_for_tstate_lock"]
    assert threads[0][2] == diagnose.Frame(f"{LIB}/multiprocessing/queues.py", 250, "_feed")


# -- (b) compare() and summary_line() ----------------------------------------------------------------
def result(method: str, stdout: str = "", *, status: Status = Status.PASS, exitcode: int | None = 0,
           target: str = "host", default: str = "fork", pids: tuple[int, ...] = (), requested: str = "",
           started: bool = True) -> RunResult:
    """A run of a script that started processes (``started=False``: none)."""
    platform = PlatformInfo(os="Linux", python="3.11.7", implementation="CPython", default_method=default,
                            methods=["fork", "spawn", "forkserver"], cpu_count=2, machine="x86_64", place=target)
    return RunResult("script.py", Method(method), status, "reason", exitcode=exitcode, stdout=stdout, platform=platform,
                     processes=[proc(p) for p in pids], requested_method=requested or method,
                     methods_used=[method] if started else [])


def differs_of(r: RunResult) -> list[Diagnosis]:
    return [d for d in r.diagnoses if d.code == Code.OUTPUT_DIFFERS]


def test_same_output_everywhere_adds_nothing() -> None:
    rs = [result(m, "42\n") for m in ("fork", "spawn", "forkserver")]
    compare(rs)
    assert all(r.diagnoses == [] for r in rs)
    assert summary_line(rs) == "same under every method (pass)"


def test_the_reference_is_the_default_methods_run() -> None:
    rs = [result("fork", "worker sees set in main\n"), result("spawn", "worker sees import-time\n"),
          result("forkserver", "worker sees import-time\n")]
    compare(rs)
    assert differs_of(rs[0]) == []
    for r in rs[1:]:
        (d,) = differs_of(r)
        assert d.message == ("stdout differs from fork on host "
                                "(-worker sees set in main | +worker sees import-time)")
        assert d.fix.startswith("Make the result independent of the start method.")
        assert "--ignore-output REGEX" in d.fix
    assert summary_line(rs) == ("differs: fork on host: pass; spawn on host: pass (output_differs); "
                                "forkserver on host: pass (output_differs)")


def test_where_spawn_is_the_default_fork_is_the_one_that_differs() -> None:
    rs = [result(m, out, default="spawn") for m, out in (("fork", "set\n"), ("spawn", "unset\n"),
                                                          ("forkserver", "unset\n"))]
    compare(rs)
    assert [bool(differs_of(r)) for r in rs] == [True, False, False]
    assert "differs from spawn on host" in differs_of(rs[0])[0].message


def test_pids_and_addresses_are_normalised_and_line_order_ignored() -> None:
    fork = result("fork", "child 4242 done\n<Box object at 0x7f00aa>\nmain 1000  \n", pids=(1000, 4242))
    spawn = result("spawn", "main 1001\nchild 515 done\n<Box object at 0x7e1b2c>\n", pids=(1001, 515))
    compare([fork, spawn])
    assert fork.diagnoses == [] and spawn.diagnoses == []


def test_a_number_that_is_no_pid_of_the_run_still_differs() -> None:
    fork = result("fork", "answer 4242\n", pids=(1000,))
    spawn = result("spawn", "answer 4343\n", pids=(1001,))
    compare([fork, spawn])
    assert "(-answer 4242 | +answer 4343)" in differs_of(spawn)[0].message


def test_an_exit_code_difference_is_reported() -> None:
    rs = [result("fork", "same\n"), result("spawn", "same\n", status=Status.FAIL, exitcode=1)]
    compare(rs)
    (d,) = differs_of(rs[1])
    assert d.message == "exit code 1 here, 0 under fork on host"
    assert summary_line(rs) == "differs: fork on host: pass; spawn on host: fail (output_differs)"


def test_the_main_globals_hint_is_in_the_fix() -> None:
    rs = [result("fork", "SETTING=main\n"), result("spawn", "SETTING=import\n")]
    compare(rs, SourceFacts(main_globals=("SETTING",)))
    fix = differs_of(rs[1])[0].fix
    assert fix.startswith("Likely module-level state set in the main block (SETTING):")
    assert "Pass the value to the child as an argument" in fix


def test_main_globals_come_from_the_source() -> None:
    assert analyse(GLOBAL).main_globals == ("SETTING",)
    assert analyse(INERT).main_globals == ()


def test_other_targets_compare_with_the_first_targets_same_method() -> None:
    rs = [result("fork", "a\n"), result("spawn", "b\n"),
          result("fork", "a\n", target="docker:3.14", default="forkserver"),
          result("spawn", "b\n", target="docker:3.14", default="forkserver"),
          result("forkserver", "c\n", target="docker:3.14", default="forkserver")]
    compare(rs)
    # docker's fork and spawn match host's fork and spawn: nothing to say; host spawn differs from host fork;
    # no forkserver ran on the first target: docker's own default is the reference, itself here
    assert [len(differs_of(r)) for r in rs] == [0, 1, 0, 0, 0]
    assert "differs from fork on host" in differs_of(rs[1])[0].message
    assert summary_line(rs).startswith("differs: fork on host: pass; spawn on host: pass (output_differs); ")


def test_a_default_request_on_another_target_compares_with_the_first_targets_default() -> None:
    rs = [result("fork", "x\n", requested="default"),
          result("forkserver", "y\n", target="docker:3.14", default="forkserver", requested="default")]
    compare(rs)
    assert "differs from fork on host" in differs_of(rs[1])[0].message


def test_runs_that_did_not_finish_are_not_compared() -> None:
    rs = [result("fork", "a\n"), result("spawn", "", status=Status.TIMEOUT, exitcode=None),
          result("forkserver", "", status=Status.SKIPPED, exitcode=None)]
    compare(rs)
    assert all(r.diagnoses == [] for r in rs)
    assert summary_line(rs) == "differs: fork on host: pass; spawn on host: timeout"
    timed_out_reference = [result("fork", "", status=Status.TIMEOUT, exitcode=None), result("spawn", "b\n")]
    compare(timed_out_reference)
    assert all(r.diagnoses == [] for r in timed_out_reference)


def test_summary_line_cases() -> None:
    assert summary_line([result("fork", status=Status.SKIPPED)]) == "nothing ran"
    several = [result(m, target=t) for t in ("host", "docker:3.12") for m in ("fork", "spawn")]
    assert summary_line(several) == "same under every method and target (pass)"
    failing = [result("fork"), result("spawn", status=Status.FAIL)]
    failing[1].diagnoses.append(Diagnosis(Code.MISSING_GUARD, "m", "f"))
    assert summary_line(failing) == "differs: fork on host: pass; spawn on host: fail (missing_guard)"


# -- (c) end to end: real scripts ----------------------------------------------------------------------
def by_method(*methods: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("method", methods, indirect=True)


def script(tmp_path: Path, source: str, name: str = "script") -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), "utf-8")
    return str(path)


def codes(r: RunResult) -> list[str]:
    return [d.code for d in r.diagnoses]


def diagnosis(r: RunResult, code: Code) -> Diagnosis:
    hits = [d for d in r.diagnoses if d.code == code]
    assert hits, f"no {code} diagnosis\n{explain(r)}\ndiagnoses: {r.diagnoses}"
    return hits[0]


def test_a_correct_script_passes_everywhere_without_diagnosis(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, INERT)), method)
    assert r.status == Status.PASS and r.exitcode == 0, explain(r)
    assert r.diagnoses == [], r.diagnoses
    assert r.methods_used == [method] and "[0, 1, 4, 9]" in r.stdout


OWN_METHOD = """\
import multiprocessing


def work():
    print("child ran")


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    p = multiprocessing.Process(target=work)
    p.start()
    p.join()
"""


def test_a_script_that_sets_its_own_method(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, OWN_METHOD)), method)
    assert r.status == Status.PASS, explain(r)
    assert codes(r) == [Code.SETS_OWN_METHOD.value], r.diagnoses
    assert r.methods_used == ["spawn"]
    assert f"(the kit made {method} the default); its processes ran under spawn" in r.diagnoses[0].message


UNGUARDED = """\
import multiprocessing


def work():
    print("child ran")


p = multiprocessing.Process(target=work)
p.start()
p.join()
"""


@by_method("fork")
def test_an_unguarded_process_is_fine_under_fork(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, UNGUARDED)), method)
    assert r.status == Status.PASS and "child ran" in r.stdout, explain(r)
    assert r.diagnoses == [] and r.top_level_runs == 1


@by_method("spawn", "forkserver")
def test_an_unguarded_process_fails_with_missing_guard(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, UNGUARDED)), method)
    assert r.status == Status.FAIL, explain(r)
    assert BOOTSTRAP in r.error
    d = diagnosis(r, Code.MISSING_GUARD)
    assert d.message.startswith(f"1 child process(es) under {method} died re-importing the main module")
    assert "The script has no `if __name__ == \"__main__\":` block." in d.message
    assert Code.WORKER_DIED.value not in codes(r)


UNGUARDED_POOL = """\
import multiprocessing


def work(n):
    return n


with multiprocessing.Pool(2) as pool:
    print(pool.map(work, range(4)))
"""


@by_method("spawn")
def test_an_unguarded_pool_is_stopped_early_with_missing_guard(tmp_path: Path, method: str) -> None:
    """A Pool replaces its dying workers forever: the run must come back long before its timeout."""
    t0 = time.monotonic()
    r = run_bounded(script_subject(script(tmp_path, UNGUARDED_POOL)), method, timeout=60)
    took = time.monotonic() - t0
    assert took < 15 and r.wall_s < 15, explain(r)
    assert r.status == Status.FAIL and "stopped early" in r.reason, explain(r)
    assert "(stopped early: the pool kept replacing them)" in diagnosis(r, Code.MISSING_GUARD).message


THREAD_LOCK_ARG = """\
import multiprocessing
import threading


def work(lock):
    with lock:
        print("child has the lock")


if __name__ == "__main__":
    p = multiprocessing.Process(target=work, args=(threading.Lock(),))
    p.start()
    p.join()
"""


@by_method("fork")
def test_a_thread_lock_argument_is_fine_under_fork(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, THREAD_LOCK_ARG)), method)
    assert r.status == Status.PASS and "child has the lock" in r.stdout, explain(r)
    assert r.diagnoses == []


@by_method("spawn", "forkserver")
def test_a_thread_lock_argument_cannot_be_pickled(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, THREAD_LOCK_ARG)), method)
    assert r.status == Status.FAIL and r.exitcode == 1, explain(r)
    d = diagnosis(r, Code.PICKLING)
    assert "_thread.lock" in d.message and "in the parent" in d.message
    assert "multiprocessing.Lock()" in d.fix


NESTED_POOL_FUNCTION = """\
import multiprocessing


def main():
    def square(n):
        return n * n

    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, range(4)))


if __name__ == "__main__":
    main()
"""


def test_a_nested_pool_function_cannot_be_pickled_under_any_method(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, NESTED_POOL_FUNCTION)), method)
    assert r.status == Status.FAIL, explain(r)
    d = diagnosis(r, Code.PICKLING)
    assert "main.<locals>.square" in d.message, d
    assert "A Pool pickles its tasks and results under every start method, fork included." in d.message


GLOBAL = """\
import multiprocessing

SETTING = "import-time"


def show():
    print("worker sees", SETTING)


if __name__ == "__main__":
    SETTING = "set in main"
    p = multiprocessing.Process(target=show)
    p.start()
    p.join()
"""


@pytest.mark.slow
def test_a_global_set_in_main_differs_where_children_reimport(tmp_path: Path) -> None:
    target = script_subject(script(tmp_path, GLOBAL))
    rs = [run_bounded(target, m) for m in ("fork", "spawn", "forkserver") if m in METHODS]
    for r in rs:
        assert r.status == Status.PASS and r.exitcode == 0, explain(r)
    compare(rs, target.facts)
    inherits = {"fork": True, "spawn": False, "forkserver": False}
    default = rs[0].platform.default_method if rs[0].platform else "fork"
    for r in rs:
        expected = inherits[r.method] != inherits[default]
        assert bool(differs_of(r)) is expected, (r.method, r.diagnoses)
        if expected:
            assert "Likely module-level state set in the main block (SETTING)" in differs_of(r)[0].fix
    assert summary_line(rs).startswith("differs: ")


INITIALIZER_REFUSES_SPAWN = """\
import multiprocessing


def init():
    if multiprocessing.get_start_method() == "spawn":
        raise ValueError("initializer refuses spawn")


def work(n):
    return n


if __name__ == "__main__":
    with multiprocessing.Pool(2, initializer=init) as pool:
        print(pool.map(work, range(4)))
"""


@by_method("fork", "spawn")
def test_a_pool_initializer_that_raises_is_stopped_early(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, INITIALIZER_REFUSES_SPAWN)), method, timeout=60)
    if method == "fork":  # the correct case: the initializer is happy
        assert r.status == Status.PASS and r.diagnoses == [], explain(r)
        return
    assert r.wall_s < 15, explain(r)
    assert r.status == Status.FAIL and "stopped early" in r.reason, explain(r)
    d = diagnosis(r, Code.WORKER_DIED)
    assert "ValueError: initializer refuses spawn" in d.message
    assert "SpawnPoolWorker" in d.message and "stopped early" in d.message
    assert r.error == "ValueError: initializer refuses spawn"


@by_method("fork", "spawn", "forkserver")
def test_top_level_print_runs_again_in_children(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, EFFECTS)), method)
    assert r.status == Status.PASS, explain(r)
    if method == "fork":
        assert r.top_level_runs == 1 and r.diagnoses == [], r.diagnoses
        assert r.stdout.count("hello from top level") == 1
        return
    assert r.top_level_runs >= 2, explain(r)
    d = diagnosis(r, Code.TOP_LEVEL_REEXECUTED)
    assert 'line 3: print("hello from top level")' in d.message
    assert r.stdout.count("hello from top level") >= 2


FORK_WITH_THREAD = """\
import multiprocessing
import threading
import time


def work():
    pass


if __name__ == "__main__":
    t = threading.Thread(target=time.sleep, args=(0.5,))
    {first}
    {second}
    p.join()
    t.join()
"""


@by_method("fork")
def test_fork_with_a_thread_running(tmp_path: Path, method: str) -> None:
    source = FORK_WITH_THREAD.format(first="t.start()",
                                     second="p = multiprocessing.Process(target=work); p.start()")
    r = run_bounded(script_subject(script(tmp_path, source)), method)
    assert r.status == Status.PASS, explain(r)
    d = diagnosis(r, Code.FORK_WITH_THREADS)  # on every Python: the probe names the thread
    assert re.search(r"fork\(\) while other threads ran, 1 time\(s\) in 1 process\(es\); the first, from thread "
                     r"MainThread of pid \d+, with: Thread-1( \(sleep\))? started at .*script.py:\d+ in <module>",
                     d.message), d.message
    assert "stays locked there forever" in d.message
    assert ("multi-threaded" in r.stderr) == (sys.version_info >= (3, 12))  # the warning: 3.12+ only


@by_method("fork")
def test_fork_before_the_thread_starts_is_not_flagged(tmp_path: Path, method: str) -> None:
    source = FORK_WITH_THREAD.format(first="p = multiprocessing.Process(target=work); p.start()",
                                     second="t.start()")
    r = run_bounded(script_subject(script(tmp_path, source)), method)
    assert r.status == Status.PASS, explain(r)
    assert r.diagnoses == [], r.diagnoses


QUEUE_DEADLOCK = """
from multiprocessing import Process, Queue


def put(q):
    q.put("x" * 1_000_000)  # more than a pipe holds: the feeder thread blocks until it is read


if __name__ == "__main__":
    q = Queue()
    p = Process(target=put, args=(q,))
    p.start()
    p.join()  # the documented deadlock: join before get
    print(len(q.get()))
"""


@pytest.mark.skipif(_platform.stack_signal() is None, reason="no signal for Python stacks on this OS")
@by_method(*METHODS)
def test_a_queue_deadlock_times_out_with_where_each_process_was(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, QUEUE_DEADLOCK)), method, timeout=3)
    assert r.status == Status.TIMEOUT, explain(r)
    d = diagnosis(r, Code.HANG)
    assert "from <module> (script.py:13)" in d.message, d
    assert "joins a child that cannot exit" in d.message and "q.get() before p.join()" in d.fix, d
    main = next(p for p in r.processes if p.role == "main")
    worker = next(p for p in r.processes if p.stack and "_feed" in p.stack)  # the child wrote its own file
    assert "script.py\", line 13 in <module>" in main.stack and "_feed" not in main.stack
    assert worker.pid != main.pid
    assert "stacks of main" in render.run_summary(r, False, 1)


@pytest.mark.skipif(_platform.stack_signal() is None, reason="no signal for Python stacks on this OS")
@by_method("fork")
def test_a_run_stopped_at_its_deadline_but_not_continued_writes_no_stacks(tmp_path: Path, method: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken variant of asking a stopped run (``kit.deadlines`` stops it at its deadline):
    a process asked for its stack and not continued writes nothing."""
    monkeypatch.setattr(_platform, "resume", lambda pid: None)
    r = run_bounded(script_subject(script(tmp_path, QUEUE_DEADLOCK)), method, timeout=2)
    assert r.status == Status.TIMEOUT, explain(r)
    assert not any(p.stack for p in r.processes)


@by_method("fork")
def test_without_the_signal_a_hang_has_no_stacks(tmp_path: Path, method: str, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """The broken variant: a kit that does not ask for stacks (no signal, as off Linux) times out
    with nothing to say about where the run was."""
    monkeypatch.setattr(_platform, "stack_signal", lambda: None)
    r = run_bounded(script_subject(script(tmp_path, QUEUE_DEADLOCK)), method, timeout=2)
    assert r.status == Status.TIMEOUT, explain(r)
    assert Code.HANG.value not in codes(r)
    assert not any(p.stack for p in r.processes)


@pytest.mark.skipif(_platform.stack_signal() is None, reason="no signal for Python stacks on this OS")
@by_method("spawn")
def test_a_run_stopped_by_sigterm_says_where_it_was(tmp_path: Path, method: str, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    """What a CI cancel (SIGTERM through kit.cli's handler) leaves: the interrupted result, with
    each process's stack as the stop came."""
    from kit import runner
    from kit.stop import Stop

    monkeypatch.setattr(runner, "STOP", Stop())
    timer = threading.Timer(1.5, runner.STOP.request, args=(signal.SIGTERM,))
    timer.start()
    try:
        with pytest.raises(runner.Interrupted) as stopped:
            run_bounded(script_subject(script(tmp_path, QUEUE_DEADLOCK)), method, timeout=20)
    finally:
        timer.cancel()
    r = stopped.value.result
    assert r.status == Status.INTERRUPTED, explain(r)
    d = diagnosis(r, Code.HANG)
    assert d.message.startswith("stopped (SIGTERM) after 1.") and "(script.py:13)" in d.message, d


STUBBORN_DAEMON = """
import signal
import time
from multiprocessing import Process


def stubborn():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    Process(target=stubborn, daemon=True).start()
    time.sleep(0.3)
"""


@pytest.mark.skipif(_platform.stack_signal() is None, reason="no signal for Python stacks on this OS")
@by_method("fork")
def test_a_daemon_that_ignores_sigterm_hangs_the_exit_and_is_named(tmp_path: Path, method: str) -> None:
    r = run_bounded(script_subject(script(tmp_path, STUBBORN_DAEMON)), method, timeout=3)
    assert r.status == Status.TIMEOUT, explain(r)
    d = diagnosis(r, Code.HANG)
    assert "the main process exiting" in d.message and "in stubborn (script.py:10)" in d.message, d
    assert "did not end on it" in d.message, d


NATIVE_AND_FINISHED = """
import _thread
import multiprocessing
import threading
import time


def work():
    pass


if __name__ == "__main__":
    for _ in range(50):  # Python threads that just ended: gone from threading.enumerate() before the kernel's list
        t = threading.Thread(target=time.sleep, args=(0,))
        t.start()
        t.join()
    {native}
    p = multiprocessing.Process(target=work)
    p.start()
    p.join()
"""


@by_method("fork")
def test_a_thread_python_did_not_start_is_counted_and_a_finished_one_is_not(tmp_path: Path, method: str) -> None:
    """A thread started below threading (``_thread.start_new_thread``, as a C library would) is alive at
    the fork: counted as native.  Fifty Python threads that ended just before: never counted (the
    broken variant, kernel threads minus Python's alive ones, said "native thread(s)" for them)."""
    if not Path("/proc/self/task").is_dir():
        pytest.skip("the kernel's thread list is Linux's")
    native = script(tmp_path, NATIVE_AND_FINISHED.format(native="_thread.start_new_thread(time.sleep, (2,)); "
                                                                "time.sleep(0.05)"), "native")
    r = run_bounded(script_subject(native), method)
    d = diagnosis(r, Code.FORK_WITH_THREADS)
    assert "with: 1 native thread(s) Python did not start (a C library's)" in d.message, d.message
    finished = script(tmp_path, NATIVE_AND_FINISHED.format(native="pass"), "finished")
    r = run_bounded(script_subject(finished), method)
    assert r.status == Status.PASS and r.diagnoses == [], r.diagnoses


def test_a_python_thread_still_in_the_kernels_list_is_not_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race behind a false "native thread": a Python thread whose run() ended has left
    threading.enumerate() while the kernel still lists it for a moment (about one join in thirty
    here).  Its id was noted as it started, so it is not counted; an id nobody started is."""
    from kit import probe

    said: list[dict[str, Any]] = []
    monkeypatch.setattr(probe, "record", lambda kind, **data: said.append(data))
    monkeypatch.setattr(probe, "_forks_said", 0)
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.current_thread()])  # not this process's helpers
    me = threading.get_native_id()
    monkeypatch.setattr(probe, "_python_tids", {4242})
    monkeypatch.setattr(probe, "_native_threads", lambda: {me, 4242})  # 4242: a Python thread ending
    probe._before_fork()
    assert said == []  # the broken variant (kernel threads minus Python's alive ones) said 1 native thread
    monkeypatch.setattr(probe, "_native_threads", lambda: {me, 4242, 4343})  # 4343: nobody in Python started it
    probe._before_fork()
    assert said == [{"forking": "MainThread", "native_beyond": 1, "threads": []}]


_ONLY_THREAD = """
import _thread, os, threading, time
from kit import probe
me = threading.get_native_id()
release = _thread.allocate_lock()
release.acquire()
started = _thread.allocate_lock()
started.acquire()
native = []

def hold():
    native.append(threading.get_native_id())
    started.release()
    release.acquire()  # alive until the listing below is done

_thread.start_new_thread(hold, ())
started.acquire()
try:
    assert probe._native_threads() is not None and {me, *native} <= (probe._native_threads() or set())
finally:
    release.release()
deadline = time.monotonic() + 5
while len(os.listdir(probe.TASKS)) > 1 and time.monotonic() < deadline:  # the native thread ending
    time.sleep(0.01)
assert len(os.listdir(probe.TASKS)) == 1, "the native thread did not end"

def refused(path):
    raise AssertionError(f"listed {path}")

probe.os.listdir = refused
assert probe._native_threads() == {me}
print("ok")
"""


@pytest.mark.slow
def test_a_fork_from_the_only_thread_lists_no_threads_and_a_native_one_is_still_seen() -> None:
    """A fork loop without threads pays one stat per fork, not a listing of the kernel's threads; a
    thread started below threading is still found (the broken variant, "one thread unless Python
    knows more", returned this thread alone while the native one ran).  In a fresh interpreter:
    this one has threads of its own (the relay server's reader)."""
    from kit import probe

    if not Path(probe.TASKS).is_dir():
        pytest.skip("the kernel's thread list is Linux's")
    done = subprocess.run([sys.executable, "-c", _ONLY_THREAD], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.stdout.strip() == "ok", done.stderr


def test_threads_alike_at_a_fork_are_counted_not_repeated() -> None:
    """Three handlers' threads of one name and site (multiprocessing-logging's tests) are one entry
    'N x ...', and a different one keeps its own (the broken variant listed each of the three)."""
    thread = {"name": "mp-handler-0", "daemon": True, "started_at": "mpl.py:74 in __init__"}
    other = {"name": "ticker", "daemon": False, "started_at": "x.py:3 in <module>"}
    d = [x for x in diagnose.diagnose(observation(ev(Ev.FORK_WITH_THREADS, 5, forking="MainThread", native_beyond=0,
                                             threads=[thread, thread, thread, other])))
         if x.code is Code.FORK_WITH_THREADS][0]
    assert "with: 3 x mp-handler-0 (daemon) started at mpl.py:74 in __init__; ticker started at x.py:3 in <module>. " \
        in d.message, d.message
