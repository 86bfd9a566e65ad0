"""Run a batch of matrix cells inside one container of a ``kit:pyX.Y`` image.

One container per batch, not one per cell: starting a container costs a second
or two.  Inside, the kit runs the batch's cells one after the other (``--jobs 1``:
the container's pid namespace is the evidence of one run at a time); batches of
several containers overlap as ``kit.schedule`` plans.  The
container speaks the kit's own JSON (``--json -``) on stdout; its table and
progress lines go to stderr, which can be streamed to ``progress``.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kit import env, options, results
from kit.container.engine import FILES_DIR, api_timeout, container
from kit.container.images import image_for
from kit.outcomes import Method, Status
from kit.results import PlatformInfo, RunResult
from kit.runner import STOP
from kit.settings import DEFAULT_SCALE, DEFAULT_TIMEOUT, GRACE_S

if TYPE_CHECKING:
    from docker.models.containers import Container

    import docker

STARTUP_S = 30.0  # container start and interpreter imports, on top of the cells' own time
PER_CELL_MARGIN_S = 5.0  # the kit's own grace, judging and killing, per cell
WAIT_POLL_S = 1.0  # how often a wait for a container asks whether the kit was told to stop


def overall_timeout(cells: int, timeout_s: float) -> float:
    """The batch's ceiling: every cell timing out in the kit, plus slack.  Reached only when
    something is badly wrong (a wedged daemon, a kit bug), since the kit times cells out itself."""
    return STARTUP_S + cells * (timeout_s + GRACE_S + PER_CELL_MARGIN_S)


SCRIPT_DIR = FILES_DIR
"""Where a user's script folder is copied in a container."""
MAX_FOLDER_BYTES = 50 * 1024 * 1024
_SKIP_DIRS = {".git", ".hg", ".nox", ".tox", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache"}


def matrix_command(examples: Sequence[str], methods: Sequence[str], scale: float, timeout_s: float) -> list[str]:
    """The kit's own CLI inside: the container speaks the same JSON as a host run (``--json -``),
    one cell at a time (its pid namespace is the evidence of one run)."""
    return ["python", "-m", "kit", *options.to_argv("matrix", targets="host", examples=examples, methods=methods,
                                                     scale=scale, timeout=timeout_s, jobs=1, json="-")]


def run_command(what: str, methods: Sequence[str], scale: float, timeout_s: float,
                args: Sequence[str] = ()) -> list[str]:
    """``kit run`` of an example or of a script in ``SCRIPT_DIR``; ``methods`` may hold ``default``."""
    return ["python", "-m", "kit", *options.to_argv("run", [what], args, targets="host", method=methods,
                                                     scale=scale, timeout=timeout_s, json="-")]


def folder_archive(folder: Path) -> bytes:
    """The script's folder as a tar (readable by the image's user, writable by nobody in the
    container), without VCS folders, virtualenvs and caches; a TargetError when it is larger
    than ``MAX_FOLDER_BYTES``."""
    import io
    import os
    import tarfile

    from kit.errors import TargetError

    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for base, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for name in [*dirs, *sorted(files)]:
                path = Path(base, name)
                if path.is_symlink():
                    continue
                info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = (info.mode & 0o755) | (0o755 if info.isdir() else 0o644)
                total += info.size if info.isfile() else 0
                if total > MAX_FOLDER_BYTES:
                    raise TargetError(f"the script's folder {folder} holds more than "
                                      f"{MAX_FOLDER_BYTES // 2**20} MB: put the script in a folder of its own")
                if info.isfile():
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)
                elif info.isdir():
                    tar.addfile(info)
    return buffer.getvalue()


def run_in_container(
    client: docker.DockerClient,
    python: str,
    examples: Sequence[str],
    methods: Sequence[str],
    scale: float = DEFAULT_SCALE,
    timeout_s: float = DEFAULT_TIMEOUT,
    *,
    overall_s: float | None = None,
    image: str | None = None,
    progress: Callable[[str], None] | None = None,
    keep: Callable[[str], None] | None = None,
) -> list[RunResult]:
    """Every (example, method) cell run by ``python -m kit matrix`` in one container.

    ``timeout_s`` is per cell, as for the kit on the host; ``overall_s``
    (default ``overall_timeout``) bounds the whole container: past it the
    container is killed and removed, and cells without a result come back as
    ``timeout``.  A cell that fails is an ordinary result (the kit then exits
    1); only output that is not the kit's JSON makes ``error`` results.
    Every result's ``platform.place`` is ``docker:X.Y``.
    """
    examples, methods = list(examples), list(methods)
    cells = [(e, m) for e in examples for m in methods]
    return run_batch(client, python, matrix_command(examples, methods, scale, timeout_s), cells, scale, timeout_s,
                     overall_s=overall_s, image=image, progress=progress, keep=keep)


