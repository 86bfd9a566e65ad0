"""``kit run SCRIPT`` across start methods: what is compared, and what is said when nothing can be.

(a) output comparison ignores what varies from run to run whatever the method (times, durations,
    addresses, pids, what ``--ignore-output`` marks) and lines run together by processes printing
    at once, yet still catches a real difference beside them; the diff shows the compared text;
(b) a script that started no process has nothing to compare (and a pytest file gets a hint);
(c) a script named like a standard-library module gets ``shadows_stdlib``;
(d) one method run is not "same under every method".
Each part pairs the broken shape (a real difference, a shadowing error...) with the harmless one.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import explain, run_bounded

from kit import diagnose
from kit.catalogue import example_subject, script_subject
from kit.cli import parse_args
from kit.diagnose import compare, compared_lines, ignore_patterns, shadowing_file, summary_line
from kit.events import Event
from kit.observation import End, Observation, Output
from kit.outcomes import Code, Ev, Method, Role, Status
from kit.results import Diagnosis, PlatformInfo, ProcRecord, RunResult
from kit.settings import Settings
from kit.source import SourceFacts, analyse_file, shadowed_module

ROOT = Path(__file__).resolve().parents[1]


def result(method: str, stdout: str = "", *, status: Status = Status.PASS, exitcode: int | None = 0,
           target: str = "host", pids: tuple[int, ...] = (), started: bool = True) -> RunResult:
    platform = PlatformInfo(os="Linux", python="3.11.7", implementation="CPython", default_method="fork",
                            methods=["fork", "spawn", "forkserver"], cpu_count=2, machine="x86_64", place=target)
    procs = [ProcRecord(pid=p, ppid=1, name="python3", cmdline=["python3"], create_time=0.0, role=Role.WORKER,
                        first_seen_s=0.0, last_seen_s=0.5, gone_s=0.5, cpu_s=0.1) for p in pids]
    return RunResult("script.py", Method(method), status, "reason", exitcode=exitcode, stdout=stdout,
                     platform=platform, processes=procs, requested_method=method,
                     methods_used=[method] if started else [])


def differs(fork_out: str, spawn_out: str, ignore: tuple[str, ...] = ()) -> str:
    """The output_differs message of the spawn run against the fork run, "" when they compare equal."""
    rs = [result("fork", fork_out), result("spawn", spawn_out)]
    compare(rs, ignore=ignore)
    found = [d.message for d in rs[1].diagnoses if d.code is Code.OUTPUT_DIFFERS]
    return found[0] if found else ""


# -- (a) what varies from run to run is not a difference -----------------------------------------
@pytest.mark.parametrize(("fork_out", "spawn_out"), [
    ("square 4 took 0.0002s\n", "square 4 took 0.0042s\n"),
    ("sorted 0.012 s later\n", "sorted 0.3 s later\n"),
    ("===== 4 passed in 0.06s =====\n", "===== 4 passed in 1.25s =====\n"),  # pytest's last line
    ("step 1.2ms\n", "step 13.75ms\n"),
    ("slept 3 seconds\n", "slept 4 seconds\n"),
    ("started at 2026-12-06 18:19:39.123456\n", "started at 2026-12-06 18:19:41.020001\n"),
    ("2026-12-06T18:19:39+00:00 INFO go\n", "2026-12-07T01:02:03+00:00 INFO go\n"),
    ("at 18:19:39\n", "at 18:19:40\n"),
    ("18:19:39,123 log line\n", "18:19:39,456 log line\n"),
    ("now 1765045179.123\n", "now 1765045180.987\n"),
    ("<__main__.Box object at 0x7f7eb34e7650>\n", "<__main__.Box object at 0x7f03ebf0a010>\n"),
])
def test_times_durations_and_addresses_are_not_differences(fork_out: str, spawn_out: str) -> None:
    assert differs(fork_out, spawn_out) == ""


@pytest.mark.parametrize(("fork_out", "spawn_out", "shown"), [
    ("square 4 took 0.01s\n", "square 9 took 0.02s\n", "(-square 4 took <duration> | +square 9 took <duration>)"),
    ("at 18:19:39 counter = 100\n", "at 18:19:40 counter = 0\n", "(-at <time> counter = 100 | +at <time> counter = 0)"),
    ("got 12 items\n", "got 13 items\n", "(-got 12 items | +got 13 items)"),  # a number with no unit is data
])
def test_a_real_difference_beside_a_duration_is_caught_and_the_diff_is_the_compared_text(
        fork_out: str, spawn_out: str, shown: str) -> None:
    assert differs(fork_out, spawn_out).endswith(shown)


def test_pids_of_either_run_are_blanked_on_both_sides() -> None:
    fork = result("fork", "worker 4242 says 7\n", pids=(1000, 4242))
    spawn = result("spawn", "worker 515 says 7\n", pids=(1001, 515))
    compare([fork, spawn])
    assert spawn.diagnoses == []
    fork = result("fork", "worker 4242 says 7\n", pids=(4242,))
    spawn = result("spawn", "worker 515 says 8\n", pids=(515,))
    compare([fork, spawn])
    assert spawn.diagnoses[0].message.endswith("(-worker <pid> says 7 | +worker <pid> says 8)")


def test_ignore_output_leaves_out_what_it_matches_and_only_that() -> None:
    fork_out, spawn_out = "rolled 0.94\ndone 3\n", "rolled 0.09\ndone 3\n"
    assert differs(fork_out, spawn_out).endswith("(-rolled 0.94 | +rolled 0.09)")
    assert differs(fork_out, spawn_out, ignore=(r"^rolled .*",)) == ""
    assert differs(fork_out, spawn_out, ignore=(r"rolled \S+",)) == ""
    # a match is removed, not its line: the rest of the line is still compared
    kept = differs("rolled 0.94 of 6\n", "rolled 0.09 of 7\n", ignore=(r"0\.\d+",))
    assert kept.endswith("(-rolled  of 6 | +rolled  of 7)")
    # what it does not match still differs
    assert differs(fork_out + "total 1\n", spawn_out + "total 2\n", ignore=(r"^rolled .*",)).endswith(
        "(-total 1 | +total 2)")


def test_a_bad_ignore_regex_names_itself() -> None:
    with pytest.raises(ValueError, match=r"not a regular expression: '\('"):
        ignore_patterns(["ok", "("])
    from kit.errors import UsageError

    with pytest.raises(UsageError, match=r"--ignore-output: not a regular expression: '\('"):
        parse_args(["run", "x.py", "--ignore-output", "("])


def test_ignore_output_reaches_the_settings_repeatable() -> None:
    args = parse_args(["run", "x.py", "--ignore-output", "^tick", "--ignore-output", r"id=\d+"])
    assert Settings.from_args(args).ignore_output == ("^tick", r"id=\d+")
    assert Settings.from_args(parse_args(["run", "x.py"])).ignore_output == ()


@pytest.mark.slow
def test_a_bad_ignore_regex_is_refused_by_the_command_before_running(tmp_path: Path) -> None:
    script = tmp_path / "never_run.py"
    script.write_text("open(__file__ + '.ran', 'w').close()\n")
    out = subprocess.run([sys.executable, "-m", "kit", "run", str(script), "--ignore-output", "[a-"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2
    assert "not a regular expression: '[a-'" in out.stderr
    assert not (tmp_path / "never_run.py.ran").exists()


# -- (a) lines run together by processes printing at once ------------------------------------------
def test_lines_run_together_are_the_same_lines() -> None:
    assert differs("1车通过\n2车通过\n3车通过\n", "2车通过1车通过\n\n3车通过\n") == ""
    # run together differently on each side: no piece is ever a whole line on its own
    fork_out = "15车通过\n16车通过17车通过\n18车通过19车通过\n\n\n"
    assert differs(fork_out, "15车通过17车通过16车通过18车通过\n19车通过\n\n\n") == ""


@pytest.mark.parametrize(("fork_out", "spawn_out"), [
    ("1车通过2车通过\n\n", "1车通过\n3车通过\n"),  # a lost line and a new one, hidden in a merge
    ("x=1\ny=2\n", "x=2\ny=1\n"),  # values swapped between lines: the same tokens, not the same lines
    ("total 12\n", "total 1\n2\n"),  # a number is never cut in two
    ("done\n", "done\ndone\n"),  # a line printed twice (a buffer flushed in two processes)
])
def test_a_difference_is_not_explained_away_as_interleaving(fork_out: str, spawn_out: str) -> None:
    assert differs(fork_out, spawn_out)


# stdout of `kit run event` under each method (host, 3.11): cars print at once, the light on a timer
EVENT_FORK = "\n".join([
    "绿灯亮", "0车通过", "3车通过", "1车通过", "2车通过", "5车通过4车通过", "", "红灯亮", "绿灯亮", "6车通过",
    "8车通过", "7车通过", "10车通过", "9车通过", "13车通过", "12车通过", "14车通过", "16车通过", "11车通过", "15车通过",
    "17车通过", "18车通过", "19车通过", ""])
EVENT_SPAWN = "\n".join([
    "绿灯亮", "4车通过", "红灯亮", "绿灯亮", "2车通过", "3车通过", "7车通过", "1车通过", "5车通过", "红灯亮", "绿灯亮",
    "0车通过", "9车通过", "红灯亮", "绿灯亮", "8车通过", "16车通过", "6车通过", "17车通过", "15车通过", "10车通过",
    "14车通过", "13车通过", "11车通过", "18车通过", "红灯亮", "绿灯亮", "12车通过", "19车通过", ""])
EVENT_FORKSERVER = "\n".join([
    "绿灯亮", "0车通过", "1车通过", "3车通过", "2车通过", "4车通过", "5车通过", "6车通过8车通过", "", "10车通过",
    "7车通过", "11车通过", "9车通过", "红灯亮", "绿灯亮", "12车通过", "14车通过", "16车通过13车通过", "", "17车通过",
    "15车通过", "18车通过", "19车通过", ""])


def test_the_event_example_is_the_same_under_every_method() -> None:
    """The cars' lines run together (tolerated for every script); the light's lines depend on how long
    the run lasts (spawn starts 20 processes slower): the example declares them, as a user would with
    --ignore-output.  Without the declaration the light's count is a difference, as it must be."""
    ignore = example_subject("event").ignore_output
    assert ignore
    rs = [result("fork", EVENT_FORK), result("spawn", EVENT_SPAWN), result("forkserver", EVENT_FORKSERVER)]
    compare(rs, ignore=ignore)
    assert [r.diagnoses for r in rs] == [[], [], []]
    assert summary_line(rs) == "same under every method (pass)"
    compare(rs)
    assert rs[1].diagnoses[0].message.endswith("(+红灯亮 | +红灯亮 | +红灯亮 | +绿灯亮 | +绿灯亮 | +绿灯亮)")
    assert rs[2].diagnoses == []  # forkserver's light changed as often as fork's: only merged lines


