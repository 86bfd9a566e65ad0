"""What to run, and what it must show: the examples of the article, or a user's script.

An example's code lives in ``kit/examples/<name>.py``; its expectations live
here, because some examples (``guard``, ``queue``) run their code on import.
A ``Target`` is what the runner runs: how the launcher starts it, its checks per
start method, and what its source says (``kit.source``), for the diagnoses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kit import checks as c
from kit.examples import path_of
from kit.source import SourceFacts, analyse_file

BOOTSTRAP_SHORT = "bootstrapping phase"


@dataclass(frozen=True)
class Example:
    name: str
    summary: str
    expect: tuple[c.Check, ...]
    per_method: dict[str, tuple[c.Check, ...]] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return f"kit.examples.{self.name}"

    def checks_for(self, method: str) -> list[c.Check]:
        return [*self.expect, *self.per_method.get(method, ())]


_SPAWNING_GUARD = (
    c.output_has(BOOTSTRAP_SHORT, "stderr"),
    c.event_value("child_exitcode", "exitcode", 1),
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
            "traffic light and 100 cars: a car passes only on green; the light stops cleanly",
            (c.event_count("car_passes", 100), c.passes_only_on_green(), c.event_count("light_stopped", 1)),
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
    )
}


@dataclass(frozen=True)
class Target:
    """What to run: an example of the catalogue or a user's script, and its checks."""

    name: str
    launcher_args: tuple[str, ...]
    checks_for: Callable[[str], list[c.Check]]
    facts: SourceFacts = SourceFacts()
    path: str = ""  # the script's path, "" for an example

    @property
    def is_script(self) -> bool:
        return bool(self.path)


def example_target(name: str) -> Target:
    example = EXAMPLES[name]
    return Target(name, ("-m", example.module), example.checks_for, analyse_file(path_of(name)))


def _script_checks(method: str) -> list[c.Check]:
    return [c.children_exit_cleanly()]


def script_target(path: str, like: str | None = None, args: tuple[str, ...] = ()) -> Target:
    """A user's script, run like ``python script.py ARGS``: it must exit 0, leave no orphan and
    lose no child to an error.  ``like`` borrows an example's checks instead (tests run broken
    variants so)."""
    checks_for = EXAMPLES[like].checks_for if like else _script_checks
    resolved = str(Path(path).resolve())
    return Target(path, (resolved, *args), checks_for, analyse_file(resolved), path=resolved)
