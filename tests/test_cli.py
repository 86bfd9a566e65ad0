"""The command line as a user meets it: ``python -m kit`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from kit.catalogue import EXAMPLES
from kit.outcomes import Method, Status
from kit.results import PlatformInfo, RunResult

pytestmark = pytest.mark.slow  # every test runs python -m kit
ROOT = Path(__file__).resolve().parent.parent


def kit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, encoding="utf-8")


@pytest.fixture
def unparsable(tmp_path: Path) -> str:
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n    pass\n")
    return str(path)


@pytest.mark.parametrize("args, says", [
    (["run", "nope"], "unknown example 'nope'"),
    (["run", "missing_script.py"], "no such script: missing_script.py"),
    (["run", "hello", "--method", "vfork"], "invalid choice: 'vfork'"),
    (["run", "hello", "--scale", "-1"], "must be positive"),
    (["run", "hello", "--timeout", "soon"], "not a number"),
    (["matrix", "--examples", "hello", "nope"], "unknown example 'nope'"),
    (["matrix", "--methods", "threads"], "invalid choice: 'threads'"),
    ([], "the following arguments are required: command"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["matrix", "--targets", "host,vm"], "unknown target 'vm'"),
    (["matrix", "--targets", "docker:2.7"], "unknown target 'docker:2.7'"),
    (["run", "hello", "--timeout", "nan"], "must be a finite number"),
    (["run", "hello", "--timeout", "1e300"], "must be at most"),
    (["run", "hello", "--scale", "inf"], "must be a finite number"),
    (["run", "hello", "extra"], "arguments are for scripts"),
    (["run", "hello", "--json", "no/such/folder/out.json"], "does not exist"),
    (["matrix", "--markdown", "tests"], "is a directory"),
    (["images", "--python", "3.8"], "no image for Python 3.8"),
    (["images", "--keep", "2"], "--keep goes with --prune"),
    (["images", "--list", "--prune"], "not allowed with argument"),
    (["images", "--prune", "--keep", "0"], "must be between 1 and"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    """Bad input gets one clear line on stderr, exit status 2, no traceback, nothing run."""
    r = kit(*args)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_a_script_that_does_not_parse_is_refused_before_running(unparsable: str) -> None:
    r = kit("run", unparsable)
    assert r.returncode == 2
    assert r.stderr.strip() == f"kit: error: {unparsable} does not parse: invalid syntax (line 1)"


def test_a_parsable_script_is_run_not_refused() -> None:
    """The parse check is not a blanket refusal: a good script runs."""
    r = kit("run", str(ROOT / "tests" / "variants" / "guarded.py"), "--method", "fork")
    assert r.returncode == 0, r.stderr
    assert "kit: error" not in r.stderr


def test_list_names_every_example_once() -> None:
    r = kit("list")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == list(EXAMPLES)


def test_run_json_to_stdout_is_parsable_and_has_the_documented_keys() -> None:
    r = kit("run", "guard", "--method", "spawn", "--json", "-")
    assert r.returncode == 0, r.stderr
    (result,) = json.loads(r.stdout)
    for key in ("example", "method", "status", "reason", "wall_s", "exitcode", "cores_used",
                "peak_processes", "orphans", "daemons_terminated", "stdout", "stderr", "platform"):
        assert key in result
    assert result["status"] == "pass"
    assert "bootstrapping phase" in result["stderr"]
    assert {"os", "python", "implementation", "default_method", "cpu_count"} <= result["platform"].keys()
    assert "guard under spawn: PASS" in r.stderr  # the human summary moves to stderr


def test_matrix_writes_json_and_markdown_and_fails_when_a_cell_fails(tmp_path: Path) -> None:
    """Exit 1 when any cell fails (here: a timeout far too short for the run)."""
    out, md = tmp_path / "m.json", tmp_path / "m.md"
    ok = kit("matrix", "--targets", "host", "--examples", "hello", "queue", "--methods", "fork", "spawn",
             "--json", str(out), "--markdown", str(md))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    cells = json.loads(out.read_text(encoding="utf-8"))
    assert [(c["example"], c["method"]) for c in cells] == [
        ("hello", "fork"), ("hello", "spawn"), ("queue", "fork"), ("queue", "spawn")]
    assert "| hello | pass" in md.read_text(encoding="utf-8")
    assert "4 of 4 cells pass" in ok.stdout

    bad = kit("matrix", "--targets", "host", "--examples", "lock", "--methods", "spawn", "--timeout", "0.2")
    assert bad.returncode == 1
    assert "timeout" in bad.stdout and "0 of 1 cells pass" in bad.stdout


def test_matrix_without_a_daemon_runs_the_host_and_says_why_in_one_line() -> None:
    """``auto`` (``nox -s matrix``'s) degrades to the host with one line: why, and how to enable containers."""
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:1"}
    r = subprocess.run([sys.executable, "-m", "kit", "matrix", "--targets", "auto", "--examples", "hello",
                        "--methods", "fork"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, env=env, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("containers skipped")]
    assert len(said) == 1, r.stderr
    assert "no Docker daemon answers at tcp://127.0.0.1:1" in said[0] and "kit images" in said[0]
    assert "1 of 1 cells pass" in r.stdout


def test_asking_for_containers_by_name_without_a_daemon_is_an_error() -> None:
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:1"}
    r = subprocess.run([sys.executable, "-m", "kit", "matrix", "--targets", "docker:3.14"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, env=env, encoding="utf-8")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("kit: error: cannot run on docker:3.14: no Docker daemon answers")


# -- in this process (kit.cli.main): the wrong inputs of a user, refused before anything runs ------------
@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user's folder (a directory d, a script, a text file, a test file, a results file) as the current
    folder; every runner replaced by one that fails the test, and pytest's signal handlers restored."""
    import signal

    import kit.places

    (tmp_path / "d").mkdir()
    (tmp_path / "script.py").write_text("print('hi')\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not Python\n", encoding="utf-8")
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    (tmp_path / "existing.json").write_text('{"keep": 1}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    def must_not_run(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("something ran")

    for name in ("run_subject", "run_places", "run_suite"):
        monkeypatch.setattr(kit.places, name, must_not_run)
    monkeypatch.setattr("kit.bench.main.run", must_not_run)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield tmp_path
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Exit 2, one line on stderr and nothing on stdout (the runners in ``user`` fail the test if called)."""
    from kit import cli

    status = cli.main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (status, err)
    assert out == "" and len(err.splitlines()) == 1, err
    return err.strip()


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("argv, says", [
    (["run", "d"], "kit: error: d is a directory (kit pytest d runs a project's tests; kit run takes a script or "
                   "an example name)"),
    (["run", "helo"], "kit: error: unknown example 'helo': did you mean 'hello'?"),
    (["run", "scirpt.py"], "kit: error: no such script: scirpt.py; did you mean 'script.py'?"),
    (["run", "script"], "kit: error: unknown example 'script': did you mean 'script.py'?"),
    (["run", "hello.py"], "kit: error: no such script: hello.py; did you mean the example 'hello' (kit run hello)?"),
    (["run", "notes.txt"], "kit: error: notes.txt is not a Python script (kit run takes a .py file or an example "
                           "name)"),
    (["pytest", "dd"], "kit: error: no such folder: dd; did you mean 'd'?"),
    (["pytest", "test_a.py"], "kit: error: test_a.py is a file, not a folder: kit pytest runs pytest in a project's "
                              "folder (for that one file: kit pytest . -- test_a.py)"),
    (["matrix", "--examples", "helo"], "kit: error: unknown example 'helo': did you mean 'hello'?"),
])
def test_a_wrong_subject_is_guessed_in_one_line(user: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                                says: str) -> None:
    assert refused(argv, capsys) == says


@pytest.mark.parametrize("argv", [["run", "nope"], ["run", "xyz.py"], ["matrix", "--examples", "zzz"],
                                  ["pytest", "qqq"]])
def test_a_far_off_name_gets_no_guess(user: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """The broken variant of a guesser suggests something for anything: these names are near nothing."""
    line = refused(argv, capsys)
    assert "did you mean" not in line, line
    assert argv[-1] in line


def test_an_example_wins_over_a_folder_of_its_name_and_a_python_file_without_py_is_a_script(user: Path) -> None:
    from kit import catalogue, cli

    (user / "hello").mkdir()
    assert cli._subject("hello", []).kind != catalogue.SCRIPT
    (user / "tool").write_text("#!/usr/bin/env python3\nprint('hi')\n", encoding="utf-8")
    assert cli._subject("tool", []).kind == catalogue.SCRIPT


BAD_PATHS = [
    ("d", "is a directory"),
    ("missing/out.json", "the folder missing does not exist"),
    ("script.py/out.json", "the folder script.py is not a folder"),
    ("/dev/full", "cannot write to it (No space left on device)"),
]
if Path("/proc/self").is_dir():
    BAD_PATHS.append(("/proc/x.json", "cannot create a file there"))


@pytest.mark.parametrize("path, says", BAD_PATHS)
@pytest.mark.parametrize("command", [["run", "hello", "--json"], ["run", "hello", "--markdown"],
                                     ["matrix", "--examples", "hello", "--targets", "host", "--junit-xml"],
                                     ["pytest", ".", "--json"], ["report", "existing.json", "--markdown"],
                                     ["bench", "--json"]])
def test_a_bad_output_path_is_refused_before_anything_runs(user: Path, capsys: pytest.CaptureFixture[str],
                                                           command: list[str], path: str, says: str) -> None:
    before = listing(user)
    line = refused([*command, path], capsys)
    assert line.startswith(f"kit: error: {command[-1]} {path}: ") and says in line, line
    assert listing(user) == before  # nothing created, nothing clobbered


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes through permissions")
def test_a_read_only_folder_is_refused(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = user / "locked"
    locked.mkdir(mode=0o500)
    try:
        line = refused(["run", "hello", "--json", str(locked / "out.json")], capsys)
    finally:
        locked.chmod(0o700)
    assert "cannot create a file there (Permission denied)" in line


def test_a_good_existing_output_keeps_its_content_until_the_results_come(user: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A refused run (another path is bad) leaves a good output file as it was."""
    refused(["matrix", "--examples", "hello", "--json", "existing.json", "--markdown", "/dev/full"], capsys)
    assert (user / "existing.json").read_text(encoding="utf-8") == '{"keep": 1}\n'


def fake_results(subject: str = "hello") -> list[RunResult]:
    here = PlatformInfo.here()
    return [RunResult(subject, Method(m), Status.PASS, "ok", platform=here, stdout="same\n")
            for m in ("fork", "spawn")]


def test_a_write_that_fails_at_the_end_keeps_the_results_in_a_named_file(
        user: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder of --json disappears during the run: the JSON goes to ./kit-results-*.json, the message
    says where, exit 4 (errors.ResultsElsewhere); the other outputs are written where asked."""
    import shutil

    import kit.places
    from kit import cli, errors, results

    (user / "out").mkdir()

    def run_places(*args: object) -> list[RunResult]:
        shutil.rmtree(user / "out")
        return fake_results()

    monkeypatch.setattr(kit.places, "run_places", run_places)
    status = cli.main(["matrix", "--examples", "hello", "--json", "out/m.json", "--markdown", "m.md", "-q"])
    err = capsys.readouterr().err
    kept = sorted(user.glob("kit-results-*.json"))
    assert status == errors.RESULTS_ELSEWHERE == 4, err
    assert len(kept) == 1 and err.strip().splitlines()[-1] == (
        f"kit: error: --json out/m.json: cannot write (No such file or directory); written to {kept[0]} instead")
    assert [r.method for r in results.load(kept[0].read_text(encoding="utf-8"))] == ["fork", "spawn"]
    assert "| hello | pass" in (user / "m.md").read_text(encoding="utf-8")


def test_kit_run_writes_markdown_and_the_step_summary(user: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import kit.places
    from kit import cli

    def run_subject(targets: str, subject: object, methods: object, settings: object, show: Callable[..., None],
                    say: object) -> None:
        for r in fake_results():
            show(r)

    monkeypatch.setattr(kit.places, "run_subject", run_subject)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(user / "summary.md"))
    assert cli.main(["run", "hello", "--markdown", "run.md", "-q"]) == 0, capsys.readouterr().err
    table = (user / "run.md").read_text(encoding="utf-8")
    assert "| example | fork" in table and "| hello | pass" in table and "2 of 2 cells pass" in table
    assert "| hello | pass" in (user / "summary.md").read_text(encoding="utf-8")


def test_one_method_never_says_every_method() -> None:
    """``--method spawn``, and ``--method default`` on two targets whose defaults differ, are one method."""
    from kit.diagnose import summary_line

    def started(rs: list[RunResult]) -> list[RunResult]:
        for r in rs:
            r.methods_used = [str(r.method)]
        return rs

    one = started(fake_results()[1:])
    assert summary_line(one) == "pass under spawn, the only method run: nothing compared across methods"
    defaults = started(fake_results())
    for r, place in zip(defaults, ("host", "docker:3.14")):
        r.requested_method, r.platform = "default", PlatformInfo.here(place)
    said = summary_line(defaults)
    assert said == "pass under each target's default method (fork, spawn), the only method run: nothing compared " \
                   "across methods"
    failed = fake_results()[1:]  # no process started (methods_used empty), and it failed
    failed[0].status = Status.FAIL
    assert summary_line(failed) == "fail under spawn before any process was started: nothing to compare"
    assert summary_line(started(fake_results())) == "same under every method (pass)"  # two methods: it is said