def test_compared_lines_are_what_the_diff_shows() -> None:
    fork, spawn = result("fork", "b took 1s\na 0x1f\n"), result("spawn", "a 0x2e\nb took 2s\n")
    assert compared_lines(spawn, fork) == (["a 0x...", "b took <duration>"], ["a 0x...", "b took <duration>"])


# -- (b) nothing started, nothing compared --------------------------------------------------------
def test_a_run_that_started_no_process_has_nothing_to_compare() -> None:
    rs = [result(m, "42\n", started=False) for m in ("fork", "spawn", "forkserver")]
    compare(rs)
    assert summary_line(rs) == "no process was started: nothing depends on the start method here (pass)"
    failing = [result(m, "", status=Status.FAIL, exitcode=1, started=False) for m in ("fork", "spawn")]
    assert summary_line(failing) == "fail under every method before any process was started: nothing to compare"
    # the broken shape: processes were started, and the runs agree
    rs = [result(m, "42\n") for m in ("fork", "spawn", "forkserver")]
    assert summary_line(rs) == "same under every method (pass)"
    # no process, but the output depends on the method (it prints get_start_method()): still a difference
    rs = [result("fork", "fork\n", started=False), result("spawn", "spawn\n", started=False)]
    compare(rs)
    assert summary_line(rs).startswith("differs: ")


