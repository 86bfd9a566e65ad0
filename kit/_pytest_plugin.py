"""A pytest plugin (``-p kit._pytest_plugin``) that records each test's start and outcome as run events.

``kit pytest`` runs a project's suite in the project's own interpreter, with the kit's runtime
(``kit.runtime``) on ``PYTHONPATH``: this module is imported there, so it uses the standard
library only and never imports pytest (pytest hands each hook its objects).  Outside a run
(``KIT_EVENTS`` unset) it registers nothing.  A failure inside the plugin is said once on
stderr and never breaks the suite.

Events (``kit._record.Ev``), each with the recording process's ``pid``:

* ``test_start``: a test's setup begins, in the process that runs it (the run's processes
  started from now on are this test's), with the process's children now (``children``);
* ``test_end``: its last report (teardown) is in: outcome, duration summed over setup, call and
  teardown, the failure's line, the multiprocessing children still running (``alive``) and every
  child process now (``children``);
* ``collect_error``: a file or folder could not be collected (a module skipped whole, as by
  ``pytest.importorskip``, is a ``test_end`` of outcome ``skipped`` under the module's nodeid, as
  pytest's own summary counts it);
* ``session_end``: pytest is done: exit status and counts, so a suite with zero tests is known.

pytest-xdist: each worker is a process of its own that runs its tests, so the worker records
``test_start`` / ``test_end`` (with ``worker``, its id); the controlling process records only
``collect_error`` and ``session_end`` (its counts are over the reports the workers sent).
"""
from __future__ import annotations

import os
import sys

from kit import env
from kit._record import Ev, record

TYPE_CHECKING = False  # typing is not imported at run time (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any  # pytest's objects are Any: the kit's own checks never need pytest installed

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
MESSAGE_LIMIT = 400


def pytest_configure(config: Any) -> None:
    """Register the recorder when the run asked for events (the only hook pytest sees otherwise)."""
    if os.environ.get(env.EVENTS) and not config.pluginmanager.has_plugin("kit-recorder"):
        config.pluginmanager.register(Recorder(config), "kit-recorder")


def outcome_of(reports: list[Any]) -> tuple[str, str | None]:
    """A test's one outcome from its phase reports, and the line that explains it.

    As pytest's own summary counts them: a failure in setup or teardown is an ``error`` (unless the
    call failed too: then ``failed``); a report carrying ``wasxfail`` is ``xfailed`` when skipped
    and ``xpassed`` when passed (a strict xpass is a plain failure); a skip in any phase is ``skipped``.
    The line: the failure's (its exception), the skip's or xfail's reason.
    """
    failed = [r for r in reports if r.failed]
    call = [r for r in failed if r.when == "call"]
    if call:
        return "failed", failure_line(call[0])
    if failed:
        return "error", failure_line(failed[0])
    for r in reports:
        if r.skipped and hasattr(r, "wasxfail"):
            reason = str(r.wasxfail)  # pytest 7 says pytest.xfail(why) as "reason: why"
            reason = reason[len("reason: "):] if reason.startswith("reason: ") else reason
            return "xfailed", clip(reason) if reason else failure_line(r)
    for r in reports:
        if r.passed and r.when == "call" and hasattr(r, "wasxfail"):
            return "xpassed", str(r.wasxfail) or None
    for r in reports:
        if r.skipped:
            return "skipped", skip_reason(r)
    return "passed", None


