"""One container, driven from start to removal: the only loop that waits for a container.

The matrix (``kit.container.run``) and ``kit bench`` both start a command in a container,
stream its stderr lines, wait for it while the kit may be told to stop, kill it when it took
too long, read its logs and say how it ended.  ``Driver`` does that once, in cibuildwheel's
habit: a context manager whose exit removes the container (``kit.container.engine.container``
creates and removes it), unless it was kept on purpose for ``docker exec``.

How a wait ended is a closed type, ``Ending``: ``Exited`` (with its status), ``TimedOut`` or
``Stopped``.  A wait never raises for a stop: the caller decides what a stop means (placeholder
results for the matrix, an interruption for bench).

The wait asks the daemon in slices of ``WAIT_POLL_S``: the driver may run in a worker thread,
which no signal reaches, so ``kit.stop.STOP`` is read between slices.
"""
from __future__ import annotations

import contextlib
import shlex
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

from kit.container.engine import api_timeout, container
from kit.stop import STOP

if TYPE_CHECKING:
    from docker.models.containers import Container

    import docker

WAIT_POLL_S = 1.0
"""How often a wait asks whether the kit was told to stop."""
MARK_POLL_S = 0.2
"""How often a wait for the done mark looks at the stream and the container's state."""
JOIN_S = 5.0
"""How long the stderr stream may take to drain once the container has ended or been killed."""

DONE_MARK = "__kit_done__"
"""With ``keep_on_failure`` the command is followed by this line on stderr (and its exit
status); a failed container then sleeps, so that ``docker exec`` can open a shell in it."""

OnLine = Callable[[str], None]


@dataclass(frozen=True)
class Exited:
    """The main process ended with ``code``; ``error`` is the daemon's message, if it gave one."""

    code: int
    error: str = ""

    def words(self) -> str:
        """As a sentence's end: "exited with status 1", "was killed by SIGKILL (exit status 137)"."""
        words = f"exited with status {self.code}"
        if self.code > 128:
            with contextlib.suppress(ValueError):
                words = f"was killed by {signal.Signals(self.code - 128).name} (exit status {self.code})"
        return f"{words}; {self.error}" if self.error else words


@dataclass(frozen=True)
class TimedOut:
    """Still running after ``seconds``: the caller kills it."""

    seconds: float

    def words(self) -> str:
        return f"did not finish within {self.seconds:g} s"


@dataclass(frozen=True)
class Stopped:
    """The kit was told to stop (``signum``) while it waited: the caller kills it."""

    signum: int

    def words(self) -> str:
        return f"was stopped ({signal.Signals(self.signum).name})"


Ending = Union[Exited, TimedOut, Stopped]
"""How a wait for a container ended."""


def exited(status: Any) -> Exited:
    """The daemon's answer to a wait (``{"StatusCode": 1, "Error": {"Message": ...}}``) as ``Exited``."""
    code = status.get("StatusCode") if isinstance(status, dict) else None
    error = status.get("Error") if isinstance(status, dict) else None
    message = error.get("Message") if isinstance(error, dict) else None
    return Exited(code if isinstance(code, int) else -1, str(message or ""))


def keepable(command: list[str]) -> list[str]:
    """``command``, then the done mark; on failure the container stays up (``sleep infinity``)."""
    return ["sh", "-c", f'{shlex.join(command)}; code=$?; echo "{DONE_MARK} $code" >&2; '
                        'if [ "$code" != 0 ]; then exec sleep infinity; fi; exit $code']


@dataclass(frozen=True)
class Logs:
    """What the container wrote, decoded (UTF-8, bad bytes replaced)."""

    stdout: str
    stderr: str


