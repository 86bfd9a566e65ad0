"""Judging without running anything: ``kit.judge`` on hand-made ``Observation``s.

An observation is a frozen record of one run, so every outcome (a timeout, a crash loop, an
interrupted kit, a launcher that never ran the script, the checks) is decided here in
microseconds, with certainty.  The one test that starts processes shows a bug injected deep
in a real run coming out of ``kit.cli.main`` as an internal error, not as a traceback.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, Callable
from collections.abc import Iterator

import pytest
from support import describe, our_processes, reap_children

import kit.cli
import kit.observer
from kit import errors
from kit.checks import Check, Evidence, daemon_terminated, exits_with
from kit.events import Event
from kit.judge import daemons_terminated, judge, warnings_in
from kit.observation import End, Observation, Output
from kit.outcomes import GENERIC_CHECKS, Ev, Role, Status
from kit.results import PlatformInfo, ProcRecord, ProcRef, RunResult

MAIN = 1000
WALL_S = 1.0
PLATFORM = PlatformInfo(os="Linux", python="3.11.7", implementation="CPython", default_method="fork",
                        methods=["fork", "spawn", "forkserver"], cpu_count=2, machine="x86_64")


def ev(kind: str, ms: float, pid: int = MAIN, **data: Any) -> Event:
    """An event ``ms`` milliseconds into the run."""
    return Event(int(ms * 1_000_000), pid, kind, data)


def proc(pid: int, *, ppid: int = MAIN, role: str = "worker", gone_s: float | None = 0.5,
         name: str = "python3") -> ProcRecord:
    """What the observer saw of one process (gone at ``gone_s``; None: still alive)."""
    return ProcRecord(pid=pid, ppid=ppid, name=name, cmdline=[name, "-c", f"child {pid}"], create_time=0.0,
                      role=Role(role), first_seen_s=0.0, last_seen_s=gone_s or WALL_S, gone_s=gone_s, cpu_s=0.1)


START = ev(Ev.SCRIPT_START, 1, method="fork", main=MAIN)
MAIN_RECORD = proc(MAIN, ppid=1, role="main", gone_s=WALL_S)


def done(ms: float = 900, alive: tuple[int, ...] = ()) -> Event:
    return ev(Ev.SCRIPT_DONE, ms, alive=list(alive))


def observation(**overrides: Any) -> Observation:
    """A clean fork run of a script: started, done, exit 0, nothing left; ``overrides`` replace fields."""
    fields: dict[str, Any] = dict(
        subject="script.py", method="fork", scale=0.1, platform=PLATFORM, main_pid=MAIN, end=End.EXITED,
        exitcode=0, wall_s=WALL_S, cpu_s=0.5, peak_processes=1, timeout_s=60.0,
        events=(START, done()), processes=(MAIN_RECORD,),
    )
    fields.update(overrides)
    return Observation(**fields)


def own(name: str, ok: bool, reason: str) -> Check:
    """A target's own check with a fixed verdict."""

    def fn(_: Evidence) -> tuple[bool, str]:
        return ok, reason

    return Check(name, fn)


def failed(r: RunResult) -> dict[str, str]:
    return {v.check: v.reason for v in r.checks if not v.ok}


# -- every way a run can end -----------------------------------------------------------------
ENDS: list[tuple[End, Status, str]] = [
    (End.EXITED, Status.PASS, "no process outlived the run; main process exited 0"),
    (End.TIMEOUT, Status.TIMEOUT, "still running after 60 s: killed 2 process(es)"),
    (End.CRASH_LOOP, Status.FAIL, "stopped early: 5 child processes died the same death; killed 2 process(es)"),
    (End.INTERRUPTED, Status.INTERRUPTED, "the kit was interrupted (SIGINT): killed 2 process(es)"),
    (End.OOM_STALLED, Status.FAIL, "stopped early: the OOM killer ended SpawnPoolWorker-2 (pid 7), and the main "
                                   "process was still running 5 s later; killed 2 process(es)"),
    (End.PARENT_KILLED, Status.FAIL, "the script killed its parent (the kit's relay, exit -9 (SIGKILL)) while the "
                                     "main process ran: stopped at once, killed 2 process(es)"),
]


def test_every_end_is_mapped() -> None:
    assert {end for end, _, _ in ENDS} == set(End)