TEST_MODULE = """\
from multiprocessing import Pool


def square(x):
    return x * x


def test_pool():
    with Pool(2) as pool:
        assert pool.map(square, [1, 2]) == [1, 4]
"""


def test_a_pytest_file_is_recognised_by_its_name_and_its_test_functions(tmp_path: Path) -> None:
    (tmp_path / "test_pool.py").write_text(TEST_MODULE)
    (tmp_path / "pool_test.py").write_text(TEST_MODULE)
    (tmp_path / "test_helpers.py").write_text("def helper():\n    return 1\n")  # named so, but no test
    (tmp_path / "pool.py").write_text(TEST_MODULE)  # test functions, but not named so
    (tmp_path / "test_cls.py").write_text("class TestPool:\n    def test_one(self):\n        pass\n")
    looks = {p.name: analyse_file(p).looks_like_tests for p in sorted(tmp_path.iterdir())}
    assert looks == {"pool.py": False, "pool_test.py": True, "test_cls.py": True, "test_helpers.py": False,
                     "test_pool.py": True}


@pytest.mark.slow
def test_running_a_test_file_says_nothing_ran_and_to_use_kit_pytest(tmp_path: Path) -> None:
    """End to end: today's three green cells for zero tests become one line saying why."""
    path = tmp_path / "test_pool.py"
    path.write_text(TEST_MODULE)
    subject = script_subject(str(path))
    rs = [run_bounded(subject, m) for m in ("fork", "spawn")]
    for r in rs:
        assert r.status is Status.PASS and r.methods_used == [], explain(r)
    compare(rs, subject.facts)
    assert summary_line(rs, subject.facts) == ("no process was started: nothing depends on the start method here "
                                               "(pass); this looks like a test file: use `kit pytest`")
    assert summary_line(rs) == "no process was started: nothing depends on the start method here (pass)"