class Driver:
    """A command in a container of ``image``, from start to removal.

    ``with Driver(client, image, command, **create) as d:`` creates and starts it (``create``:
    ``kit.container.engine.container``'s arguments: ``labels``, ``environment``, ``files``...);
    ``stream(on_line)`` hands its stderr lines over as they come; ``wait(seconds)`` answers an
    ``Ending``; ``kill()`` ends it; ``logs()`` reads both streams; ``keep()`` leaves it running
    past the ``with`` block.  ``keep_on_failure``: the command is followed by the done mark, and a
    wait ends on the mark's status (the container lives on after a failure; the caller may keep it).
    """

    def __init__(self, client: docker.DockerClient, image: str, command: list[str], *,
                 keep_on_failure: bool = False, **create: Any) -> None:
        self.client = client
        self.image = image
        self.command = keepable(command) if keep_on_failure else command
        self.keep_on_failure = keep_on_failure
        self.create = create
        self.kept = False
        self._stack = contextlib.ExitStack()
        self._container: Container | None = None
        self._pump: threading.Thread | None = None
        self._on_line: OnLine | None = None
        self._mark = threading.Event()
        self._mark_code = 0

    # -- the container's life ------------------------------------------------------------------
    def __enter__(self) -> Driver:
        self._container = self._stack.enter_context(container(self.client, self.image, self.command, **self.create))
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._pump is not None and not self.kept:  # a kept container's stream never ends
                self._pump.join(timeout=JOIN_S)
        finally:
            self._stack.close()  # removes it, unless kept

    @property
    def container(self) -> Container:
        if self._container is None:
            raise RuntimeError("the container is not started: use the Driver in a with block")
        return self._container

    @property
    def short_id(self) -> str:
        return str(self.container.short_id)

    def keep(self) -> None:
        """Leave the container running past the ``with`` block (for ``docker exec``)."""
        self.kept = True
        self.container.kit_keep = True  # type: ignore[attr-defined]  # read by engine.container's clean-up

    def kill(self) -> None:
        """Kill it (it may have ended just now: no error), and let its stream drain."""
        with contextlib.suppress(Exception):  # removal follows anyway
            self.container.kill()
        if self._pump is not None:
            self._pump.join(timeout=JOIN_S)

    def logs(self) -> Logs:
        c = self.container
        return Logs(c.logs(stdout=True, stderr=False).decode("utf-8", "replace"),
                    c.logs(stdout=False, stderr=True).decode("utf-8", "replace"))

    # -- its stderr, as it comes ---------------------------------------------------------------
    def stream(self, on_line: OnLine | None = None) -> None:
        """Hand every stderr line to ``on_line`` (in a thread) until the container ends; the done
        mark is the driver's, never handed over.  Once per container."""
        if self._pump is not None:
            raise RuntimeError("the container's stderr is streamed already")
        self._on_line = on_line
        with api_timeout(self.client, None):  # the command may print nothing for a long while
            chunks = self.container.logs(stdout=False, stderr=True, stream=True, follow=True)
        self._pump = threading.Thread(target=self._read, args=(chunks,), name=f"kit-logs-{self.short_id}",
                                      daemon=True)
        self._pump.start()

    def _read(self, chunks: Iterator[bytes]) -> None:
        buffer = b""
        try:
            for chunk in chunks:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._line(line.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - the container went away under the stream: nothing more to say
            return
        if buffer:
            self._line(buffer.decode("utf-8", "replace"))

    def _line(self, line: str) -> None:
        if self.keep_on_failure and line.startswith(DONE_MARK):
            last = line.split()[-1]
            self._mark_code = int(last) if last.lstrip("-").isdigit() else 1
            self._mark.set()
        elif self._on_line is not None:
            self._on_line(line)

    # -- waiting ---------------------------------------------------------------------------------
    def wait(self, seconds: float) -> Ending:
        """How it ended within ``seconds``; ``TimedOut`` or ``Stopped`` leave it running (``kill()``).
        With ``keep_on_failure``, the done mark's status (the container may live on)."""
        if self.keep_on_failure:
            return self._wait_for_mark(seconds)
        return self._wait(seconds)

    def _wait(self, seconds: float) -> Ending:
        import requests.exceptions

        deadline = time.monotonic() + seconds
        while not STOP.signum:
            chunk = min(WAIT_POLL_S, deadline - time.monotonic())
            if chunk <= 0:
                return TimedOut(seconds)
            t0 = time.monotonic()
            try:
                return exited(self.container.wait(timeout=max(1, round(chunk))))
            except requests.exceptions.ReadTimeout:
                continue
            except requests.exceptions.ConnectionError:
                # a timed-out wait on a unix socket comes as ConnectionError(ReadTimeoutError);
                # one that comes early is the daemon going away, not our timeout
                if time.monotonic() - t0 < chunk - 0.5:
                    raise
        return Stopped(STOP.signum)

    def _wait_for_mark(self, seconds: float) -> Ending:
        if self._pump is None:
            self.stream()
        c = self.container
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not STOP.signum:
            if self._mark.wait(MARK_POLL_S):
                return Exited(self._mark_code)
            c.reload()
            if c.status in ("exited", "dead"):
                ending = self._wait(JOIN_S)
                return TimedOut(seconds) if isinstance(ending, TimedOut) else ending
        return Stopped(STOP.signum) if STOP.signum else TimedOut(seconds)
