"""``kit pytest`` as a user runs it, on the small projects in tests/projects/suite_*.

Each project shows one behaviour: a test that depends on the start method (and one that fails
everywhere), tests that leak a process or leave an orphan, a suite that hangs when a Pool worker
is killed, a portable suite with nothing to say, a suite with no tests.  Each is copied to a
temporary folder and run with ``python -m kit pytest`` (the JSON read back); the project's own
interpreter is a virtual environment made here with pytest from PyPI.

The broken variants of the kit run in this process (``kit.cli.main``) with one function replaced:
``charges`` that forgets descendants, ``suite_passes`` that ignores pytest's exit status, a plugin
that records no ``test_end``.  Each makes the check of its behaviour fail (``pytest.raises``).
The pure parts (on hand-made events) are in tests/test_suite.py.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import is_alive
from test_suite import charges_ignoring_descendants, suite_passes_ignoring_the_exit_status

import kit.cli
from kit import suite

pytestmark = pytest.mark.slow  # every test runs kit pytest: interpreters, pytest, processes

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "tests" / "projects"
TWO = ("--method", "fork", "--method", "spawn")
DEPENDENT = "tests/test_dependent.py::test_local_target"
EVERYWHERE = "tests/test_dependent.py::test_fails_everywhere"
TOP_LEVEL = "tests/test_dependent.py::test_top_level_target"
HUNG = "tests/test_hung.py::test_a_pool_worker_killed"
LEAKY = {"tests/test_leaky.py::test_leaves_a_daemon": "left 1 process(es) it started running when it ended",
         "tests/test_leaky.py::test_leaves_an_orphan": "still running after pytest exited",
         "tests/test_leaky.py::test_leaves_a_grandchild": "still running after pytest exited"}
PORTABLE = ["tests/test_portable.py::test_quick", "tests/test_portable.py::test_pool",
            "tests/test_portable.py::test_process_and_queue"]


@dataclass
class Ran:
    """One ``kit pytest``: its exit status, what it printed, the JSON it wrote."""

    code: int
    out: str
    err: str
    results: list[dict[str, Any]]

    def cell(self, method: str) -> dict[str, Any]:
        return next(r for r in self.results if r["method"] == method)

    def tests(self, method: str) -> dict[str, str]:
        return {t["nodeid"]: t["outcome"] for t in self.cell(method)["tests"]}

    def said(self, method: str, code: str) -> list[dict[str, Any]]:
        return [d for d in self.cell(method)["diagnoses"] if d["code"] == code]

    def explain(self) -> str:
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err[-3000:]}"


def copy_project(name: str, where: Path) -> Path:
    return Path(shutil.copytree(PROJECTS / name, where / name,
                                ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")))


def argv(folder: Path, options: Sequence[str], pytest_args: Sequence[str]) -> list[str]:
    out = ["pytest", *options, "--json", str(folder.parent / f"{folder.name}.json")]
    return out + (["--", *pytest_args] if pytest_args else [])


def read_json(folder: Path) -> list[dict[str, Any]]:
    path = folder.parent / f"{folder.name}.json"
    return json.loads(path.read_text()) if path.exists() else []


def kit_pytest(folder: Path, *options: str, pytest_args: Sequence[str] = (), python: str | None = sys.executable,
               env: dict[str, str] | None = None, timeout: float = 180) -> Ran:
    """``python -m kit pytest OPTIONS --json F -- PYTEST_ARGS`` in ``folder``, the project's interpreter
    ``python`` (None: the kit's own choice, from ``env``)."""
    environ = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    environ.update(env or {})
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [environ.get("PYTHONPATH")])])
    chosen = ["--python", python] if python else []
    done = subprocess.run([sys.executable, "-m", "kit", *argv(folder, [*chosen, *options], pytest_args)],
                          cwd=folder, env=environ, capture_output=True, text=True, timeout=timeout, check=False)
    return Ran(done.returncode, done.stdout, done.stderr, read_json(folder))


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """``kit pytest`` run by ``kit.cli.main`` in this process (so that a kit function can be replaced),
    the signal handlers it installs put back afterwards."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

    def run(folder: Path, *options: str, pytest_args: Sequence[str] = ()) -> Ran:
        monkeypatch.chdir(folder)
        code = kit.cli.main(argv(folder, ["--python", sys.executable, *options], pytest_args))
        out, err = capsys.readouterr()
        return Ran(code, out, err, read_json(folder))

    yield run
    for s, h in handlers.items():
        signal.signal(s, h)


# -- 1. a test that depends on the method, one that fails everywhere; 5. JUnit and JSON -----------
@pytest.fixture(scope="module")
def dependent(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ran, Path]:
    """suite_method_dependent under fork, spawn and forkserver, with JUnit."""
    folder = copy_project("suite_method_dependent", tmp_path_factory.mktemp("dependent"))
    junit_xml = folder.parent / "junit.xml"
    return kit_pytest(folder, "--method", "all", "--junit-xml", str(junit_xml)), junit_xml


def test_a_method_dependent_test_is_named_on_the_spawn_and_forkserver_cells(dependent: tuple[Ran, Path]) -> None:
    ran, _ = dependent
    assert ran.code == 1, ran.explain()
    assert [r["method"] for r in ran.results] == ["fork", "spawn", "forkserver"]
    assert not ran.said("fork", "outcome_differs")
    for method in ("spawn", "forkserver"):
        assert ran.tests(method) == {DEPENDENT: "failed", EVERYWHERE: "failed", TOP_LEVEL: "passed"}, ran.explain()
        [differs] = ran.said(method, "outcome_differs")
        assert differs["test"] == DEPENDENT
        assert differs["message"].startswith(f"{DEPENDENT}: failed under {method} on host, passed under fork on host")
        assert "Can't pickle local object" in differs["message"] and "(diagnosis: pickling)" in differs["message"]
        [pickling] = ran.said(method, "pickling")
        assert pickling["test"] == DEPENDENT
    assert "1 test(s) whose outcome depends on the start method:" in ran.out
    assert "passed under host fork*; failed under host spawn, host forkserver" in ran.out
    assert ran.out.rstrip().splitlines()[-1] == "1 test(s) depend on the start method"


def test_a_test_failing_everywhere_is_a_failure_not_a_method_dependence(dependent: tuple[Ran, Path]) -> None:
    ran, _ = dependent
    assert ran.tests("fork") == {DEPENDENT: "passed", EVERYWHERE: "failed", TOP_LEVEL: "passed"}, ran.explain()
    assert all(d.get("test") != EVERYWHERE for r in ran.results for d in r["diagnoses"])
    assert "1 test(s) fail under every method (not a method dependence):" in ran.out
    joined = " ".join(ran.out.split())  # wrapped at 100 columns
    assert f"{EVERYWHERE}: failed: AssertionError: arithmetic is broken under every method" in joined


def test_the_json_has_every_test_per_cell_and_the_interpreter_that_ran_it(dependent: tuple[Ran, Path]) -> None:
    ran, _ = dependent
    for r in ran.results:
        assert r["platform"]["executable"] == sys.executable
        for t in r["tests"]:
            assert set(t) == {"nodeid", "outcome", "duration_s", "message"}
            assert isinstance(t["duration_s"], float) and t["duration_s"] >= 0
        failing = {t["nodeid"]: t["message"] for t in r["tests"]}
        assert failing[EVERYWHERE].startswith("AssertionError: arithmetic is broken")
    assert f"(host: {sys.executable} (CPython " in ran.out.splitlines()[0]


def test_junit_has_a_case_per_cell_and_test_with_the_cell_in_the_class_name(dependent: tuple[Ran, Path]) -> None:
    ran, junit_xml = dependent
    root = ET.parse(junit_xml).getroot()
    cases = {(tc.get("classname"), tc.get("name")): tc for tc in root.iter("testcase")}
    assert len(cases) == 9, sorted(cases)
    for method in ("fork", "spawn", "forkserver"):
        for name in ("test_local_target", "test_fails_everywhere", "test_top_level_target"):
            assert (f"host.{method}.tests.test_dependent", name) in cases
    spawn = cases[("host.spawn.tests.test_dependent", "test_local_target")].find("failure")
    assert spawn is not None and "Can't pickle local object" in (spawn.get("message") or "")
    assert "pickling:" in (spawn.text or "") and "outcome_differs:" in (spawn.text or "")
    assert cases[("host.fork.tests.test_dependent", "test_local_target")].find("failure") is None


# -- 2. a leaked process and orphans, charged to their tests ---------------------------------------
def check_leaks_charged(ran: Ran) -> None:
    assert ran.code == 1, ran.explain()
    for method in ("fork", "spawn"):
        cell = ran.cell(method)
        assert set(ran.tests(method).values()) == {"passed"} and len(cell["tests"]) == 4, ran.explain()
        said = {d["test"]: d["message"] for d in ran.said(method, "leaked_process")}
        missing = sorted(set(LEAKY) - set(said))
        assert not missing, f"under {method}, no leaked_process charged to {missing}"
        assert set(said) == set(LEAKY), f"under {method}: {said}"
        for test, words in LEAKY.items():
            assert words in said[test], said[test]
        orphans = [o for o in cell["orphans"] if o["name"] == "sleep"]
        assert len(orphans) == 2, cell["orphans"]
        assert not any(is_alive(o["pid"]) for o in orphans), "the kit kills orphans"


def test_a_leaked_process_and_orphans_are_charged_to_their_tests(tmp_path: Path) -> None:
    """Nothing is left running afterwards: the autouse fixture (tests/conftest.py) fails a test that leaves any."""
    check_leaks_charged(kit_pytest(copy_project("suite_leaky", tmp_path), *TWO))


def test_variant_charges_ignoring_descendants_loses_the_grandchild(tmp_path: Path, in_process: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "charges", charges_ignoring_descendants)
    ran = in_process(copy_project("suite_leaky", tmp_path), *TWO)
    with pytest.raises(AssertionError, match="test_leaves_a_grandchild"):
        check_leaks_charged(ran)


# -- 3. a hung suite, stopped at --timeout, the test in progress named ----------------------------
def test_a_pool_worker_killed_hangs_the_suite_stopped_with_the_test_named(tmp_path: Path) -> None:
    ran = kit_pytest(copy_project("suite_hung", tmp_path), *TWO, "--timeout", "10")
    assert ran.code == 1, ran.explain()
    for method in ("fork", "spawn"):
        cell = ran.cell(method)
        assert cell["status"] == "timeout" and "still running after 10 s" in cell["reason"], ran.explain()
        assert cell["tests"] == [], "the test in progress never ended; the one after it never ran"
        [hang] = ran.said(method, "hang")
        assert hang["test"] == HUNG and f"the test in progress: {HUNG}" in hang["message"]
        [died] = ran.said(method, "worker_died")
        assert died["test"] == HUNG and "killed by SIGKILL" in died["message"] and "PoolWorker" in died["message"]
    assert f"hang [{HUNG}]" in ran.out and f"worker_died [{HUNG}]" in ran.out


# -- 4. a portable suite: nothing to say; 8. pytest's own arguments reach it ----------------------
def check_portable(ran: Ran) -> None:
    for method in ("fork", "spawn"):
        assert ran.tests(method) == dict.fromkeys(PORTABLE, "passed"), ran.explain()
    assert ran.code == 0, ran.explain()
    for method in ("fork", "spawn"):
        assert ran.cell(method)["status"] == "pass" and ran.cell(method)["diagnoses"] == []
    assert "diagnoses:" not in ran.out and "depend" not in ran.out
    assert ran.out.rstrip().splitlines()[-1] == "every test passes under every method"


def test_a_portable_suite_passes_with_nothing_to_say(tmp_path: Path) -> None:
    check_portable(kit_pytest(copy_project("suite_portable", tmp_path), *TWO))


NO_TEST_END = '''
import os
from kit import _pytest_plugin as real


class Recorder(real.Recorder):
    def finish(self, nodeid):
        self.reports.pop(nodeid, None)  # the broken variant: no test_end


def pytest_configure(config):
    if os.environ.get(real.env.EVENTS) and not config.pluginmanager.has_plugin("kit-recorder"):
        config.pluginmanager.register(Recorder(config), "kit-recorder")
'''


def test_variant_plugin_recording_no_test_end_is_caught(tmp_path: Path, in_process: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin is loaded by its module name (``suite.PLUGIN``) in the project's interpreter: the
    variant is a module in the project's folder, importable there as pytest's rootdir is."""
    folder = copy_project("suite_portable", tmp_path)
    (folder / "kit_no_test_end.py").write_text(NO_TEST_END)
    monkeypatch.setattr(suite, "PLUGIN", "kit_no_test_end")
    ran = in_process(folder, *TWO)
    assert ran.cell("fork")["tests"] == [] and ran.cell("fork")["status"] == "fail", ran.explain()
    with pytest.raises(AssertionError, match="passed"):
        check_portable(ran)


