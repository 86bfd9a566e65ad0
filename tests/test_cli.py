"""The command line as a user meets it: ``python -m kit`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.catalogue import EXAMPLES

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