def run_one_in_container(
    client: docker.DockerClient,
    python: str,
    what: str | Path,
    methods: Sequence[str],
    scale: float = DEFAULT_SCALE,
    timeout_s: float = DEFAULT_TIMEOUT,
    *,
    args: Sequence[str] = (),
    image: str | None = None,
    progress: Callable[[str], None] | None = None,
    keep: Callable[[str], None] | None = None,
) -> list[RunResult]:
    """An example (a name) or a user's script (a Path) under each of ``methods`` (``default``:
    the container's own) in one container, as ``kit run`` runs it on the host.  A script's
    folder is copied in, and its results name it by the path given on the host."""
    if isinstance(what, Path):
        script = what.resolve()
        files: bytes | None = folder_archive(script.parent)
        command = run_command(f"{SCRIPT_DIR}/{script.name}", methods, scale, timeout_s, args)
    else:
        files, command = None, run_command(what, methods, scale, timeout_s, args)
    cells = [(str(what), m) for m in methods]
    rs = run_batch(client, python, command, cells, scale, timeout_s, files=files, image=image, progress=progress,
                   match_method=False, keep=keep)
    if isinstance(what, Path):
        for r in rs:
            r.subject = str(what)
    return rs


DONE_MARK = "__kit_done__"
"""With --keep-containers the kit's command is followed by this line on stderr (and its exit
status); a failed container then sleeps, so that ``docker exec`` can open a shell in it."""


def keepable(command: list[str]) -> list[str]:
    """``command``, then the done mark; on failure the container stays up (``sleep infinity``)."""
    import shlex

    return ["sh", "-c", f'{shlex.join(command)}; code=$?; echo "{DONE_MARK} $code" >&2; '
                        'if [ "$code" != 0 ]; then exec sleep infinity; fi; exit $code']


def _wait_for_mark(c: Container, seconds: float, seen: threading.Event, code: list[int]) -> Mapping[str, Any] | None:
    """The kit's exit status from the done mark (the container may live on), None past ``seconds``
    or once the kit is told to stop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not STOP.signum:
        if seen.wait(0.2):
            return {"StatusCode": code[0]}
        c.reload()
        if c.status in ("exited", "dead"):
            return _wait(c, 5)
    return None


def run_batch(
    client: docker.DockerClient,
    python: str,
    command: list[str],
    cells: Sequence[tuple[str, str]],
    scale: float,
    timeout_s: float,
    *,
    files: bytes | None = None,
    overall_s: float | None = None,
    image: str | None = None,
    progress: Callable[[str], None] | None = None,
    match_method: bool = True,
    keep: Callable[[str], None] | None = None,
) -> list[RunResult]:
    """Run the kit's ``command`` in one container and read back its JSON results, one per cell.

    ``files`` (a tar) is unpacked in /home/kit before the container starts.  ``match_method``:
    cells are (name, method) and a result answers the cell of its method; off (``default``
    or ``all``), any results the kit printed are the batch's.  ``keep``: when the kit in the
    container fails (a cell did not pass), the container is kept running and ``keep`` is told
    how to use it (``docker exec``) and remove it (``docker rm -f``).
    """
    if not cells:
        return []
    target = f"docker:{python}"
    image = image or image_for(client, python)
    limit = overall_timeout(len(cells), timeout_s) if overall_s is None else overall_s
    t0 = time.monotonic()
    seen, code = threading.Event(), [0]

    def watch(line: str) -> None:
        if line.startswith(DONE_MARK):
            code[0] = int(line.split()[-1]) if line.split()[-1].lstrip("-").isdigit() else 1
            seen.set()
        elif progress:
            progress(line)

    with container(client, image, keepable(command) if keep else command, labels={"kit.python": python},
                   environment={"PYTHONUNBUFFERED": "1", env.TARGET: target, env.PIDNS: "1"},
                   files=files, working_dir=SCRIPT_DIR if files else None) as c:
        pump = _stream_stderr(client, c, watch) if (progress or keep) else None
        left = max(0.0, limit - (time.monotonic() - t0))
        status = _wait_for_mark(c, left, seen, code) if keep else _wait(c, left)
        if keep and status is not None and status.get("StatusCode"):
            c.kit_keep = True  # type: ignore[attr-defined]  # read by engine.container's clean-up
            keep(f"kept the container of docker:{python} for debugging: docker exec -it {c.short_id} sh"
                 f"   (remove it with: docker rm -f {c.short_id})")
        if status is None:
            with contextlib.suppress(Exception):  # it may have ended just now; remove() follows anyway
                c.kill()
            if pump:
                pump.join(timeout=5)
            if STOP.signum:
                return _placeholders(client, cells, "interrupted", f"not run to the end: the kit was stopped "
                                     f"({STOP.name()}) and the container killed", scale, python, target)
            reason = f"the container did not finish within {limit:g} s: killed"
            return _placeholders(client, cells, "timeout", reason, scale, python, target)
        stdout = c.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        stderr = c.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        if pump and not getattr(c, "kit_keep", False):  # a kept container's stream never ends
            pump.join(timeout=5)
    try:
        rs = results.load(stdout) if stdout.strip() else []
    except ValueError as exc:
        rs, why = [], f"its output is not kit results ({exc})"
    else:
        why = "it printed no results"
    if not rs:
        return _placeholders(client, cells, "error", f"the kit in the container {_ended(status)}: {why}; "
                             f"last stderr line: {(stderr.strip().splitlines() or ['(none)'])[-1]}",
                             scale, python, target)
    for r in rs:
        if r.platform is not None:
            r.platform.place = target
    if match_method:
        have = {(r.subject, r.method) for r in rs}
        missing = [cell for cell in cells if cell not in have]
        if missing:
            rs += _placeholders(client, missing, "error", f"no result from the container, which {_ended(status)}",
                                scale, python, target)
    return rs


def _ended(status: Mapping[str, Any]) -> str:
    """How the container's main process ended, as words ("was killed by SIGKILL (exit status 137)")."""
    code = status.get("StatusCode")
    error = (status.get("Error") or {}).get("Message") if isinstance(status.get("Error"), dict) else None
    words = f"exited with status {code}"
    if isinstance(code, int) and code > 128:
        with contextlib.suppress(ValueError):
            words = f"was killed by {signal.Signals(code - 128).name} (exit status {code})"
    return f"{words}; {error}" if error else words