@pytest.mark.parametrize("end, status, reason", ENDS, ids=[e.value for e, _, _ in ENDS])
def test_each_end_maps_to_its_status(end: End, status: Status, reason: str) -> None:
    """How the watching ended decides the status; only a run that exited is checked."""
    exited = end is End.EXITED
    obs = observation(end=end, exitcode=0 if exited else -9, killed=() if exited else (1001, 1002),
                      stop_reason={End.CRASH_LOOP: "5 child processes died the same death",
                                   End.PARENT_KILLED: "-9",
                                   End.OOM_STALLED: "the OOM killer ended SpawnPoolWorker-2 (pid 7), and the main "
                                                    "process was still running 5 s later"}.get(end, ""),
                      events=(START,) if not exited else (START, done()))
    r = judge(obs, [own("own", True, "own check held")] if not exited else [])
    assert r.status is status
    assert r.reason == reason
    if exited:
        assert [v.check for v in r.checks] == list(GENERIC_CHECKS)
        assert r.exitcode == 0
    else:
        assert r.checks == []  # nothing was checked: the run never finished
        assert r.exitcode is None  # a killed run has no exit code of its own


def test_a_timeout_says_still_running_after() -> None:
    r = judge(observation(end=End.TIMEOUT, exitcode=None, timeout_s=2.5, killed=(1000,)), [])
    assert r.status == Status.TIMEOUT
    assert r.reason.startswith("still running after 2.5 s") and "killed 1 process(es)" in r.reason


def test_a_crash_loop_fails_stopped_early() -> None:
    why = "5 child processes died the same death and 5 were started to replace them (ValueError: x)"
    r = judge(observation(end=End.CRASH_LOOP, exitcode=None, stop_reason=why, killed=(1000, 1001, 1002)), [])
    assert r.status == Status.FAIL
    assert r.reason == f"stopped early: {why}; killed 3 process(es)"


@pytest.mark.parametrize("end", [End.TIMEOUT, End.CRASH_LOOP, End.INTERRUPTED])
def test_exitcode_is_none_unless_exited(end: End) -> None:
    """Even if something put a code there, a run that did not exit by itself reports none."""
    assert judge(observation(end=end, exitcode=-9), []).exitcode is None


@pytest.mark.parametrize("code", [0, 1, -15])
def test_exitcode_is_kept_when_exited(code: int) -> None:
    assert judge(observation(exitcode=code), []).exitcode == code


# -- the launcher ---------------------------------------------------------------------------
def test_no_script_start_is_a_launcher_error_with_the_last_stderr_line() -> None:
    stderr = "Traceback (most recent call last):\n  File \"x\", line 1\nModuleNotFoundError: No module named 'kit'\n\n"
    r = judge(observation(events=(), exitcode=1, stderr=Output(stderr, len(stderr))), [own("own", True, "held")])
    assert r.status == Status.ERROR
    assert r.reason == "the launcher failed: ModuleNotFoundError: No module named 'kit'"
    assert r.checks == []  # the script never ran: nothing to check


def test_no_script_start_and_no_stderr_says_the_exit_code() -> None:
    r = judge(observation(events=(), exitcode=1), [])
    assert r.status == Status.ERROR and r.reason == "the launcher failed: exit 1"


def test_a_long_last_stderr_line_is_cut() -> None:
    line = "E" * 5000
    r = judge(observation(events=(), exitcode=1, stderr=Output(line, len(line))), [])
    assert r.reason == "the launcher failed: " + "E" * 300


# -- the generic checks ---------------------------------------------------------------------
def test_an_orphan_fails_no_orphans() -> None:
    orphan = proc(2001, gone_s=None, name="sleep")
    r = judge(observation(processes=(MAIN_RECORD, orphan), orphans=frozenset({2001})), [])
    assert r.status == Status.FAIL
    assert set(failed(r)) == {"no orphans"}
    assert failed(r)["no orphans"].startswith("1 process(es) outlived the run: 2001 sleep -c child 2001")
    assert r.reason == failed(r)["no orphans"]
    assert [o.pid for o in r.orphans] == [2001]



def test_an_orphan_without_a_record_still_fails() -> None:
    r = judge(observation(orphans=frozenset({4242})), [])
    assert r.status == Status.FAIL and "no orphans" in failed(r)

