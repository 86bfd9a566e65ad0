"""Every example and what it must show, per start method.

An example's code lives in ``kit/examples/<name>.py``; its expectations live
here, because some examples (``guard``, ``queue``) run their code on import.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kit import checks as c

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
