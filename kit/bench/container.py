"""Measuring in a kit image: every method in one container, the workers one after the other.

One container per Python, not one per method: starting a container costs more than a
measurement is worth.  Each method still gets a fresh interpreter (``container_command``), and
one container runs at a time, so that no two benchmarks share the CPUs.  The container is driven
by ``kit.container.driver.Driver``, as the matrix's are.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable

from kit import env
from kit.bench.records import ERROR, MethodBench
from kit.bench.worker import parse_output, worker_command, worker_timeout

if TYPE_CHECKING:
    import docker

STARTUP_S = 30.0
"""Container start and interpreter imports, on top of the workers' own time."""


def container_command(methods: Sequence[str], repeat: int) -> list[str]:
    """One interpreter after the other, each method in a fresh one; a line on stderr says which."""
    steps = [f"echo {shlex.quote('measuring ' + m)} >&2; {shlex.join(worker_command('python', m, repeat))}"
             for m in methods]
    return ["sh", "-c", "; ".join(steps)]


def measure_container(client: docker.DockerClient, python: str, image: str, methods: Sequence[str], repeat: int,
                      say: Callable[[str], None]) -> list[MethodBench]:
    """Every method in one container of ``image``, read back from its stdout; a method without a
    result is an error row saying how the container ended.  A stop asked for while it ran kills
    the container and raises KeyboardInterrupt, as between runs."""
    from kit.container.driver import Driver, Stopped, TimedOut

    target = f"docker:{python}"
    limit = STARTUP_S + len(methods) * worker_timeout(repeat)
    with Driver(client, image, container_command(methods, repeat), labels={"kit.python": python},
                environment={env.TARGET: target, "PYTHONUNBUFFERED": "1"}) as run:
        run.stream(lambda line: say(f"  {target} {line}"))
        ending = run.wait(limit)
        if isinstance(ending, Stopped):
            run.kill()
            raise KeyboardInterrupt(f"signal {ending.signum}")
        if isinstance(ending, TimedOut):
            run.kill()
            return [MethodBench(target, m, ERROR, f"the container did not finish within {limit:g} s: killed")
                    for m in methods]
        logs = run.logs()
    return [parse_output(logs.stdout, target, m, f"or its container {ending.words()}", logs.stderr) for m in methods]