def test_exit_1_fails_exit_0() -> None:
    r = judge(observation(exitcode=1), [own("own", True, "held")])
    assert r.status == Status.FAIL
    assert failed(r) == {"exit 0": "main process exited 1, expected 0"}
    assert r.reason == "main process exited 1, expected 0"


# -- the reason -----------------------------------------------------------------------------
def test_a_pass_gives_the_targets_own_reasons() -> None:
    r = judge(observation(), [own("first", True, "first held"), own("second", True, "second held")])
    assert r.status == Status.PASS
    assert r.reason == "first held; second held"  # not "no process outlived the run..."
    assert [v.check for v in r.checks] == ["no orphans", "exit 0", "first", "second"]


def test_a_pass_without_own_checks_gives_the_generic_reasons() -> None:
    r = judge(observation(), [])
    assert r.status == Status.PASS
    assert r.reason == "no process outlived the run; main process exited 0"


def test_a_fail_gives_only_the_failed_reasons_by_name() -> None:
    """Whatever the position of the failing checks, only they make the reason."""
    checks = [own("a", True, "a held"), own("b", False, "b broke"), own("c", True, "c held"),
              own("d", False, "d broke")]
    r = judge(observation(), checks)
    assert r.status == Status.FAIL
    assert r.reason == "b broke; d broke"
    assert failed(r) == {"b": "b broke", "d": "d broke"}


def test_a_fail_mixes_generic_and_own_failures_in_check_order() -> None:
    orphan = proc(2001, gone_s=None)
    obs = observation(exitcode=1, processes=(MAIN_RECORD, orphan), orphans=frozenset({2001}))
    r = judge(obs, [own("own ok", True, "fine"), own("own bad", False, "own broke")])
    parts = r.reason.split("; ")
    assert parts[0].startswith("1 process(es) outlived the run")
    assert parts[1:] == ["main process exited 1, expected 0", "own broke"]
    assert set(failed(r)) == {"no orphans", "exit 0", "own bad"}



def test_own_reasons_are_chosen_by_name_not_position() -> None:
    """A target that repeats a generic check (``exit 0``) among its own: it is not an own reason."""
    r = judge(observation(), [exits_with(0), own("x", True, "x held")])
    assert r.status == Status.PASS
    assert [v.check for v in r.checks] == ["no orphans", "exit 0", "exit 0", "x"]
    assert r.reason == "x held"

def test_an_own_check_failing_alone_is_the_whole_reason() -> None:
    r = judge(observation(), [own("a", False, "only this")])
    assert r.status == Status.FAIL and r.reason == "only this"


def test_a_behaviour_the_run_did_not_show_is_inconclusive_not_failed() -> None:
    """event/forkserver under a CPU hog, one matrix in ten: every car came while the light was
    green, so no car waited -- nothing passed on red either.  The broken variant (the check's old
    False) failed the cell; now it is inconclusive with the check's reason (the runner tries once
    more), and a real failure beside it still fails."""
    from kit.checks import passes_only_on_green  # the real check, on events of that run's shape

    light = (ev("light", 0, pid=3001, state="red"), ev("light", 100, pid=3001, state="green"),
             ev("light", 400, pid=3001, state="red"))
    cars = tuple(e for i in range(3) for e in (ev("car_waits", 150 + i, pid=3100 + i, i=i),
                                               ev("car_passes", 151 + i, pid=3100 + i, i=i)))
    obs = observation(events=(START, *light, *cars, done()))
    r = judge(obs, [passes_only_on_green()])
    assert r.status == Status.INCONCLUSIVE, r.reason
    assert r.reason == "no car arrived at a red light: the wait was never shown: this run did not show it"
    (v,) = [v for v in r.checks if v.check == "cars pass only on green"]
    assert v.unshown and not v.ok
    r = judge(obs, [passes_only_on_green(), own("b", False, "b broke")])
    assert r.status == Status.FAIL and r.reason == "b broke"
    at_red = (ev("car_waits", 50, pid=3200, i=9), ev("car_passes", 101, pid=3200, i=9))
    waited = observation(events=(START, *light, *at_red, *cars, done()))
    assert judge(waited, [passes_only_on_green()]).status == Status.PASS