def test_pytest_arguments_after_double_dash_reach_pytest(tmp_path: Path) -> None:
    ran = kit_pytest(copy_project("suite_portable", tmp_path), *TWO, pytest_args=["-k", "quick"])
    assert ran.code == 0, ran.explain()
    assert ran.tests("fork") == ran.tests("spawn") == {PORTABLE[0]: "passed"}
    assert ran.out.startswith("kit pytest . -k quick")


def test_x_stops_pytest_at_the_first_failure(tmp_path: Path) -> None:
    ran = kit_pytest(copy_project("suite_method_dependent", tmp_path), "--method", "spawn", pytest_args=["-x"])
    assert ran.code == 1, ran.explain()
    assert ran.tests("spawn") == {DEPENDENT: "failed"}, "the tests after the first failure never ran"


# -- 7. zero tests ---------------------------------------------------------------------------------
def empty_project(where: Path) -> Path:
    folder = where / "empty"
    (folder / "tests").mkdir(parents=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "tests" / "test_nothing.py").write_text('"""No test here."""\n')
    return folder


def check_zero_tests_fail(ran: Ran) -> None:
    cell = ran.cell("fork")
    assert ran.code == 1 and cell["status"] == "fail", ran.explain()
    assert "no tests were collected" in cell["reason"] and cell["tests"] == []
    assert ran.out.rstrip().splitlines()[-1] != "every test passes under every method"