def _wait(c: Container, seconds: float) -> Mapping[str, Any] | None:
    """The container's exit status, or None when it is still running after ``seconds`` or once
    the kit is told to stop (asked every ``WAIT_POLL_S``: the batch may run in a worker thread,
    which no signal reaches)."""
    import requests.exceptions

    deadline = time.monotonic() + seconds
    while not STOP.signum:
        chunk = min(WAIT_POLL_S, deadline - time.monotonic())
        if chunk <= 0:
            return None
        t0 = time.monotonic()
        try:
            return c.wait(timeout=max(1, round(chunk)))
        except requests.exceptions.ReadTimeout:
            continue
        except requests.exceptions.ConnectionError:
            # a timed-out wait on a unix socket comes as ConnectionError(ReadTimeoutError);
            # one that comes early is the daemon going away, not our timeout
            if time.monotonic() - t0 < chunk - 0.5:
                raise
    return None


def _stream_stderr(client: docker.DockerClient, c: Container, progress: Callable[[str], None]) -> threading.Thread:
    """Hand the kit's progress lines over as they come; the stream ends when the container does."""

    with api_timeout(client, None):  # the kit may print nothing for a whole cell
        stream = c.logs(stdout=False, stderr=True, stream=True, follow=True)

    def pump() -> None:
        buffer = b""
        try:
            for chunk in stream:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    progress(line.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - the container went away under the stream: nothing more to say
            return
        if buffer:
            progress(buffer.decode("utf-8", "replace"))

    thread = threading.Thread(target=pump, name=f"kit-logs-{c.short_id}", daemon=True)
    thread.start()
    return thread


def _placeholders(client: docker.DockerClient, cells: Sequence[tuple[str, str]], status: str, reason: str,
                  scale: float, python: str, target: str) -> list[RunResult]:
    """Results for cells the container never reported, so a report still has every row."""
    try:
        info = client.info()
        cpus, machine = int(info.get("NCPU") or 0), str(info.get("Architecture") or "")
    except Exception:  # noqa: BLE001 - a placeholder must not fail
        cpus, machine = 0, ""
    here = PlatformInfo(os="Linux", python=python, implementation="CPython", default_method="",
                        methods=[], cpu_count=cpus, machine=machine, place=target)
    return [RunResult(example, Method(method), Status(status), reason, scale=scale, platform=here)
            for example, method in cells]