@pytest.mark.slow
def test_a_script_that_starts_a_process_is_compared(tmp_path: Path) -> None:
    path = tmp_path / "starts.py"
    path.write_text(TEST_MODULE + "\n\nif __name__ == '__main__':\n    test_pool()\n    print('ok')\n")
    subject = script_subject(str(path))
    rs = [run_bounded(subject, m) for m in ("fork", "spawn")]
    assert all(r.methods_used for r in rs), [explain(r) for r in rs]
    compare(rs, subject.facts)
    assert summary_line(rs, subject.facts) == "same under every method (pass)"


# -- (c) a script named like a standard-library module --------------------------------------------
def test_the_name_check() -> None:
    assert [shadowed_module(n) for n in ("random.py", "/x/queue.py", "my_random.py", "random.txt", "kit.py")] == [
        "random", "queue", "", "", ""]
    assert analyse_file(ROOT / "kit" / "examples" / "queue.py").shadows == "queue"


@pytest.mark.parametrize(("error", "facts", "found"), [
    ("ImportError: cannot import name 'Random' from 'random' (/home/me/random.py)", None, "/home/me/random.py"),
    ("ImportError: cannot import name 'Empty' from 'queue' (C:\\Users\\me\\queue.py)", None, "C:\\Users\\me\\queue.py"),
    ("ImportError: cannot import name 'x' from partially initialized module 'json' (most likely due to a circular "
     "import) (/home/me/json/__init__.py)", None, "/home/me/json/__init__.py"),
    ("AttributeError: module 'random' has no attribute 'Random' (consider renaming '/home/me/random.py' since it has "
     "the same name as the standard library module named 'random' and the import system gives it precedence)", None,
     "/home/me/random.py"),
    ("AttributeError: module 'random' has no attribute 'randint'", SourceFacts(shadows="random"), "random.py"),
    # the broken shapes that are not shadowing
    ("AttributeError: module 'random' has no attribute 'randint'", None, ""),  # the script is not random.py
    ("ImportError: cannot import name 'Foo' from 'random' (/usr/lib/python3.12/random.py)", None, ""),  # the real one
    ("ImportError: cannot import name 'Foo' from 'json' (C:\\Python312\\Lib\\json\\__init__.py)", None, ""),
    ("ImportError: cannot import name 'x' from 'mylib' (/home/me/mylib.py)", None, ""),  # not a stdlib name
    ("ImportError: cannot import name 'Random' from 'random' (/home/me/other.py)", None, ""),
    ("ValueError: module 'random' (/home/me/random.py)", SourceFacts(shadows="random"), ""),
])
def test_shadowing_is_read_from_the_error_line(error: str, facts: SourceFacts | None, found: str) -> None:
    assert shadowing_file(error, facts) == found


PLATFORM = PlatformInfo(os="Linux", python="3.11.7", implementation="CPython", default_method="fork",
                        methods=["fork", "spawn", "forkserver"], cpu_count=2, machine="x86_64")


def _observation(*events: Event, method: str = "forkserver") -> Observation:
    return Observation(subject="random.py", method=method, scale=0.1, platform=PLATFORM, main_pid=1000,
                       end=End.EXITED, exitcode=0, wall_s=0.5, cpu_s=0.1, peak_processes=2, timeout_s=60.0,
                       events=events, stdout=Output("", 0), stderr=Output("", 0))


def test_a_child_that_imports_the_script_as_a_module_gets_the_rename_not_the_generic_fix() -> None:
    error = "ImportError: cannot import name 'Random' from 'random' (/home/me/random.py)"
    obs = _observation(Event(1, 1000, Ev.PROCESS_STARTED, {"child": 2001, "name": "SpawnPoolWorker-1",
                                                          "method": "forkserver"}),
                       Event(2, 2001, Ev.CHILD_ERROR, {"name": "SpawnPoolWorker-1", "error": error}))
    found = {d.code: d for d in diagnose.diagnose(obs, SourceFacts(shadows="random"))}
    assert set(found) == {Code.SHADOWS_STDLIB}  # not worker_died as well
    d = found[Code.SHADOWS_STDLIB]
    assert d.message == ("under forkserver, the script is imported in place of the standard library's random module "
                         f"(in SpawnPoolWorker-1 (pid 2001)): {error}")
    assert d.fix.startswith("Rename random.py (for example to my_random.py):")
    # the broken shape: the same child dies of another ImportError -> the generic diagnosis, no rename
    other = "ImportError: cannot import name 'nope' from 'mylib' (/home/me/mylib.py)"
    obs = _observation(Event(2, 2001, Ev.CHILD_ERROR, {"name": "SpawnPoolWorker-1", "error": other}))
    assert [d.code for d in diagnose.diagnose(obs, SourceFacts(shadows="random"))] == [Code.WORKER_DIED]


