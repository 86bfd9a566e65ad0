"""What to run, and what it must show: the examples of the article, the pitfalls people meet
beyond it, or a user's script.

An example's code lives in ``kit/examples/<name>.py``; its expectations live
here, because some examples (``guard``, ``queue``) run their code on import.
A ``Subject`` is what the runner runs: how the launcher starts it, its checks per
start method, and what its source says (``kit.source``), for the diagnoses.

The pitfall examples show behaviour that depends on the start method, the Python version and
the operating system.  Their expectations are a table of ``Expect`` rows (methods x Python
versions x OSes -> checks; the first row that matches wins): adding a Python version or an OS is
adding a row.  Where no row matches, the cell is inconclusive ("no expectation for ..."),
never a guess.  A reproduced failure is a pass: the cell passes when the documented behaviour
happens there, and its reason says what happened.  An example's checks may stand in for the
two generic checks (``kit.checks.generic_checks``): ``exits_with(-9)`` for ``exit 0``,
``orphans_left()`` for ``no orphans``.

Provenance: the Linux rows were reproduced here (host 3.11.7; containers 3.11.2, 3.13.5,
3.14.8, 3.15.0).  The macOS (``Darwin``) and ``Windows`` rows come from CPython's documentation
and issue tracker and have not been run yet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache, cache
from pathlib import Path
from typing import Callable
from collections.abc import Iterable

from kit import checks as c
from kit.examples import path_of
from kit.guess import unknown_example
from kit.outcomes import ALL, Ev, Role, size_text
from kit.results import PlatformInfo, RunResult
from kit.source import SourceFacts, analyse_file

BOOTSTRAP_SHORT = "bootstrapping phase"


ARTICLE = "article"
PITFALLS = "pitfalls"
TAGS = (ARTICLE, PITFALLS)

ANY: tuple[str, ...] = ()
"""In an ``Expect`` row: every method / every OS."""
LINUX, MACOS, WINDOWS = "Linux", "Darwin", "Windows"  # as ``PlatformInfo.os`` names them
POSIX = (LINUX, MACOS)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_CLAUSE = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+){0,2})\s*$")


def version_tuple(version: str | tuple[int, ...]) -> tuple[int, int, int]:
    """``"3.13.5"``, ``"3.15.0a1"``, ``(3, 14)`` -> ``(3, 13, 5)``, ``(3, 15, 0)``, ``(3, 14, 0)``."""
    if isinstance(version, tuple):
        parts = (list(version) + [0, 0, 0])[:3]
        return parts[0], parts[1], parts[2]
    m = _VERSION.match(version.strip())
    if not m:
        raise ValueError(f"not a Python version: {version!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def python_matches(spec: str, version: str | tuple[int, ...]) -> bool:
    """Does ``version`` satisfy ``spec``: "" (any), ">=3.12", ">=3.13.8,<3.14" (every clause)."""
    have = version_tuple(version)
    for clause in filter(None, (part.strip() for part in spec.split(","))):
        m = _CLAUSE.match(clause)
        if not m:
            raise ValueError(f"not a Python version range: {spec!r}")
        op, want = m.group(1), version_tuple(m.group(2))
        ok = {">=": have >= want, "<=": have <= want, "==": have == want, "!=": have != want,
              ">": have > want, "<": have < want}[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Expect:
    """One row of an example's expectations: under these methods, on these Pythons and OSes,
    these checks must hold.  ``ANY`` (empty) matches everything; ``python`` is a range such as
    ``">=3.12"`` or ``">=3.13.8,<3.14"`` ("" = every version); ``note`` says where the row comes
    from (measured here, documented upstream)."""

    methods: tuple[str, ...]
    python: str
    os: tuple[str, ...]
    checks: tuple[c.Check, ...]
    note: str = ""

    def __post_init__(self) -> None:
        python_matches(self.python, "3.0")  # a malformed range fails when the catalogue loads

    def matches(self, os: str, python: str | tuple[int, ...], method: str) -> bool:
        return ((not self.methods or method in self.methods) and (not self.os or os in self.os)
                and python_matches(self.python, python))


def no_expectation(where: str) -> c.Check:
    """Nothing to judge by: the cell is inconclusive, with this reason (see ``kit.judge``)."""
    return c.Check("expectation", lambda ev: (False, f"no expectation for {where}"), undecided=True)


@lru_cache(maxsize=1)
def _here() -> tuple[str, str]:
    """The OS and Python the runs of this process happen on (the runner runs its own interpreter)."""
    info = PlatformInfo.here()
    return info.os, info.python


@dataclass(frozen=True)
class Example:
    """An example: its checks for every method (``expect``), added ones per method
    (``per_method``), or, for behaviour that depends on the Python version and the OS, a
    ``table`` of ``Expect`` rows instead.  ``by_path``: run like ``python example.py`` rather
    than ``python -m``, where that is what the behaviour depends on.  ``observed``: what one run
    showed, in a few words, read from its result (``kit.report`` lists how it differs).
    ``ignore_output``: regexes for output that depends on timing, left out when runs are compared."""

    name: str
    summary: str
    expect: tuple[c.Check, ...] = ()
    per_method: dict[str, tuple[c.Check, ...]] = field(default_factory=dict)
    tags: tuple[str, ...] = (ARTICLE,)
    table: tuple[Expect, ...] = ()
    by_path: bool = False
    observed: Callable[[RunResult], str] | None = None
    ignore_output: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return f"kit.examples.{self.name}"

    def checks_for(self, method: str, os: str | None = None, python: str | None = None) -> list[c.Check]:
        """The checks of a run under ``method`` on ``os`` and ``python`` (default: here)."""
        if not self.table:
            return [*self.expect, *self.per_method.get(method, ())]
        if os is None or python is None:
            here_os, here_python = _here()
            os, python = os or here_os, python or here_python
        row = self.row_for(os, python, method)
        if row is None:
            return [no_expectation(f"{self.name} on {os}, Python {python}, {method}")]
        return [*self.expect, *row.checks]

    def row_for(self, os: str, python: str | tuple[int, ...], method: str) -> Expect | None:
        """The first row of the table that matches, or None."""
        return next((row for row in self.table if row.matches(os, python, method)), None)


_SPAWNING_GUARD = (
    c.output_has(BOOTSTRAP_SHORT, "stderr"),
    c.event_value("child_exitcode", "exitcode", 1),
)

# -- beyond the article: the pitfalls people really meet ------------------------------------------
FORK_WARNING = "is multi-threaded, use of fork() may lead to deadlocks in the child"
SPAWNING = ("spawn", "forkserver")
START_LINE, RAW_FORK_LINE = "Process.start() 之前的一行", "裸 fork() 之前的一行"  # fork_buffered_output


def _orphan_roles(r: RunResult) -> str:
    if not r.orphans:
        return "no orphan"
    roles: dict[str, int] = {}
    for o in r.orphans:
        roles[str(o.role)] = roles.get(str(o.role), 0) + 1
    return "orphans: " + ", ".join(f"{n} {role}" if n > 1 else role for role, n in sorted(roles.items()))


def _printed(pattern: str, say: str, otherwise: str) -> Callable[[RunResult], str]:
    """What the run printed: ``say`` with the pattern's first group, or ``otherwise``."""
    rx = re.compile(pattern)

    def read(r: RunResult) -> str:
        m = rx.search(r.stdout)
        return say.format(*m.groups()) if m else otherwise

    return read