# -- daemons --------------------------------------------------------------------------------
def daemon_run(**over: Any) -> Observation:
    """Main started daemons 2001..2004 and a plain child 2005; who counts as terminated at exit?"""
    started = tuple(ev(Ev.PROCESS_STARTED, 10 + i, child=pid, daemon=pid != 2005, name=f"Process-{i}",
                       method="fork") for i, pid in enumerate((2001, 2002, 2003, 2004, 2005, 2006)))
    events = (START, *started, done(alive=(2001, 2002, 2003, 2004, 2005)))
    processes = (
        MAIN_RECORD,
        proc(2001, gone_s=0.95),  # alive at the end of the script, gone when main exited: terminated
        proc(2002, gone_s=None),  # still alive: not terminated
        proc(2003, gone_s=0.9),  # gone, but an orphan by the runner's word: not terminated
        proc(2004, gone_s=WALL_S + 0.5),  # killed by the kit afterwards: not terminated by main
        proc(2005, gone_s=0.9),  # not a daemon
        proc(2006, gone_s=0.5),  # a daemon that ended before the script did (not in "alive")
    )
    fields: dict[str, Any] = dict(events=events, processes=processes, orphans=frozenset({2003}))
    fields.update(over)
    return observation(**fields)


def test_daemons_terminated_are_those_alive_at_script_done_and_gone_by_main_exit() -> None:
    assert daemons_terminated(daemon_run()) == [2001]


def test_daemon_gone_exactly_at_main_exit_counts() -> None:
    obs = daemon_run(processes=(MAIN_RECORD, proc(2001, gone_s=WALL_S), proc(2002, gone_s=WALL_S + 0.0005)))
    assert daemons_terminated(obs) == [2001, 2002]  # a sampling interval's rounding is forgiven


def test_a_daemon_seen_gone_by_the_first_sample_after_main_exit_counts() -> None:
    """Under load a sample can begin just before main terminates its daemon and exits: the daemon
    is then seen gone by the next sample, a few ms after the exit, before the kit kills anything.
    Without that sample's time the daemon would count as not terminated (the flake it fixes)."""
    late = (MAIN_RECORD, proc(2001, gone_s=WALL_S + 0.03))
    assert daemons_terminated(daemon_run(processes=late, settled_s=WALL_S + 0.03)) == [2001]
    assert daemons_terminated(daemon_run(processes=late)) == []
    killed_later = (MAIN_RECORD, proc(2001, gone_s=WALL_S + 2.0))  # by the kit, after the grace
    assert daemons_terminated(daemon_run(processes=killed_later, settled_s=WALL_S + 0.03)) == []


def test_daemons_terminated_reach_the_result_and_the_daemon_check() -> None:
    r = judge(daemon_run(orphans=frozenset()), [daemon_terminated()])
    assert [d.pid for d in r.daemons_terminated] == [2001, 2003]
    assert all(isinstance(d, ProcRef) for d in r.daemons_terminated)
    # 2002 (alive) and 2004 (killed later) were not terminated by main's exit
    assert failed(r) == {"daemon terminated at exit": "daemon 2002 was not terminated when the main process exited"}


def test_a_daemon_no_look_saw_is_judged_by_the_kernels_membership() -> None:
    """A daemon started just before main ended, under load, can live less than any look: where the
    kernel keeps the run, its absence from the run's pids at the first look after main's exit says
    it was terminated (named from its process_started); present there, it was not.  Broken variant
    (the flake it fixes): judged from looks only, the unseen daemon was "not terminated"."""
    unseen = (MAIN_RECORD,)  # no look saw 2001..2004
    obs = daemon_run(processes=unseen, orphans=frozenset(), settled_members=frozenset({MAIN, 2002}))
    assert daemons_terminated(obs) == [2001, 2003, 2004]
    r = judge(obs, [daemon_terminated()])
    assert [(d.pid, d.name) for d in r.daemons_terminated] == [(2001, "Process-0"), (2003, "Process-2"),
                                                               (2004, "Process-3")]
    assert failed(r) == {"daemon terminated at exit": "daemon 2002 was not terminated when the main process exited"}
    assert daemons_terminated(daemon_run(processes=unseen, orphans=frozenset())) == []  # looks only: none


