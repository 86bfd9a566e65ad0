"""The quick loop's guard (tests/conftest.py, ``support.ProcessStarts``): under ``-m "not slow"``
a test that starts a process without the ``slow`` mark fails, so the quick loop stays quick.

Nothing here starts a process: every start is refused before it happens.  The whole guard is
shown on a small suite run in this process (pytester) with a copy of tests/conftest.py.
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import ALL_METHODS, METHODS, ProcessStartRefused, ProcessStarts

HERE = Path(__file__).resolve().parent


def test_subprocess_and_os_starts_are_refused_and_recorded() -> None:
    popen, fork = vars(subprocess.Popen)["_execute_child"], getattr(os, "fork", None)
    with ProcessStarts() as starts:
        with pytest.raises(ProcessStartRefused):
            subprocess.run([sys.executable, "-c", "pass"], check=False)
        if fork is not None:
            with pytest.raises(ProcessStartRefused):
                os.fork()
    assert starts.attempts[0] == "Popen._execute_child"
    assert len(starts.attempts) == 1 + (fork is not None)
    assert vars(subprocess.Popen)["_execute_child"] is popen and getattr(os, "fork", None) is fork  # restored


@pytest.mark.parametrize("name", ALL_METHODS)
def test_every_start_method_is_refused(name: str) -> None:
    if name not in METHODS:
        pytest.skip(f"{name} is not available here")
    server = getattr(getattr(multiprocessing, "forkserver", None), "_forkserver", None)
    if name == "forkserver" and getattr(server, "_forkserver_pid", None) is not None:
        pytest.skip("a forkserver already runs in this process: it forks, this process does not")
    with ProcessStarts() as starts:
        proc = multiprocessing.get_context(name).Process(target=print)  # type: ignore[attr-defined]
        with pytest.raises(ProcessStartRefused):
            proc.start()
    assert starts.attempts, name


UNMARKED = """
import subprocess, sys
import pytest

def test_pure():
    assert sum([1, 2]) == 3

def test_starts_a_process_unmarked():
    subprocess.run([sys.executable, "-c", "pass"], check=False)

def test_hides_the_refusal():
    try:
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    except Exception:
        pass

@pytest.mark.slow
def test_starts_a_process_marked():
    subprocess.run([sys.executable, "-c", "pass"], check=False)

@pytest.fixture
def method():
    return "fork"

def test_uses_the_method_fixture(method):
    subprocess.run([sys.executable, "-c", "pass"], check=False)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # installed plugins may start processes (git)
    pytester.makeconftest((HERE / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_demo=UNMARKED)
    return pytester


def test_an_unmarked_test_that_starts_a_process_fails_the_quick_loop(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-m", "not slow", "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=1, failed=2, deselected=2)  # marked and method-fixture tests left out
    result.stdout.fnmatch_lines(["*test_starts_a_process_unmarked*", "*starts a process (Popen._execute_child)*"])
    assert "FAILED test_demo.py::test_hides_the_refusal" in result.stdout.str()  # caught even if swallowed


def test_slow_selects_the_marked_tests_and_the_method_fixture_tests(suite: pytest.Pytester) -> None:
    """``-m slow`` selects the marked ones (they would run for real: only collected here)."""
    result = suite.runpytest_inprocess("-m", "slow", "--collect-only", "-q",
                                       "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.stdout.fnmatch_lines(["*test_starts_a_process_marked*", "*test_uses_the_method_fixture*",
                                 "*2/5 tests collected (3 deselected)*"])