def _fork_warning(r: RunResult) -> str:
    return "DeprecationWarning (multi-threaded fork)" if FORK_WARNING in r.stderr else "silent"


def _memory_observed(r: RunResult) -> str:
    if r.memory_peak_bytes is None:
        return "memory peak unknown"
    return f"memory peak {size_text(r.memory_peak_bytes)} ({r.memory_source})"


def _default_method(r: RunResult) -> str:
    available = re.search(r"可用的启动方法: (.*)", r.stdout)
    default = r.platform.default_method if r.platform else "?"
    there = available.group(1).strip().replace(", ", "/") if available else "?"
    return f"default {default} (of {there})"


def _start_methods(default: str, *available: str) -> tuple[c.Check, ...]:
    """The default as Python shipped it (the launcher's ``script_start``) and the methods there are."""
    return (c.event_value(Ev.SCRIPT_START, "platform_default", default),
            c.event_value("start_methods", "available", sorted(available)))


_CHILD_RAN = (c.event_value("child_exitcode", "exitcode", 0),)
_NO_SOCKET = (c.event_matches("start_failed", "error", "AF_UNIX path too long"),)


def _top_level(r: RunResult) -> str:
    return f"top level ran in {r.top_level_runs} process(es)"


def _raw_fork(r: RunResult) -> str:
    return (f"line before a raw fork() written {r.stdout.count(RAW_FORK_LINE)}x, "
            f"before Process.start() {r.stdout.count(START_LINE)}x")


