"""Fixtures and hooks of the kit's tests; the helpers they share are in tests/support.py.

* ``no_leftover_processes`` (autouse): fails a test that leaves any process behind: a new
  descendant of pytest, or any process carrying this session's marker in its environment
  (a ``kit.launcher`` or an orphan that escaped the tree).
* ``method``: every known start method, skipping the ones the platform lacks.
* ``--run-docker``: the container tests are opt-in here, required in CI.

The quick loop: ``python -m pytest -m "not slow"`` (``nox -s tests -- -m "not slow"``) runs the
pure tests only, in seconds.  ``slow`` marks every test that starts a process (``kit.runner.run``,
``python -m kit``, the matrix, any Python subprocess) or a container, and the few that wait
seconds by design.  Some are marked by rule here: ``docker`` tests, and tests that use the
``method`` fixture; the rest carry ``@pytest.mark.slow`` or a module's ``pytestmark``.  A test
that forgets the mark cannot slip into the quick loop: under ``-m "not slow"`` every process
start of an unmarked test is refused (``support.ProcessStarts``) and the test fails, saying so
(tests/test_quick_loop.py shows it).

Where the tests of a module are (kit/X.py is tested in tests/test_X.py where that exists):

* kit/__init__.py: test_container (the version an installed kit reports).
* kit/__main__.py, cli.py: test_cli (``python -m kit`` as a user meets it), test_options (the
  parser), test_signals (signals to the kit), test_judge (an internal error through ``main``).
* kit/bench/ (package), _bench_measure.py, _bench_worker.py: test_bench (a real tiny worker run).
* kit/catalogue.py: test_examples (every example passes), test_pitfalls (expectation tables),
  test_variants (broken copies judged by the examples' checks).
* kit/checks.py: test_checks (each factory on hand-built evidence), test_variants (real scripts).
* kit/debug.py: test_judge (``--debug`` shows the traceback of an internal error), test_options.
* kit/diagnose.py, source.py: test_diagnose.
* kit/env.py: names only; read by every run (``KIT_EVIDENCE`` in test_evidence).
* kit/errors.py: test_cli and test_bench (one line, exit status 2), test_judge (internal error,
  status 3), test_options (``UsageError``), test_evidence (``EnvironmentProblem``).
* kit/events.py, _record.py: test_checks and test_judge (events read back), test_startup_cost
  (written as json writes them, imported cheaply).
* kit/interpreter.py: test_interpreter (real interpreters: venvs, Debian's, refused old ones).
* kit/runtime.py: test_runtime (the staged folder in a foreign venv; sys.path as bare python's).
* kit/_pytest_plugin.py: test_pytest_plugin (outcomes as pytest reports them, pytest 7-9, xdist).
* kit/suite.py, suite_render.py: test_suite (pure: outcomes, charging, diagnoses, compare,
  confirming, text, JUnit), test_pytest_command (``kit pytest`` on tests/projects/suite_*).
* kit/settings.py: test_options (built from the parsed options), test_schedule, test_container
  (runs with ``DEFAULTS.but(...)``).
* kit/places.py: test_container (run_places, run_subject, run_suite in containers), test_cli.
* kit/judge.py, observation.py: test_judge (hand-made observations); test_pitfalls, test_diagnose.
* kit/junit.py: test_outputs.
* kit/launcher.py, probe.py (and kit/_hook): test_startup_cost (what every run's process
  imports), test_ipc_leftovers (what the probe records), test_evidence, test_signals.
* kit/matrix.py: test_schedule (a real matrix, with and without overlap), test_cli,
  test_outputs, test_signals (a stopped matrix keeps its cells).
* kit/observer.py: test_observer; test_judge (an observer that raises).
* kit/options.py: test_options.
* kit/outcomes.py: the vocabularies every test uses; no test of its own.
* kit/output.py: read through by every real run; the truncation diagnosis in test_diagnose.
* kit/places.py: test_container (``run_subject``, ``run_places``), test_cli (``--targets``).
* kit/render.py, report.py, results.py: test_tables (golden tables), test_report, test_outputs,
  test_cli (the JSON keys).
* kit/runner.py: every real run: test_examples, test_variants, test_pitfalls, test_observer,
  test_evidence, test_encoding, test_ipc_leftovers, test_signals, test_article_pitfalls.
* kit/schedule.py: test_schedule.
* kit/container/__init__.py, engine.py, images.py, run.py: test_container (run.py's argv also in
  test_options).  driver.py: test_driver.  deps.py: test_deps.  project.py: test_project.
* kit/_platform/__init__.py, _common.py, _linux.py, _posix.py, _windows.py: test_platform_module
  (each OS module has every name), test_platform_isolation (OS calls only there), test_observer
  (``kill_process_tree``); each runs under every real run on its OS.
* kit/_platform/_cgroup.py: test_cgroup, test_evidence.  _procfs.py, _cpus.py:
  test_platform_procfs.  _relay.py: test_relay.  _guardian.py: test_signals (a SIGKILLed kit).
  _pidns.py: test_container (a run in the kit's container, docker).
* kit/examples: test_examples, test_pitfalls, test_variants, test_article_pitfalls.
"""
from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest
from support import ALL_METHODS, ProcessStarts, describe, leftovers, our_processes, reap_children, require_method