def failure_line(report: Any) -> str | None:
    """The failure's line: the crash message pytest's summary shows, else the report text's last line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if isinstance(message, str) and message.strip():
        return clip(message.strip().splitlines()[0])
    if isinstance(report.longrepr, tuple):  # a skip or an xfail without an exception: (path, line, reason)
        return skip_reason(report)
    try:
        text = str(report.longreprtext)
    except Exception:  # noqa: BLE001 - a repr that cannot be written: no line rather than a broken run
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    return clip(last[1:].strip() if last.startswith("E ") else last)


def skip_reason(report: Any) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return clip(reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason)
    return None


def children() -> list[int]:
    """Pids of this process's children now, whatever started them (``subprocess`` too): Linux's
    ``/proc/self/task/*/children``; empty elsewhere.  What a test's end lists and its start did not,
    the test started and left running: charged to it exactly, however short the test was."""
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                found.update(int(pid) for pid in f.read().split())
        except (OSError, ValueError):
            continue
    return sorted(found)


def alive_children() -> list[int]:
    """Pids of this process's multiprocessing children still running (a test's teardown is over:
    those it started are left running).  Only when the test process imported multiprocessing;
    ``active_children()`` reaps the ones that ended, as every ``Process.start()`` does."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return []
    return sorted(p.pid for p in process.active_children() if p.pid is not None)


def clip(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."


class Recorder:
    """The hooks, registered by ``pytest_configure`` when the run records events."""

    def __init__(self, config: Any) -> None:
        workerinput = getattr(config, "workerinput", None)  # set in a pytest-xdist worker
        self.worker: str | None = str(workerinput.get("workerid")) if isinstance(workerinput, dict) else None
        self.config = config
        self.reports: dict[str, list[Any]] = {}
        self.counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.deselected = 0
        self.collect_errors = 0
        self.warned = False

    def runs_tests_here(self) -> bool:
        """False in pytest-xdist's controlling process, whose workers run (and record) the tests."""
        return self.worker is not None or not self.config.pluginmanager.has_plugin("dsession")

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        try:
            self.reports[nodeid] = []
            if self.runs_tests_here():
                record(Ev.TEST_START, nodeid=nodeid, worker=self.worker, children=children())
        except Exception as exc:  # noqa: BLE001 - never break the suite
            self.say(exc)

    def pytest_runtest_logreport(self, report: Any) -> None:
        try:
            self.reports.setdefault(report.nodeid, []).append(report)
            if report.when == "teardown":
                self.finish(report.nodeid)
        except Exception as exc:  # noqa: BLE001 - never break the suite
            self.say(exc)

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        try:
            if self.reports.get(nodeid):  # a test whose teardown never reported (an xdist worker crashed)
                self.finish(nodeid)
        except Exception as exc:  # noqa: BLE001 - never break the suite
            self.say(exc)

    def finish(self, nodeid: str) -> None:
        reports = self.reports.pop(nodeid, [])
        if not reports:
            return
        outcome, message = outcome_of(reports)
        self.counts[outcome] += 1
        if self.runs_tests_here():
            duration = sum(float(getattr(r, "duration", 0.0) or 0.0) for r in reports)
            record(Ev.TEST_END, nodeid=nodeid, outcome=outcome, duration_s=round(duration, 6),
                   message=message, worker=self.worker, alive=alive_children(), children=children())

    def pytest_collectreport(self, report: Any) -> None:
        try:
            if report.failed and self.worker is None:
                self.collect_errors += 1
                record(Ev.COLLECT_ERROR, nodeid=report.nodeid, message=failure_line(report))
            elif report.skipped and self.worker is None:  # a module skipped whole (importorskip): pytest counts it
                self.counts["skipped"] += 1
                record(Ev.TEST_END, nodeid=report.nodeid, outcome="skipped", duration_s=0.0,
                       message=skip_reason(report), worker=None)
        except Exception as exc:  # noqa: BLE001 - never break the suite
            self.say(exc)

    def pytest_deselected(self, items: list[Any]) -> None:
        self.deselected += len(items)

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        try:
            for nodeid in list(self.reports):
                self.finish(nodeid)
            if self.worker is None:
                record(Ev.SESSION_END, exitstatus=int(exitstatus), collected=int(session.testscollected),
                       deselected=self.deselected, collect_errors=self.collect_errors, counts=dict(self.counts))
        except Exception as exc:  # noqa: BLE001 - never break the suite
            self.say(exc)

    def say(self, exc: BaseException) -> None:
        if not self.warned:
            self.warned = True
            sys.stderr.write(f"kit: pytest plugin: {exc!r}\n")