PITFALL_EXAMPLES = (
    Example(
        "kill_parent",
        "main SIGKILLs itself while a daemon and a child sleep: both are left as orphans",
        tags=(PITFALLS,),
        table=(
            Expect(("fork",), "", POSIX, (c.exits_with(-9), c.orphans_left()),
                   "measured here (3.11) and in containers"),
            Expect(("spawn",), "", POSIX, (c.exits_with(-9), c.orphans_left(Role.RESOURCE_TRACKER)),
                   "the resource tracker lives while the children hold its pipe"),
            Expect(("forkserver",), "", POSIX,
                   (c.exits_with(-9), c.orphans_left(Role.FORKSERVER, Role.RESOURCE_TRACKER)),
                   "the workers are the forkserver's children and keep it alive (its 'alive' pipe)"),
        ),
        observed=_orphan_roles,
    ),
    Example(
        "kill_parent_safe",
        "the remedy: children die with their parent (PR_SET_PDEATHSIG, or a watchdog): no orphan",
        (c.exits_with(-9), c.event_count("protected", 2)),
        tags=(PITFALLS,),
        table=(
            Expect(("fork", "spawn"), "", (LINUX,), (c.event_value("protected", "how", "pdeathsig"),)),
            Expect(("forkserver",), "", (LINUX,), (c.event_value("protected", "how", "watchdog"),),
                   "the forkserver is the workers' parent: PDEATHSIG would wait for it"),
            Expect(ANY, "", (MACOS,), (c.event_value("protected", "how", "watchdog"),)),
        ),
        observed=_orphan_roles,
    ),
    Example(
        "lambda_target",
        "a lambda as Process target: runs under fork; spawn/forkserver start() raises PicklingError",
        tags=(PITFALLS,),
        table=(
            Expect(("fork",), "", ANY, (c.output_has("我是一个 lambda 进程"),
                                        c.event_value("child_exitcode", "exitcode", 0))),
            Expect(SPAWNING, "", ANY, (c.event_matches("start_failed", "error", r"^PicklingError: .*[Cc]an't pickle"),),
                   "the message varies by version; the type does not"),
        ),
        observed=_printed(r"start\(\) 失败: (\w+)", "start() raised {}", "the child ran the lambda"),
    ),
    Example(
        "global_state",
        "a global changed before start(): fork's child sees the new value, spawn/forkserver's the import-time one",
        tags=(PITFALLS,),
        table=(
            Expect(("fork",), "", ANY, (c.event_value("child_sees", "value", 100),)),
            Expect(SPAWNING, "", ANY, (c.event_value("child_sees", "value", 0),)),
        ),
        observed=_printed(r"子进程看到 counter = (\d+)", "the child saw counter={}", "the child printed nothing"),
    ),
    Example(
        "fork_threads",
        "fork while another thread runs: the kit names the thread on every Python; 3.12+ also warns",
        (c.event_value("threads_at_start", "count", 2),),
        tags=(PITFALLS,),
        table=(
            Expect(("fork",), ">=3.12", POSIX, (c.output_count(FORK_WARNING, 1, "stderr"), c.thread_at_fork("waiter")),
                   "gh-100228"),
            Expect(("fork",), "<3.12", POSIX, (c.output_count(FORK_WARNING, 0, "stderr"), c.thread_at_fork("waiter")),
                   "Python says nothing before 3.12: the kit names the thread"),
            Expect(SPAWNING, "", ANY, (c.output_count(FORK_WARNING, 0, "stderr"), c.no_fork_with_threads()),
                   "the main process does not fork: a fresh interpreter starts"),
        ),
        observed=_fork_warning,
    ),
    Example(
        "daemon_children",
        "a daemon process starting a child: 'daemonic processes are not allowed to have children'",
        tags=(PITFALLS,),
        table=(
            Expect(ANY, "", ANY, (c.event_value("grandchild_refused", "error",
                                                "daemonic processes are not allowed to have children"),),
                   "an assert in Process.start(): gone under python -O (the kit never uses -O)"),
        ),
        observed=_printed(r"守护进程不能有子进程: (.*)", "refused: {}", "the daemon started a child"),
    ),
    Example(
        "default_method",
        "the platform's default and available start methods (fork on Linux < 3.14, forkserver from 3.14)",
        tags=(PITFALLS,),
        table=(
            Expect(ANY, "<3.14", (LINUX,), _start_methods("fork", "fork", "forkserver", "spawn")),
            Expect(ANY, ">=3.14", (LINUX,), _start_methods("forkserver", "fork", "forkserver", "spawn"), "gh-84559"),
            Expect(ANY, ">=3.8", (MACOS,), _start_methods("spawn", "fork", "forkserver", "spawn"), "bpo-33725"),
            Expect(ANY, "", (WINDOWS,), _start_methods("spawn", "spawn")),
        ),
        observed=_default_method,
    ),
    Example(
        "unpicklable_result",
        "a pool worker returns a lock: MaybeEncodingError reaches the parent, nothing hangs",
        tags=(PITFALLS,),
        table=(
            Expect(ANY, "", ANY, (c.event_matches("result_error", "error",
                                                  r"^MaybeEncodingError: .*cannot pickle '_thread\.lock' object"),
                                  c.event_value("pool_after", "value", [0, 1, 4, 9])),
                   "a Pool pickles results under every method, fork included"),
        ),
        observed=_printed(r"结果无法传回: (\w+)", "{} in the parent", "no error"),
    ),
    Example(
        "queue_qsize",
        "Queue.qsize() works on Linux and Windows, raises NotImplementedError on macOS",
        tags=(PITFALLS,),
        table=(
            Expect(ANY, "", (LINUX, WINDOWS), (c.event_value("qsize", "value", 1),)),
            Expect(ANY, "", (MACOS,), (c.event_value("qsize", "error", "NotImplementedError"),),
                   "broken sem_getvalue, cpython #101094"),
        ),
        observed=_printed(r"(qsize\(\) = \d+|qsize\(\) 在这个平台上不可用)", "{}", "?"),
    ),
    Example(
        "preload_main",
        "top-level code outside the guard: which processes run it (spawn children; a 3.14.1+ forkserver)",
        tags=(PITFALLS,),
        by_path=True,
        table=(
            Expect(("fork",), "", ANY, (c.top_level_count(1),)),
            Expect(("spawn",), "", ANY, (c.top_level_count(3),), "main and each of the 2 children"),
            Expect(("forkserver",), "<3.13.8", POSIX, (c.top_level_count(3),),
                   "the forkserver preloads nothing: each child re-runs the top level"),
            Expect(("forkserver",), ">=3.13.8,<3.14", POSIX, (c.top_level_count(2),), "gh-137996"),
            Expect(("forkserver",), ">=3.14,<3.14.1", POSIX, (c.top_level_count(3),)),
            Expect(("forkserver",), ">=3.14.1", POSIX, (c.top_level_count(2),),
                   "main and the forkserver (it preloads __main__); the children run nothing"),
        ),
        observed=_top_level,
    ),
    Example(
        "fork_buffered_output",
        "a line printed without flush before a raw fork() is written twice; Process.start() flushes first",
        (c.output_count(START_LINE, 1),),
        tags=(PITFALLS,),
        table=(
            Expect(ANY, "", POSIX, (c.output_count(RAW_FORK_LINE, 2), c.event_value("raw_fork", "available", True))),
            Expect(ANY, "", (WINDOWS,), (c.event_value("raw_fork", "available", False),), "Windows has no raw fork()"),
        ),
        observed=_raw_fork,
    ),
    Example(
        "long_tmpdir",
        "forkserver with a TMPDIR too long for a socket: 'AF_UNIX path too long' (3.11); fork/spawn don't care",
        tags=(PITFALLS,),
        table=(
            Expect(("fork", "spawn"), "", ANY, _CHILD_RAN, "no socket"),
            Expect(("forkserver",), "<3.13", POSIX, _NO_SOCKET, "measured on 3.11 (3.13.0-3.13.4: no row, unverified)"),
            Expect(("forkserver",), ">=3.13.5", POSIX, _CHILD_RAN,
                   "gh-132124: get_temp_dir() falls back to the system's temporary folder"),
        ),
        observed=_printed(r"start\(\) 失败: (.*)", "start() failed: {}", "the child ran"),
    ),
    Example(
        "copy_on_write",
        "what fork shares and spawn copies, in memory figures; copy-on-read under fork, and what gc.freeze() saves",
        (c.event_count("buffer_read", 2),),
        tags=(PITFALLS,),
        table=(
            Expect(("fork",), "", POSIX, (
                c.share_of("buffer_read", "private", of="data", at_most=0.25),
                c.run_memory(of="data", at_most=1.6),
                c.share_of("objects_read", "copied", of="objects", at_least=0.4),
                c.share_of("objects_collected", "copied", of="objects", at_least=0.25),
                c.share_of("objects_collected_frozen", "copied", of="objects", at_most=0.05),
            ), "the workers read the parent's pages; reading small objects copies theirs"),
            Expect(SPAWNING, "", ANY, (
                c.share_of("buffer_read", "private", of="data", at_least=0.9),
                c.run_memory(of="data", at_least=2.5),
            ), "each worker unpickles its own copy"),
        ),
        observed=_memory_observed,
    ),
)