pytest_plugins = ["pytester"]  # test_quick_loop runs a small suite with this conftest
collect_ignore_glob = ["variants/*", "projects/*"]  # broken scripts and small projects to run, not test modules


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail the test that leaves a process behind (and clean up, so later tests start clean).

    Covers new descendants of pytest and every ``kit.launcher`` (or any other
    process) started by this session, wherever it re-parented.  A
    ``kit.launcher`` without this session's marker belongs to someone else on
    the machine (e.g. a containerised ``kit matrix``, visible in the host's
    process table) and is deliberately not this test's fault.  Zombies that
    re-parented to pytest (a subreaper once an in-process run made it one) have
    ended: they are reaped, not counted.
    """
    before = set(our_processes())
    yield
    left = leftovers(before)
    if not left:
        return
    lines = [describe(p) for p in left.values()]
    reap_children(left.values())
    pytest.fail(f"{len(lines)} process(es) left behind by this test:\n  " + "\n  ".join(lines))


@pytest.fixture(params=ALL_METHODS)
def method(request: pytest.FixtureRequest) -> str:
    """Every known start method; skipped where the platform lacks it (also via indirect parametrize)."""
    require_method(request.param)
    return request.param


# -- container tests: opt-in here, required in CI --------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-docker", action="store_true", default=False,
                     help="run the tests marked docker (they build an image and start containers)")


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by -m
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark slow what starts processes by rule (see the module docstring).  Skip
    ``@pytest.mark.docker`` tests unless ``--run-docker`` or ``KIT_REQUIRE_DOCKER=1`` (CI), where
    ``tests/test_container.py`` fails them when no daemon answers."""
    for item in items:
        if starts_processes_by_rule(item):
            item.add_marker(pytest.mark.slow)
    if config.getoption("--run-docker") or os.environ.get("KIT_REQUIRE_DOCKER") == "1":
        return
    skip = pytest.mark.skip(reason="needs Docker: add --run-docker (e.g. nox -s tests -- --run-docker)")
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.add_marker(skip)


def starts_processes_by_rule(item: pytest.Item) -> bool:
    """Containers (``docker``) and every test of a start method (the ``method`` fixture) run things."""
    return item.get_closest_marker("docker") is not None or uses_the_method_fixture(item)


def uses_the_method_fixture(item: pytest.Item) -> bool:
    """The ``method`` fixture, directly or through indirect parametrize; a test that parametrizes
    a plain ``method`` argument (a table lookup, say) does not use it."""
    if "method" not in getattr(item, "fixturenames", ()):
        return False
    for mark in item.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        indirect = mark.kwargs.get("indirect", False)
        through_fixture = indirect is True or (isinstance(indirect, (list, tuple)) and "method" in indirect)
        if "method" in names and not through_fixture:
            return False
    return True


# -- the quick loop: -m "not slow" refuses process starts in unmarked tests ------------
def quick_loop(config: pytest.Config) -> bool:
    """True when the mark expression leaves the slow tests out (``-m "not slow"``)."""
    return "not slow" in (config.getoption("markexpr") or "")


def refuse_process_starts(item: pytest.Item) -> Generator[None, object, object]:
    """Run one phase (setup, call, teardown) of an unmarked test with process starts refused
    (``support.ProcessStarts``); fail it, naming what it tried, if it tried."""
    if not quick_loop(item.config) or item.get_closest_marker("slow") is not None:
        return (yield)
    with ProcessStarts() as starts:
        try:
            result = yield
        except BaseException:
            if not starts.attempts:
                raise
            result = None  # failed because its process was refused: say that instead
    if starts.attempts:
        pytest.fail(f"starts a process ({', '.join(sorted(set(starts.attempts)))}) but is not "
                    "marked slow: add @pytest.mark.slow (tests/conftest.py)", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from refuse_process_starts(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from refuse_process_starts(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from refuse_process_starts(item))