def test_an_unseen_daemon_without_kernel_membership_is_undecided_not_failed() -> None:
    """Sampled evidence (psutil) and a daemon no sample saw: whether main terminated it cannot be told."""
    obs = daemon_run(processes=(MAIN_RECORD, proc(2001, gone_s=0.95)), orphans=frozenset(),
                     events=daemon_run().events[:3] + (done(alive=(2001, 2002)),))
    r = judge(obs, [daemon_terminated()])
    assert r.status == Status.INCONCLUSIVE and "lived too briefly" in r.reason, r.reason
    seen_alive = daemon_run(processes=(MAIN_RECORD, proc(2001, gone_s=0.95), proc(2002, gone_s=None)),
                            orphans=frozenset(), events=obs.events)
    assert judge(seen_alive, [daemon_terminated()]).status == Status.FAIL  # seen alive after: a failure


def test_no_script_done_means_no_daemon_terminated() -> None:
    obs = daemon_run(events=tuple(e for e in daemon_run().events if e.kind != Ev.SCRIPT_DONE))
    assert daemons_terminated(obs) == []


# -- warnings -------------------------------------------------------------------------------
def test_warnings_in_finds_distinct_warning_lines() -> None:
    stderr = ("/x.py:3: DeprecationWarning: old\n  warnings.warn('old')\n"
              "/x.py:3: DeprecationWarning: old\n  x: MyWarning: custom  \n"
              "a Warning: not a warning class\nWarning: alone\nUserWarning:no space\nValueError: no\n")
    assert warnings_in(stderr) == ["/x.py:3: DeprecationWarning: old", "x: MyWarning: custom"]


def test_warnings_in_a_200_kb_line_without_a_warning() -> None:
    line = "x" * 200_000
    t0 = time.perf_counter()
    assert warnings_in(f"{line}\n{line} Warning:\n" + "Warning" * 30_000) == []
    assert time.perf_counter() - t0 < 0.5


def test_warnings_in_a_200_kb_line_with_a_warning() -> None:
    line = "/x.py:1: UserWarning: " + "y" * 200_000
    t0 = time.perf_counter()
    found = warnings_in(f"before\n{line}\nafter\n")
    assert time.perf_counter() - t0 < 0.5
    assert len(found) == 1
    assert found[0].startswith("/x.py:1: UserWarning: yyy") and len(found[0]) <= 2000


def test_warnings_in_is_linear_on_10_mb() -> None:
    """10 MB of stderr, a tenth of it warning lines (half of them repeated): well under half a second."""
    lines = []
    for i in range(100_000):
        if i % 10 == 0:
            lines.append(f"/s.py:7: RuntimeWarning: value {i // 20:>60}")
        else:
            lines.append(f"line {i:>8} " + "z" * 85 + " Warning" * (i % 2))
    text = "\n".join(lines)
    assert len(text) >= 10_000_000
    t0 = time.perf_counter()
    found = warnings_in(text)
    elapsed = time.perf_counter() - t0
    assert len(found) == 5000
    assert elapsed < 0.5, f"{elapsed:.2f} s for 10 MB"


def test_the_result_carries_the_warnings() -> None:
    err = "/s.py:1: ResourceWarning: unclosed file\n"
    assert judge(observation(stderr=Output(err, len(err))), []).warnings == ["/s.py:1: ResourceWarning: unclosed file"]


# -- what the result says about processes and errors -----------------------------------------
def test_methods_used_come_from_process_started_events() -> None:
    events = (START, ev(Ev.PROCESS_STARTED, 10, child=2001, method="spawn", name="Process-1"),
              ev(Ev.PROCESS_STARTED, 11, child=2002, method="fork", name="Process-2"),
              ev(Ev.PROCESS_STARTED, 12, pid=2002, child=2003, method="spawn", name="Process-2:1"),
              ev(Ev.PROCESS_STARTED, 13, child=2004, name="no method said"),
              ev(Ev.SET_START_METHOD, 5, method="forkserver", ok=True), done())
    assert judge(observation(events=events), []).methods_used == ["fork", "spawn"]


def test_methods_used_is_empty_when_no_process_started() -> None:
    assert judge(observation(), []).methods_used == []


def test_error_is_the_main_processes_script_error_first() -> None:
    events = (START, ev(Ev.CHILD_ERROR, 10, pid=2001, name="Process-1", error="ValueError: child"),
              ev(Ev.SCRIPT_ERROR, 20, error="KeyError: 'main'"), done())
    assert judge(observation(events=events, exitcode=1), []).error == "KeyError: 'main'"