EXAMPLES: dict[str, Example] = {
    e.name: e
    for e in (
        Example(
            "hello",
            "create and start a process; the child prints 我是一个进程",
            (c.output_has("我是一个进程"), c.in_other_processes("script_start", "child_says", off_main=False)),
        ),
        Example(
            "join",
            "join() makes the parent's line come after the child's",
            (
                c.happens_before("child_printed", "parent_printed"),
                c.lines_in_order("我是一个name", "我是第一顺序执行者"),
            ),
        ),
        Example(
            "daemon",
            "a daemon child is terminated when the main process exits; daemon can't be set after start()",
            (c.daemon_terminated(), c.event_value("daemon_after_start", "refused", True)),
        ),
        Example(
            "lock",
            "10 processes print under one Lock; critical sections never overlap",
            (c.max_inside("enter", "leave", limit=1, processes=10),),
        ),
        Example(
            "semaphore",
            "10 processes, Semaphore(4): never more than 4 inside, and 4 reached",
            (c.max_inside("enter", "leave", limit=4, processes=10),),
        ),
        Example(
            "event",
            "traffic light and cars (100 at --scale 1): a car passes only on green; the light stops cleanly",
            (c.event_count("car_passes", "cars"), c.passes_only_on_green(), c.event_count("light_stopped", 1)),
            ignore_output=("^(红灯亮|绿灯亮)$",),  # the light changes on a timer for as long as the run lasts
        ),
        Example(
            "queue",
            "put() then get() on one Queue in a single process",
            (c.event_value("got", "value", 1), c.output_has("1")),
        ),
        Example(
            "queue_parent_child",
            "the child puts 'hello' on a Queue, the parent gets it",
            (c.same_value("put", "got"), c.in_other_processes("put", "got", off_main=False),
             c.output_has("hello")),
        ),
        Example(
            "queue_siblings",
            "two sibling processes talk through one Queue",
            (c.same_value("put", "got"), c.in_other_processes("put", "got", off_main=True),
             c.output_has("hello")),
        ),
        Example(
            "guard",
            "no __main__ guard: spawn/forkserver children die with the bootstrapping RuntimeError",
            (),
            {
                "fork": (c.output_has("我是一个进程"), c.event_value("child_exitcode", "exitcode", 0)),
                "spawn": _SPAWNING_GUARD,
                "forkserver": _SPAWNING_GUARD,
            },
        ),
        Example(
            "cpu",
            "CPU-bound work in one process per core: real parallelism",
            (c.uses_cores(0.75),),
        ),
        *PITFALL_EXAMPLES,
    )
}