def test_a_file_beside_the_script_is_named_as_such() -> None:
    error = "ImportError: cannot import name 'Empty' from 'queue' (/home/me/queue.py)"
    obs = _observation(Event(1, 1000, Ev.SCRIPT_ERROR, {"error": error}))
    (d,) = diagnose.diagnose(obs, SourceFacts())
    assert d.code is Code.SHADOWS_STDLIB
    assert d.message.startswith("under forkserver, the file /home/me/queue.py is imported in place of the standard "
                                "library's queue module (in the main process)")


QUEUE_SCRIPT = """\
from multiprocessing import Process, Queue


def put(q):
    q.put("hello")


if __name__ == "__main__":
    q = Queue()
    p = Process(target=put, args=(q,))
    p.start()
    print(q.get())
    p.join()
"""


@pytest.mark.slow
def test_a_script_named_queue_py_is_diagnosed_for_real(tmp_path: Path) -> None:
    """multiprocessing.queues does ``from queue import Empty, Full``: queue.py is found first."""
    path = tmp_path / "queue.py"
    path.write_text(QUEUE_SCRIPT)
    subject = script_subject(str(path))
    r = run_bounded(subject, "spawn")
    assert r.status is Status.FAIL, explain(r)
    (d,) = [d for d in r.diagnoses if d.code is Code.SHADOWS_STDLIB]
    assert "the script is imported in place of the standard library's queue module (in the main process)" in d.message
    assert f"({path})" in d.message and d.fix.startswith("Rename queue.py")
    # the broken shape's twin, renamed: runs, and nothing of the kind is said
    renamed = tmp_path / "my_queue.py"
    renamed.write_text(QUEUE_SCRIPT)
    path.unlink()
    r = run_bounded(script_subject(str(renamed)), "spawn")
    assert r.status is Status.PASS and not r.has(Code.SHADOWS_STDLIB), explain(r)


# -- (d) one method ------------------------------------------------------------------------------------
def test_one_method_is_not_same_under_every_method() -> None:
    assert summary_line([result("fork")]) == "pass under fork, the only method run: nothing compared across methods"
    two_places = [result("spawn"), result("spawn", target="docker:3.14")]
    assert summary_line(two_places) == ("pass under spawn on every target, the only method run: "
                                        "nothing compared across methods")
    # the broken shape: two methods that agree are "same under every method"
    assert summary_line([result("fork"), result("spawn")]) == "same under every method (pass)"
    failing = [result("fork"), result("fork", target="docker:3.14", status=Status.FAIL)]
    failing[1].diagnoses.append(Diagnosis(Code.WORKER_DIED, "m", "f"))
    assert summary_line(failing).startswith("differs: ")


# -- the tests above against broken kits ------------------------------------------------------------
def test_a_kit_that_compares_raw_text_fails_these_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the placeholders, or without the tolerance for lines run together, the cases above
    come out the other way: the tests would catch such a kit."""
    monkeypatch.setattr(diagnose, "_VARIES", ())
    assert differs("square 4 took 0.0002s\n", "square 4 took 0.0042s\n")
    monkeypatch.undo()
    monkeypatch.setattr(diagnose, "_unmerged", lambda mine, theirs: sorted(mine))
    assert differs("1车通过\n2车通过\n", "2车通过1车通过\n\n")
    rs = [result("fork", EVENT_FORK), result("forkserver", EVENT_FORKSERVER)]
    compare(rs, ignore=example_subject("event").ignore_output)
    assert rs[1].has(Code.OUTPUT_DIFFERS)


def test_a_marked_line_printed_into_another_one_is_left_out_too() -> None:
    """A car's line and the light's, run together ("11车通过红灯亮"): the car is compared, the light not."""
    assert differs("11车通过\n红灯亮\n", "11车通过红灯亮\n\n红灯亮\n绿灯亮\n", ignore=("^(红灯亮|绿灯亮)$",)) == ""
    light = ("^(红灯亮|绿灯亮)$",)
    assert differs("11车通过\n红灯亮\n", "12车通过红灯亮\n\n", ignore=light).endswith("(-11车通过 | +12车通过)")
