"""kit._pytest_plugin: each test's outcome, as pytest itself reports it, recorded from a foreign interpreter.

The small projects in tests/projects are copied to a temporary folder and run as ``kit pytest`` will:
``python -m kit.launcher METHOD -m pytest -p kit._pytest_plugin ...`` in a virtual environment that has
pytest (7 or 8, from PyPI) and not the kit, with the staged runtime (``kit.runtime``) on ``PYTHONPATH``.
The events are compared with pytest's own verbose lines and JUnit XML from the same run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support import require_method

from kit import runtime
from kit._pytest_plugin import outcome_of
from kit.events import Event, load

pytestmark = pytest.mark.slow  # runs interpreters and pytest


PROJECTS = Path(__file__).resolve().parent / "projects"
VERBOSE = re.compile(r"^(?P<id>\S+::\S+) (?P<word>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b", re.M)
WORDS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped", "XFAIL": "xfailed",
         "XPASS": "xpassed"}
EXPECTED = {  # tests/projects/outcomes, as pytest -v says them (checked against that in every run below)
    "test_outcomes.py::test_passes": ("passed", None),
    "test_outcomes.py::test_fails": ("failed", "AssertionError: arithmetic is broken"),
    "test_outcomes.py::test_raises": ("failed", "ValueError: a value"),
    "test_outcomes.py::test_skipped": ("skipped", "not on this machine"),
    "test_outcomes.py::test_skip_marker": ("skipped", "marked to skip"),
    "test_outcomes.py::test_xfail": ("xfailed", "known bug"),
    "test_outcomes.py::test_xfail_imperative": ("xfailed", "given up at run time"),
    "test_outcomes.py::test_xpass": ("xpassed", "fixed already?"),
    "test_outcomes.py::test_xpass_strict": ("failed", "[XPASS(strict)] must fail"),
    "test_outcomes.py::test_setup_error": ("error", "RuntimeError: fixture could not be set up"),
    "test_outcomes.py::test_teardown_error": ("error", "RuntimeError: fixture could not be torn down"),
    "test_outcomes.py::test_fails_and_teardown_error": ("failed", "AssertionError: the call failed too"),
    "test_outcomes.py::test_param[1]": ("passed", None),
    "test_outcomes.py::test_param[2]": ("failed", "assert 2 == 1"),
}


def make_venv(folder: Path, *requirements: str) -> str:
    """A virtual environment of this Python (no system packages: no psutil) with ``requirements`` from PyPI."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = str(folder / "bin" / "python")
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        pytest.skip(f"pip install {' '.join(requirements)} failed (no PyPI?): {done.stderr[-300:]}")
    return python


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pytest 7 and pytest 8 (with pytest-xdist), each in a venv that has never seen the kit."""
    base = tmp_path_factory.mktemp("venvs")
    return {"pytest7": make_venv(base / "p7", "pytest>=7,<8"),
            "pytest8": make_venv(base / "p8", "pytest>=8,<9", "pytest-xdist")}


@pytest.fixture(scope="session")
def staged(tmp_path_factory: pytest.TempPathFactory) -> runtime.Runtime:
    return runtime.stage(tmp_path_factory.mktemp("cache"))


class Run:
    """One ``python -m kit.launcher METHOD -m pytest`` run of a project: its events, output, JUnit."""

    def __init__(self, python: str, rt: runtime.Runtime, project: Path, method: str, *args: str,
                 events: bool = True) -> None:
        self.events_dir = project.parent / f"events-{project.name}-{method}"
        self.events_dir.mkdir(exist_ok=True)
        junit = project.parent / f"junit-{project.name}-{method}.xml"
        env = dict(os.environ, PYTHONPATH=rt.pythonpath())
        env.pop("KIT_EVENTS", None)
        if events:
            env["KIT_EVENTS"] = str(self.events_dir)
        cmd = [python, "-m", "kit.launcher", method, "-m", "pytest", "-p", "kit._pytest_plugin", "-v",
               f"--junitxml={junit}", *args]
        done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
        self.returncode, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr
        self.events: list[Event] = load(str(self.events_dir))
        self.junit = ET.parse(junit).getroot() if junit.exists() else None

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def outcomes(self) -> dict[str, tuple[str, str | None]]:
        return {e.data["nodeid"]: (e.data["outcome"], e.data["message"]) for e in self.of("test_end")}

    def verbose(self) -> dict[str, str]:
        """Each test's outcome from pytest's own ``-v`` lines (a phase that fails wins; the call's most)."""
        words: dict[str, list[str]] = {}
        for m in VERBOSE.finditer(self.stdout):
            words.setdefault(m["id"], []).append(WORDS[m["word"]])
        return {k: "failed" if "failed" in w else "error" if "error" in w else w[0] for k, w in words.items()}

    def junit_cases(self) -> dict[str, dict[str, Any]]:
        assert self.junit is not None
        out: dict[str, dict[str, Any]] = {}
        for case in self.junit.iter("testcase"):
            nodeid = f"{case.get('file') or case.get('classname', '').replace('.', '/') + '.py'}::{case.get('name')}"
            seen = out.setdefault(nodeid, {"tags": [], "types": [], "time": float(case.get("time") or 0), "cases": 0})
            seen["tags"] += [c.tag for c in case]
            seen["types"] += [c.get("type") for c in case]
            seen["cases"] += 1  # a call failure and a teardown error: two cases of one name
        return out

    def why(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-2000:]}"