EXAMPLE, SCRIPT, SUITE = "example", "script", "suite"
"""The kinds of subject: an example of the catalogue, a user's script, a project's test suite (``kit.suite``)."""


@dataclass(frozen=True)
class Subject:
    """What to run: an example of the catalogue, a user's script or a project's suite, and its checks."""

    name: str
    launcher_args: tuple[str, ...]
    checks_for: Callable[[str], list[c.Check]]
    facts: SourceFacts = SourceFacts()
    path: str = ""  # the script's path or the suite's folder, "" for an example
    kind: str = EXAMPLE
    cwd: str = ""  # where the run starts ("": where the kit runs); a suite runs in its folder
    args: tuple[str, ...] = ()  # the user's arguments: a script's, or pytest's for a suite
    ignore_output: tuple[str, ...] = ()  # an example's output that depends on timing (``Example.ignore_output``)

    @property
    def is_script(self) -> bool:
        return self.kind == SCRIPT


@cache
def example_subject(name: str) -> Subject:
    """The example ``name`` as a subject, made once per kit process (its source is read and analysed:
    a matrix asks for each example several times, and the kit's own files do not change under it)."""
    example = EXAMPLES[name]
    path = str(path_of(name))
    args = (path,) if example.by_path else ("-m", example.module)
    return Subject(name, args, example.checks_for, analyse_file(path), ignore_output=example.ignore_output)


