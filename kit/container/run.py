"""Run a batch of matrix cells inside one container of a ``kit:pyX.Y`` image.

One container per batch, not one per cell: starting a container costs a second
or two.  Inside, the kit runs the batch's cells one after the other (``--jobs 1``:
the container's pid namespace is the evidence of one run at a time); batches of
several containers overlap as ``kit.schedule`` plans.  The
container speaks the kit's own JSON (``--json -``) on stdout; its table and
progress lines go to stderr, which can be streamed to ``progress``.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kit import env, options, results
from kit.container.driver import DONE_MARK, WAIT_POLL_S, Driver, Exited, Logs, Stopped, TimedOut, keepable
from kit.container.engine import FILES_DIR
from kit.container.project import project_archive
from kit.outcomes import Method, Status
from kit.catalogue import SCRIPT, SUITE, Subject
from kit.results import PlatformInfo, RunResult
from kit.stop import STOP
from kit.settings import GRACE_S, Settings

if TYPE_CHECKING:
    import docker

Say = Callable[[str], None]

STARTUP_S = 30.0  # container start and interpreter imports, on top of the cells' own time
PER_CELL_MARGIN_S = 5.0  # the kit's own grace, judging and killing, per cell

__all__ = ["DONE_MARK", "PER_CELL_MARGIN_S", "SCRIPT_DIR", "STARTUP_S", "WAIT_POLL_S", "Batch", "keepable",
           "matrix_command", "overall_timeout", "pytest_command", "run_batch", "run_command", "run_in_container",
           "run_one_in_container"]


def overall_timeout(cells: int, timeout_s: float) -> float:
    """The batch's ceiling: every cell timing out in the kit, plus slack.  Reached only when
    something is badly wrong (a wedged daemon, a kit bug), since the kit times cells out itself."""
    return STARTUP_S + cells * (timeout_s + GRACE_S + PER_CELL_MARGIN_S)


SCRIPT_DIR = FILES_DIR
"""Where a user's script folder is copied in a container."""


def matrix_command(examples: Sequence[str], methods: Sequence[str], settings: Settings) -> list[str]:
    """The kit's own CLI inside: the container speaks the same JSON as a host run (``--json -``),
    one cell at a time (its pid namespace is the evidence of one run)."""
    return ["python", "-m", "kit", *options.to_argv("matrix", targets="host", examples=examples, methods=methods,
                                                     scale=settings.scale, timeout=settings.timeout, jobs=1,
                                                     memory_limit=settings.memory_limit, json="-")]


def run_command(what: str, methods: Sequence[str], settings: Settings, args: Sequence[str] = ()) -> list[str]:
    """``kit run`` of an example or of a script in ``SCRIPT_DIR``; ``methods`` may hold ``default``."""
    return ["python", "-m", "kit", *options.to_argv("run", [what], args, targets="host", method=methods,
                                                     scale=settings.scale, timeout=settings.timeout,
                                                     memory_limit=settings.memory_limit, json="-")]


def pytest_command(methods: Sequence[str], settings: Settings, pytest_args: Sequence[str]) -> list[str]:
    """``kit pytest`` of the project copied to ``SCRIPT_DIR``, its cells one after the other."""
    return ["python", "-m", "kit", *options.to_argv("pytest", [SCRIPT_DIR], pytest_args, targets="host",
                                                     method=methods, timeout=settings.timeout, jobs=1,
                                                     memory_limit=settings.memory_limit, json="-")]


@dataclass(frozen=True)
class Batch:
    """What one container runs: the kit's ``command`` for ``cells`` ((name, method) pairs) in ``image``;
    ``files`` (a tar) unpacked in ``SCRIPT_DIR`` first.  ``match_method``: a result answers the cell
    of its method; off (``default`` or ``all``), any results the kit printed are the batch's.
    ``overall_s``: the container's ceiling (default ``overall_timeout``)."""

    python: str
    command: list[str]
    cells: tuple[tuple[str, str], ...]
    image: str
    files: bytes | None = None
    match_method: bool = True
    overall_s: float | None = None

    @property
    def place(self) -> str:
        return f"docker:{self.python}"


def run_in_container(client: docker.DockerClient, python: str, examples: Sequence[str], methods: Sequence[str],
                     settings: Settings, image: str, say: Say | None = None) -> list[RunResult]:
    """Every (example, method) cell run by ``python -m kit matrix`` in one container.

    ``settings.timeout`` is per cell, as for the kit on the host; past the batch's ceiling
    (``overall_timeout``) the container is killed and removed, and cells without a result come
    back as ``timeout``.  A cell that fails is an ordinary result (the kit then exits 1); only
    output that is not the kit's JSON makes ``error`` results.  Every result's ``platform.place``
    is ``docker:X.Y``.  ``say``: the container's progress, prefixed (unless ``settings.quiet``), and
    how to reach a container kept for ``settings.keep_containers``.
    """
    examples, methods = list(examples), list(methods)
    cells = tuple((e, m) for e in examples for m in methods)
    progress = (lambda line: say(f"  docker:{python} {line}")) if say is not None and not settings.quiet else None
    return run_batch(client, Batch(python, matrix_command(examples, methods, settings), cells, image), settings,
                     progress=progress, keep=_keeper(settings, say))


def _keeper(settings: Settings, say: Say | None) -> Say | None:
    return say if settings.keep_containers else None