def copy_project(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(PROJECTS / name, dest)
    return dest


def junit_outcome(case: dict[str, Any]) -> str:
    tags = case["tags"]
    if "failure" in tags:
        return "failed"
    if "error" in tags:
        return "error"
    if "skipped" in tags:
        return "xfailed" if "pytest.xfail" in case["types"] else "skipped"
    return "passed"  # an xpass too: JUnit has no word for it


PYTHONS = ["pytest7", "pytest8", "kit's"]


@pytest.mark.parametrize("which", PYTHONS)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_outcomes_are_pytests_own(which: str, method: str, venvs: dict[str, str], staged: runtime.Runtime,
                                  tmp_path: Path) -> None:
    """Every outcome, message and duration, as pytest's verbose lines and JUnit say them, in each pytest."""
    require_method(method)
    python = sys.executable if which == "kit's" else venvs[which]
    run = Run(python, staged, copy_project("outcomes", tmp_path), method, "-p", "no:cacheprovider")
    assert run.returncode == 1, run.why()
    got = run.outcomes()
    assert got == EXPECTED, run.why()
    assert {k: v[0] for k, v in got.items()} == run.verbose()
    cases = run.junit_cases()
    for nodeid, (outcome, _) in got.items():
        assert junit_outcome(cases[nodeid]) == ("passed" if outcome == "xpassed" else outcome), nodeid
    for end in run.of("test_end"):  # the same sum of phases JUnit reports (to its 3 decimals)
        if cases[end.data["nodeid"]]["cases"] == 1:
            assert abs(end.data["duration_s"] - cases[end.data["nodeid"]]["time"]) < 0.002, end
    starts = run.of("test_start")
    assert [e.data["nodeid"] for e in starts] == list(EXPECTED)  # in pytest's order, once each
    main = run.of("script_start")[0].pid
    assert {e.pid for e in starts + run.of("test_end")} == {main}
    assert all(e.data["worker"] is None for e in starts)
    (end,) = run.of("session_end")
    assert end.data == {"exitstatus": 1, "collected": len(EXPECTED), "deselected": 0, "collect_errors": 0,
                        "counts": {"passed": 2, "failed": 5, "error": 2, "skipped": 2, "xfailed": 2, "xpassed": 1}}
    assert run.of("script_start")[0].data["method"] == method


def test_a_file_with_no_test_is_known(venvs: dict[str, str], staged: runtime.Runtime, tmp_path: Path) -> None:
    run = Run(venvs["pytest8"], staged, copy_project("outcomes", tmp_path), "spawn", "test_nothing.py")
    assert run.returncode == 5, run.why()  # pytest's "no tests ran"
    assert run.of("test_start") == run.of("test_end") == []
    (end,) = run.of("session_end")
    assert end.data["collected"] == 0 and end.data["exitstatus"] == 5
    assert set(end.data["counts"].values()) == {0}


@pytest.mark.parametrize("which", ["pytest7", "pytest8"])
def test_a_collection_error_is_recorded(which: str, venvs: dict[str, str], staged: runtime.Runtime,
                                        tmp_path: Path) -> None:
    run = Run(venvs[which], staged, copy_project("broken", tmp_path), "fork")
    assert run.returncode == 2, run.why()  # interrupted: nothing ran
    (error,) = run.of("collect_error")
    assert error.data == {"nodeid": "test_broken_import.py",
                          "message": "ModuleNotFoundError: No module named 'kit_no_such_module'"}
    (end,) = run.of("session_end")
    assert end.data["exitstatus"] == 2 and end.data["collect_errors"] == 1 and run.of("test_end") == []


def test_x_k_and_importlib_mode(venvs: dict[str, str], staged: runtime.Runtime, tmp_path: Path) -> None:
    project = copy_project("outcomes", tmp_path)
    stopped = Run(venvs["pytest8"], staged, project, "forkserver", "-x", "--import-mode=importlib")
    assert list(stopped.outcomes()) == ["test_outcomes.py::test_passes", "test_outcomes.py::test_fails"]
    assert stopped.of("session_end")[0].data["exitstatus"] == 1
    chosen = Run(venvs["pytest7"], staged, project, "spawn", "-k", "skip or xpass", "--import-mode=importlib")
    assert chosen.outcomes() == {k: v for k, v in EXPECTED.items() if "skip" in k or "xpass" in k}, chosen.why()
    end = chosen.of("session_end")[0].data
    assert end["deselected"] == len(EXPECTED) - 4 and end["exitstatus"] == 1  # the strict xpass fails


def test_under_xdist_each_worker_records_its_tests(venvs: dict[str, str], staged: runtime.Runtime,
                                                   tmp_path: Path) -> None:
    """pytest-xdist: the workers (processes of their own) record their tests, with their id; the
    controller records the session's end once, with counts over every worker's reports."""
    run = Run(venvs["pytest8"], staged, copy_project("outcomes", tmp_path), "fork", "-n", "2")
    assert run.outcomes() == EXPECTED, run.why()
    ends = run.of("test_end")
    assert len(ends) == len(EXPECTED)  # once each: the controller does not record them again
    main = run.of("script_start")[0].pid
    assert main not in {e.pid for e in ends}
    by_worker = {e.data["worker"]: e.pid for e in run.of("test_start")}
    assert set(by_worker) == {"gw0", "gw1"} and len(set(by_worker.values())) == 2
    (end,) = run.of("session_end")
    assert end.pid == main and end.data["counts"]["failed"] == 5 and end.data["collected"] == len(EXPECTED)
    broken = Run(venvs["pytest8"], staged, copy_project("broken", tmp_path), "fork", "-n", "2")
    assert len(broken.of("collect_error")) == 1, broken.why()  # both workers failed to collect it: said once


def test_nothing_is_registered_outside_a_run(venvs: dict[str, str], staged: runtime.Runtime,
                                             tmp_path: Path) -> None:
    run = Run(venvs["pytest8"], staged, copy_project("outcomes", tmp_path), "fork", "--trace-config",
              events=False)
    assert run.events == [] and "kit-recorder" not in run.stdout and run.returncode == 1
    traced = Run(venvs["pytest8"], staged, copy_project("outcomes", tmp_path / "b"), "fork", "--trace-config")
    assert "kit-recorder" in traced.stdout  # the broken variant: the same trace shows it when recording


def test_a_broken_plugin_never_breaks_the_suite(venvs: dict[str, str], staged: runtime.Runtime,
                                                tmp_path: Path) -> None:
    """A recorder that raises: the suite's outcomes and exit status are unchanged, said once on stderr."""
    project = copy_project("outcomes", tmp_path)
    (project / "conftest.py").write_text(
        "import kit._pytest_plugin as plugin\n\n\ndef boom(*args, **kwargs):\n    raise OSError('disk on fire')\n\n\n"
        "plugin.record = boom\n")
    run = Run(venvs["pytest8"], staged, project, "fork")
    assert run.returncode == 1 and run.verbose() == {k: v[0] for k, v in EXPECTED.items()}
    assert run.stderr.count("kit: pytest plugin: OSError('disk on fire')") == 1
    gone = Run(venvs["pytest8"], staged, copy_project("outcomes", tmp_path / "b"), "fork")
    shutil.rmtree(gone.events_dir)  # a run whose folder vanished (record() swallows it): same suite
    assert gone.returncode == 1 and gone.verbose() == run.verbose()


def report(when: str, outcome: str, **more: Any) -> SimpleNamespace:
    return SimpleNamespace(when=when, passed=outcome == "passed", failed=outcome == "failed",
                           skipped=outcome == "skipped", longrepr=more.pop("longrepr", None), **more)


@pytest.mark.parametrize(("reports", "expected"), [
    ([report("setup", "passed"), report("call", "passed"), report("teardown", "passed")], "passed"),
    ([report("setup", "failed", longrepr="E   boom")], "error"),
    ([report("setup", "passed"), report("call", "passed"), report("teardown", "failed")], "error"),
    ([report("setup", "passed"), report("call", "failed"), report("teardown", "failed")], "failed"),
    ([report("setup", "skipped", wasxfail="x", longrepr=("f", 1, "x"))], "xfailed"),
    ([report("setup", "passed"), report("call", "passed", wasxfail="")], "xpassed"),
    ([report("setup", "skipped", longrepr=("f", 1, "Skipped: why"))], "skipped"),
])
def test_one_outcome_per_test(reports: list[Any], expected: str) -> None:
    """Broken variants each would fail: a teardown error taken for a pass, a call failure for an error."""
    assert outcome_of(reports)[0] == expected


def test_the_failure_line() -> None:
    crash = SimpleNamespace(reprcrash=SimpleNamespace(message="AssertionError: no\nassert 1 == 2"))
    assert outcome_of([report("call", "failed", longrepr=crash)]) == ("failed", "AssertionError: no")
    text = report("call", "failed", longreprtext="Traceback\n  raise X\nE   KeyError: 'k'\n\n")
    assert outcome_of([text]) == ("failed", "KeyError: 'k'")
    assert outcome_of([report("setup", "skipped", longrepr=("f", 1, "Skipped: why"))]) == ("skipped", "why")