def select(names_or_tags: Iterable[str]) -> list[str]:
    """Example names for a command line: names, tags (``article``, ``pitfalls``) and ``all``, in
    catalogue order, each once; ValueError naming what is unknown."""
    wanted: set[str] = set()
    for item in names_or_tags:
        if item == ALL:
            wanted.update(EXAMPLES)
        elif item in EXAMPLES:
            wanted.add(item)
        elif item in TAGS:
            wanted.update(name for name, e in EXAMPLES.items() if item in e.tags)
        else:
            raise ValueError(unknown_example(item, [ALL, *TAGS, *EXAMPLES],
                                             f"{ALL}, the tags {', '.join(TAGS)}, or the names {', '.join(EXAMPLES)}"))
    return [name for name in EXAMPLES if name in wanted]


def _script_checks(method: str) -> list[c.Check]:
    return [c.children_exit_cleanly()]


def script_subject(path: str, like: str | None = None, args: tuple[str, ...] = ()) -> Subject:
    """A user's script, run like ``python script.py ARGS``: it must exit 0, leave no orphan and
    lose no child to an error.  ``like`` borrows an example's checks instead (tests run broken
    variants so)."""
    checks_for = EXAMPLES[like].checks_for if like else _script_checks
    resolved = str(Path(path).resolve())
    return Subject(path, (resolved, *args), checks_for, analyse_file(resolved), path=resolved, kind=SCRIPT, args=args)
