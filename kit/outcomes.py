"""The kit's closed vocabularies, each defined once: statuses, start methods, event kinds,
process roles, evidence backends, diagnosis codes — and the one place that maps outcomes to
the command's exit status.

Values are the strings the JSON has always carried: ``Status.PASS == "pass"``, and
``json.dumps`` writes an enum member as its value.  (nox keeps a closed ``Status`` enum and
maps outcomes in one place; cibuildwheel uses ``Literal`` types for its closed sets.)  Event
kinds are defined in ``kit._record`` (every process of a run imports them) and re-exported here.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable

from kit._record import Ev  # defined beside the writer: every process of a run imports it, not these enums

__all__ = ["ALL", "DEFAULT", "GENERIC_CHECKS", "HOST", "METHODS", "STATUSES", "UNKNOWN_PLACE", "Backend", "Code", "Ev",
           "Method", "Role", "Status", "TestOutcome", "default_method", "exit_code", "exit_status", "method_order",
           "resolve_method"]


class Word(str, enum.Enum):
    """A string enum that prints as its value (``f"{Status.PASS}"`` is ``pass``) on every Python."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Status(Word):
    """How one cell ended."""

    PASS = "pass"  # every check held
    FAIL = "fail"  # a check did not hold (its reason says which)
    TIMEOUT = "timeout"  # still running at --timeout: the whole run was killed
    ERROR = "error"  # the kit could not run it (launcher failed, container lost)
    SKIPPED = "skipped"  # the start method does not exist here
    INCONCLUSIVE = "inconclusive"  # the evidence cannot decide (e.g. the machine was busy)
    INTERRUPTED = "interrupted"  # the kit was stopped (Ctrl-C, SIGTERM) before or during the run

    @property
    def ok(self) -> bool:
        """Does not make the command fail (inconclusive is said in one line, not failed)."""
        return self in (Status.PASS, Status.SKIPPED, Status.INCONCLUSIVE)


STATUSES = tuple(s.value for s in Status)

class Method(Word):
    """A start method of multiprocessing: the three there are, in the order columns show them."""

    FORK = "fork"
    SPAWN = "spawn"
    FORKSERVER = "forkserver"


METHODS = tuple(m.value for m in Method)
"""Every start method's name, in the order columns show them."""

DEFAULT = "default"
"""Accepted wherever a method is: the platform's own default start method."""

ALL = "all"
"""Accepted wherever methods or examples are listed."""


def default_method() -> str:
    """This interpreter's default start method, without setting it."""
    import multiprocessing  # here, not at the top: kit.probe imports this module in every process of a run

    ctx = multiprocessing.get_context()  # the default context's choice; sets nothing globally
    return ctx.get_start_method()


def resolve_method(method: str) -> str:
    """``default`` -> this platform's default start method; any other name unchanged."""
    return default_method() if method == DEFAULT else method


def method_order(methods: Iterable[str]) -> list[str]:
    """Known methods first, in ``METHODS`` order, then any others (a future Python's)."""
    seen = list(dict.fromkeys(methods))
    return [m for m in METHODS if m in seen] + [m for m in seen if m not in METHODS]


class Role(Word):
    """What a process of a run is to multiprocessing (named by ``kit.observer``)."""

    MAIN = "main"
    WORKER = "worker"
    FORKSERVER = "forkserver"
    RESOURCE_TRACKER = "resource_tracker"
    OTHER = "other"


class TestOutcome(Word):
    """How one test of a suite ended, as pytest's summary counts it."""

    __test__ = False  # not a test class, whatever pytest thinks of the name
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # its setup or teardown failed
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"

    @property
    def ok(self) -> bool:
        """Does not make its cell fail."""
        return self not in (TestOutcome.FAILED, TestOutcome.ERROR)


class Backend(Word):
    """Who decided membership and totals of a run."""

    CGROUP = "cgroup"  # the kernel: the run's own cgroup (exact)
    PIDNS = "pidns"  # the container's pid namespace (exact membership)
    PSUTIL = "psutil"  # sampling the process table (can miss short-lived processes)


class MemorySource(Word):
    """Where a run's memory peak comes from, and so what it means."""

    CGROUP = "cgroup"  # the run's own memory cgroup: the kernel's peak of the run alone (exact)
    CONTAINER = "container"  # the container's cgroup: the run, the kit inside and other cells (an upper bound)
    SAMPLED = "sampled"  # the tree's private and proportional memory summed in samples (a lower bound)


class Code(Word):
    """Diagnosis codes: what went wrong and how to fix it (documented in the README)."""

    MISSING_GUARD = "missing_guard"
    PICKLING = "pickling"
    WORKER_DIED = "worker_died"
    TOP_LEVEL_REEXECUTED = "top_level_reexecuted"
    OUTPUT_DIFFERS = "output_differs"
    FORK_WITH_THREADS = "fork_with_threads"
    LEAKED_RESOURCES = "leaked_resources"
    SETS_OWN_METHOD = "sets_own_method"
    OUTPUT_TRUNCATED = "output_truncated"
    HANG = "hang"
    OUTCOME_DIFFERS = "outcome_differs"
    FLAKY = "flaky"
    LEAKED_PROCESS = "leaked_process"
    SHADOWS_STDLIB = "shadows_stdlib"
    OOM_KILLED = "oom_killed"


HOST = "host"
"""The place that is this machine; the others are ``docker:X.Y``."""

UNKNOWN_PLACE = "?"
"""The place of a result that does not say where it ran (a cell that never ran)."""

GENERIC_CHECKS = ("no orphans", "exit 0")
"""Names of the checks every run gets (``kit.checks.no_orphans``, ``exits_with(0)``)."""


def exit_status(statuses: Iterable[Status | str], differs: bool = False) -> int:
    """The command's exit status: 0 when nothing failed, 1 otherwise (also when runs differ)."""
    return 0 if all(Status(s).ok for s in statuses) and not differs else 1


def exit_code(code: int | None) -> str:
    """An exit code as a person reads it: ``-9`` becomes ``-9 (SIGKILL)``."""
    import signal  # here: kit.probe imports this module in every process of a run

    if code is None:
        return "none"
    if code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return str(code)


def size_text(n: int | None) -> str:
    """Bytes as a person reads them, in powers of 1024 as ``--memory-limit`` takes them: ``310 MiB``."""
    if n is None:
        return "?"
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor:
            value = n / factor
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} B"