def test_a_suite_with_zero_tests_fails(tmp_path: Path) -> None:
    check_zero_tests_fail(kit_pytest(empty_project(tmp_path), "--method", "fork"))


def test_variant_suite_passes_ignoring_the_exit_status_is_caught(tmp_path: Path, in_process: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "suite_passes", suite_passes_ignoring_the_exit_status)
    ran = in_process(empty_project(tmp_path), "--method", "fork")
    assert ran.cell("fork")["status"] == "pass", ran.explain()  # a zero-test suite is green
    with pytest.raises(AssertionError):
        check_zero_tests_fail(ran)


# -- 6. the project's own interpreter --------------------------------------------------------------
@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment of this Python with pytest from PyPI (and not the kit, nor psutil)."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True, timeout=120)
    done = subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "pytest"], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        pytest.skip(f"pip install pytest failed (no PyPI?): {done.stderr[-300:]}")
    return folder


def test_python_chooses_the_projects_interpreter(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    ran = kit_pytest(copy_project("suite_portable", tmp_path), *TWO, python=python)
    check_portable(ran)
    assert {r["platform"]["executable"] for r in ran.results} == {python}
    assert ran.out.startswith(f"kit pytest .  (host: {python} (CPython ")


def test_an_active_virtual_environment_is_the_projects_interpreter(venv: Path, tmp_path: Path) -> None:
    ran = kit_pytest(copy_project("suite_portable", tmp_path), "--method", "spawn", python=None,
                     env={"VIRTUAL_ENV": str(venv)})
    assert ran.code == 0, ran.explain()
    assert ran.cell("spawn")["platform"]["executable"] == str(venv / "bin" / "python")


def test_an_interpreter_without_pytest_is_refused_in_one_line(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, capture_output=True,
                   timeout=120)
    python = str(bare / "bin" / "python")
    ran = kit_pytest(copy_project("suite_portable", tmp_path), "--method", "fork", python=python)
    assert ran.code == 2, ran.explain()
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert lines[0].startswith(f"kit: error: pytest cannot be imported by {python} (CPython ")
    assert "No module named 'pytest'" in lines[0] and "--python PATH" in lines[0]
    assert ran.results == [] and ran.out == ""


# -- the cell's method in every Python of the run -------------------------------------------------
SUBPROCESS_METHOD = '''\
import multiprocessing as mp
import subprocess
import sys


def test_a_python_started_by_the_test_has_the_cells_method():
    said = subprocess.run([sys.executable, "-c", "import multiprocessing as mp; print(mp.get_start_method())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert said == mp.get_start_method(), (said, mp.get_start_method())
'''


def test_the_cells_method_reaches_every_python_of_the_run(tmp_path: Path) -> None:
    """pytest-xdist's workers and a Python a test starts with subprocess are not started by
    multiprocessing: the method reaches them as the default all the same (``KIT_METHOD``)."""
    folder = tmp_path / "subpython"
    (folder / "tests").mkdir(parents=True)
    (folder / "tests" / "test_sub.py").write_text(SUBPROCESS_METHOD)
    ran = kit_pytest(folder, "--method", "spawn", "--method", "forkserver")
    assert ran.code == 0, ran.explain()
    assert [r["status"] for r in ran.results] == ["pass", "pass"], ran.explain()


def test_the_broken_variant_a_method_set_in_the_launcher_only_is_caught(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         in_process: Any) -> None:
    """A kit that makes the method the default only in pytest's own process: the subprocess Python
    runs under this Python's default (fork here) and the test fails under spawn."""
    from kit import env

    folder = tmp_path / "subpython"
    (folder / "tests").mkdir(parents=True)
    (folder / "tests" / "test_sub.py").write_text(SUBPROCESS_METHOD)
    monkeypatch.setattr(env, "METHOD", "KIT_METHOD_NOT_READ")
    ran = in_process(folder, "--method", "spawn")
    assert ran.code == 1 and ran.results[0]["status"] == "fail", ran.out


# -- the same suite in a container of 3.14, pytest installed by the kit ---------------------------
@pytest.mark.docker
def test_the_suite_on_314_under_its_default_method_with_pytest_installed_by_the_kit(tmp_path: Path) -> None:
    """``--targets host,docker:3.14 --method default``: fork on the host, forkserver on 3.14; the
    container's image gets pytest from wheels resolved on the host (no network inside), and the
    test that needs fork is named with the 3.14 cell."""
    folder = copy_project("suite_method_dependent", tmp_path)
    ran = kit_pytest(folder, "--targets", "host,docker:3.14", "--method", "default", timeout=900)
    assert ran.code == 1, ran.explain()
    places = [(r["platform"]["target"], r["method"]) for r in ran.results]
    assert places == [("host", "fork"), ("docker:3.14", "forkserver")], ran.explain()
    in_314 = ran.results[1]
    assert in_314["platform"]["python"].startswith("3.14."), in_314["platform"]
    assert {t["nodeid"]: t["outcome"] for t in in_314["tests"]} == {
        DEPENDENT: "failed", EVERYWHERE: "failed", TOP_LEVEL: "passed"}, ran.explain()
    [differs] = [d for d in in_314["diagnoses"] if d["code"] == "outcome_differs"]
    assert differs["test"] == DEPENDENT and "forkserver on docker:3.14" in differs["message"], differs
    assert "kit-deps:py3.14-" in ran.err  # the derived image with pytest, built (or reused) offline