def run_one_in_container(client: docker.DockerClient, python: str, subject: Subject, methods: Sequence[str],
                         settings: Settings, image: str, say: Say | None = None) -> list[RunResult]:
    """A subject under each of ``methods`` (``default``: the container's own) in one container, as
    the host runs it: an example or a script by ``kit run`` (a script's folder copied in, as a
    project's is: ``kit.container.project``); a project's suite by ``kit pytest`` in the project's
    folder, on ``image`` (which then holds pytest and the project's requirements:
    ``kit.container.deps``).  Results are named as on the host."""
    if subject.kind == SUITE:
        files: bytes | None = project_archive(Path(subject.path))
        command = pytest_command(methods, settings, subject.args)
    elif subject.kind == SCRIPT:
        script = Path(subject.path)
        files = project_archive(script.parent)
        command = run_command(f"{SCRIPT_DIR}/{script.name}", methods, settings, subject.args)
    else:
        files, command = None, run_command(subject.name, methods, settings)
    cells = tuple((subject.name, m) for m in methods)
    rs = run_batch(client, Batch(python, command, cells, image, files=files, match_method=False), settings,
                   keep=_keeper(settings, say))
    for r in rs:
        r.subject = subject.name
    return rs


def run_batch(client: docker.DockerClient, batch: Batch, settings: Settings,
              progress: Callable[[str], None] | None = None, keep: Callable[[str], None] | None = None
              ) -> list[RunResult]:
    """Run ``batch`` in one container and read back its JSON results, one per cell.  ``keep``: when
    the kit in the container fails (a cell did not pass), the container is kept running and
    ``keep`` is told how to use it (``docker exec``) and remove it (``docker rm -f``)."""
    if not batch.cells:
        return []
    target = batch.place
    reader = _Batch(client, batch.python, target, batch.cells, settings.scale)
    limit = overall_timeout(len(batch.cells), settings.timeout) if batch.overall_s is None else batch.overall_s
    t0 = time.monotonic()
    with Driver(client, batch.image, batch.command, keep_on_failure=keep is not None,
                labels={"kit.python": batch.python},
                environment={"PYTHONUNBUFFERED": "1", env.TARGET: target, env.PIDNS: "1"},
                files=batch.files, working_dir=SCRIPT_DIR if batch.files else None,
                **_memory(settings)) as run:
        if progress:
            run.stream(progress)
        ending = run.wait(max(0.0, limit - (time.monotonic() - t0)))
        if keep and isinstance(ending, Exited) and ending.code:
            run.keep()
            keep(f"kept the container of {target} for debugging: docker exec -it {run.short_id} sh"
                 f"   (remove it with: docker rm -f {run.short_id})")
        if isinstance(ending, Stopped):
            run.kill()
            return reader.placeholders(batch.cells, "interrupted", f"not run to the end: the kit was stopped "
                                       f"({STOP.name()}) and the container killed")
        if isinstance(ending, TimedOut):
            run.kill()
            return reader.placeholders(batch.cells, "timeout",
                                       f"the container did not finish within {limit:g} s: killed")
        logs = run.logs()
    return reader.read(logs, ending, batch.match_method)


def _memory(settings: Settings) -> dict[str, Any]:
    """Docker's limit for the container, swap included: the cells run one at a time, so it holds each
    run (the kit inside counts too; its run's processes are the OOM killer's first choice)."""
    limit = settings.memory_limit
    return {} if limit is None else {"mem_limit": limit, "memswap_limit": limit}


class _Batch:
    """What a batch's results are made of once its container has ended: the kit's JSON, and
    placeholders for the cells it did not answer."""

    def __init__(self, client: docker.DockerClient, python: str, target: str, cells: Sequence[tuple[str, str]],
                 scale: float) -> None:
        self.client, self.python, self.target, self.cells, self.scale = client, python, target, cells, scale

    def read(self, logs: Logs, ending: Exited, match_method: bool) -> list[RunResult]:
        try:
            rs = results.load(logs.stdout) if logs.stdout.strip() else []
        except ValueError as exc:
            rs, why = [], f"its output is not kit results ({exc})"
        else:
            why = "it printed no results"
        if not rs:
            last = (logs.stderr.strip().splitlines() or ["(none)"])[-1]
            return self.placeholders(self.cells, "error", f"the kit in the container {ending.words()}: {why}; "
                                     f"last stderr line: {last}")
        for r in rs:
            if r.platform is not None:
                r.platform.place = self.target
        if match_method:
            have = {(r.subject, r.method) for r in rs}
            missing = [cell for cell in self.cells if cell not in have]
            if missing:
                rs += self.placeholders(missing, "error", f"no result from the container, which {ending.words()}")
        return rs

    def placeholders(self, cells: Sequence[tuple[str, str]], status: str, reason: str) -> list[RunResult]:
        """Results for cells the container never reported, so a report still has every row."""
        try:
            info = self.client.info()
            cpus, machine = int(info.get("NCPU") or 0), str(info.get("Architecture") or "")
        except Exception:  # noqa: BLE001 - a placeholder must not fail
            cpus, machine = 0, ""
        here = PlatformInfo(os="Linux", python=self.python, implementation="CPython", default_method="",
                            methods=[], cpu_count=cpus, machine=machine, place=self.target)
        return [RunResult(example, Method(method), Status(status), reason, scale=self.scale, platform=here)
                for example, method in cells]