def test_error_is_the_first_child_error_without_a_main_error() -> None:
    events = (START, ev(Ev.CHILD_DIED, 10, pid=2002, error="RuntimeError: first"),
              ev(Ev.CHILD_ERROR, 20, pid=2001, name="Process-1", error="ValueError: second"), done())
    assert judge(observation(events=events), []).error == "RuntimeError: first"


def test_error_is_empty_on_a_clean_run() -> None:
    r = judge(observation(), [])
    assert r.error == "" and r.diagnoses == [] and r.top_level_runs == 0



def test_diagnoses_reach_the_result_as_plain_strings() -> None:
    bootstrap = ("RuntimeError: An attempt has been made to start a new process before the current process has "
                 "finished its bootstrapping phase.")
    events = (START, ev(Ev.CHILD_DIED, 10, pid=2001, error=bootstrap), done())
    r = judge(observation(events=events, method="spawn"), [])
    assert [d.code for d in r.diagnoses] == ["missing_guard"]
    assert all(type(v) is str for d in r.diagnoses for v in d.to_dict().values())
    assert r.error == bootstrap

def test_figures_are_copied_and_rounded() -> None:
    r = judge(observation(wall_s=2.0004, cpu_s=3.0, peak_processes=4, scale=0.5, observer_cpu_s=0.12345,
                          unmeasured=("short-lived processes",)), [])
    assert (r.wall_s, r.cpu_s, r.cores_used, r.peak_processes, r.scale) == (2.0, 3.0, 1.5, 4, 0.5)
    assert r.observer_cpu_s == 0.1235 and r.unmeasured == ["short-lived processes"]
    assert r.subject == "script.py" and r.method == "fork" and r.platform is PLATFORM


# -- a bug deep in a run is an internal error ---------------------------------------------------
@pytest.fixture
def kit_signals() -> Iterator[None]:
    """``kit.cli.main`` installs its own signal handlers: give pytest its own back."""
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    saved = {getattr(signal, n): signal.getsignal(getattr(signal, n)) for n in names if hasattr(signal, n)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def sample_raising(monkeypatch: pytest.MonkeyPatch, times: int = 0, alive: int | None = None) -> list[int]:
    """Make ``Observer.sample`` raise ValueError on its first ``times`` calls, then work again;
    or (``alive``) work until it sees that many processes of the run alive, then raise for good."""
    original: Callable[..., int] = kit.observer.Observer.sample
    calls: list[int] = []
    broken: list[bool] = []

    def sample(self: kit.observer.Observer, *args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) <= times or broken:
            raise ValueError("injected: Observer.sample broke")
        n = original(self, *args, **kwargs)
        if alive is not None and n >= alive:
            broken.append(True)
            raise ValueError("injected: Observer.sample broke")
        return n

    monkeypatch.setattr("kit.observer.Observer.sample", sample)
    return calls


@pytest.mark.slow
@pytest.mark.usefixtures("kit_signals")
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_bug_deep_in_a_run_is_an_internal_error(debug: bool, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The observer raises while the launcher runs: status 3, one line pointing at --debug (a
    traceback only with --debug), and the run's processes are still cleaned up."""
    monkeypatch.delenv(kit.cli.DEBUG_ENV, raising=False)
    calls = sample_raising(monkeypatch, times=1)
    argv = ["--debug"] * debug + ["run", "hello", "--method", "fork"]
    assert kit.cli.main(argv) == errors.INTERNAL_ERROR == 3
    assert calls, "the injected bug was never reached"
    err = capsys.readouterr().err
    assert "ValueError: injected: Observer.sample broke" in err
    if debug:
        assert "Traceback (most recent call last)" in err
    else:
        assert "Traceback" not in err
        assert "internal error" in err and "--debug" in err
        assert len(err.strip().splitlines()) == 1, err


LONG_RUN = """\
import multiprocessing
import time


def nap():
    time.sleep(4)


if __name__ == "__main__":
    p = multiprocessing.Process(target=nap)
    p.start()
    p.join()
"""


@pytest.mark.slow
@pytest.mark.usefixtures("kit_signals")
def test_a_persistent_observer_bug_still_leaves_no_process(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """Cleaning up must not depend on the observer working: nothing of the run may stay behind."""
    script = tmp_path / "long_run.py"
    script.write_text(LONG_RUN, "utf-8")
    before = set(our_processes())
    sample_raising(monkeypatch, alive=2)  # broken for good once the script's child is running
    assert kit.cli.main(["run", str(script), "--method", "fork"]) == errors.INTERNAL_ERROR
    left = {k: p for k, p in our_processes().items() if k not in before}
    seen = [describe(p) for p in left.values()]
    reap_children(left.values())  # clean up here, so that the leftover fixture does not fail this test
    assert not seen, f"{len(seen)} process(es) of the run left behind: {seen}"


# -- a busy machine ----------------------------------------------------------------------------
def cpu_check(ok: bool) -> Check:
    return Check("real parallelism", lambda _: (ok, "1.01 cores used, expected at least 1.50"), measures_cpu=True)


def test_a_failed_cpu_check_on_a_busy_machine_is_inconclusive_with_the_figures() -> None:
    r = judge(observation(others_cores=0.9), [cpu_check(False)])
    assert r.status == Status.INCONCLUSIVE
    assert "other processes used 0.90 of 2 cores" in r.reason and "1.01 cores used" in r.reason


def test_the_same_failure_on_a_quiet_machine_is_a_failure() -> None:
    """The broken variant: without the load figure (or with a quiet machine) the failure stands."""
    assert judge(observation(others_cores=0.05), [cpu_check(False)]).status == Status.FAIL
    assert judge(observation(others_cores=None), [cpu_check(False)]).status == Status.FAIL


def test_a_run_that_left_free_cores_idle_fails_on_a_busy_machine_too() -> None:
    """Workers that sleep: the others used a core, the run not even a tenth of the one left: no load
    explains that.  A run that used the core it had stays inconclusive (the broken variant: every
    busy machine excusing a failed CPU check made the sleeping workers' run undecided)."""
    idle = judge(observation(others_cores=1.0, cpu_s=0.05 * WALL_S), [cpu_check(False)])
    assert idle.status == Status.FAIL and idle.reason == "1.01 cores used, expected at least 1.50"
    used = judge(observation(others_cores=1.0, cpu_s=0.9 * WALL_S), [cpu_check(False)])
    assert used.status == Status.INCONCLUSIVE
    starved = judge(observation(others_cores=1.8, cpu_s=0.02 * WALL_S), [cpu_check(False)])
    assert starved.status == Status.INCONCLUSIVE  # a fifth of a core left: too little to tell


def test_the_kernels_stall_figure_decides_whether_the_load_starved_the_run() -> None:
    """Where the run's cgroup has pressure stall information: its processes waited for a CPU a tenth
    of the run or more, the load explains a failed CPU check (inconclusive, the figure said);
    they hardly waited, the failure stands however busy the machine (workers that sleep beside
    two CPU hogs).  Broken variant: judged by the others' load alone, the sleeping workers' run
    under saturating load was undecided."""
    starved = judge(observation(others_cores=1.9, cpu_s=0.02 * WALL_S, cpu_stall_s=0.6 * WALL_S), [cpu_check(False)])
    assert starved.status == Status.INCONCLUSIVE
    assert "waited 0.60 s of 1.00 s for a CPU" in starved.reason and "other processes used 1.90 of 2" in starved.reason
    idle = judge(observation(others_cores=1.9, cpu_s=0.02 * WALL_S, cpu_stall_s=0.01), [cpu_check(False)])
    assert idle.status == Status.FAIL and idle.reason == "1.01 cores used, expected at least 1.50"
    quiet = judge(observation(others_cores=0.05, cpu_s=0.5, cpu_stall_s=0.6), [cpu_check(False)])
    assert quiet.status == Status.FAIL  # a quiet machine: the run's own processes competed
    assert quiet.cpu_stall_s == 0.6 and RunResult.from_dict(quiet.to_dict()).cpu_stall_s == 0.6  # in the JSON
    assert judge(observation(), [cpu_check(True)]).cpu_stall_s is None


def test_a_busy_machine_excuses_only_cpu_checks() -> None:
    r = judge(observation(others_cores=0.9), [cpu_check(False), own("order", False, "came first")])
    assert r.status == Status.FAIL and "came first" in r.reason
    assert judge(observation(others_cores=0.9), [own("order", False, "came first")]).status == Status.FAIL
