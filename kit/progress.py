"""Progress that informs without flooding: one live line on a terminal, one short line per cell elsewhere.

A matrix with containers ends hundreds of cells; a line for each buries the table on a terminal.
On a terminal (stderr is one) a single line is redrawn in place (``\\r`` and erase to the end):
cells done of all, what runs, failures so far, time spent and an estimate of what is left;
``-v`` adds a line per cell above it.  Elsewhere (CI, a pipe) each cell gets one short line, as
a log wants.  ``-q``: nothing but what a user must know (``say``).  A message (a warning, a
container kept) clears the live line first and the line is drawn again under it; ``close``
clears it for good, before the table is printed and when the kit is interrupted.

Written by hand, not with rich or tqdm: one line and a ticker thread are a few dozen lines, and
the kit keeps its dependencies to psutil (and docker for containers).

The kit inside a container writes its own per-cell lines (it is not on a terminal); they reach
``say`` prefixed with the container's place (``kit.container.run``) and count here as that
place's cells, so that the live line moves while a container works.
"""
from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from kit.outcomes import METHODS, STATUSES, Status
from kit.render import cell, clip, is_terminal, paint, terminal_width
from kit.results import RunResult

LIVE, LINES, QUIET = "live", "lines", "quiet"
TICK_S = 1.0  # the live line's clock is redrawn this often
HEARTBEAT_S = 12.0  # a long silent step (mmdebstrap) says it is still working this often
ERASE = "\r\x1b[K"
_STREAMED = re.compile(r"^  (docker:\S+) (.*)$")  # a container's line, as kit.container.run prefixes it
_CELL = re.compile(r"^\[\s*\d+/\d+\]\s+(.*)$")


def mode_for(stream: TextIO, verbosity: int) -> str:
    """``QUIET`` for ``-q``; ``LIVE`` on a terminal (not ``TERM=dumb``); else ``LINES``."""
    if verbosity < 0:
        return QUIET
    return LIVE if is_terminal(stream, controls=True) else LINES


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def parse_cell_line(line: str) -> tuple[str | None, str, str, Status, str] | None:
    """(place or None, subject, method, status, the cell's text from its status on) of a per-cell
    line (``Progress.cell_line``, or the kit's earlier ``[ i/n] subject method cell  (running: ...)``),
    else None."""
    m = _CELL.match(line)
    if m is None:
        return None
    words = m.group(1).split("  (running:")[0].split()
    place = words.pop(0) if words and ":" in words[0] else None
    if len(words) < 3 or words[1] not in METHODS or words[2].rstrip(":") not in STATUSES:
        return None
    return place, words[0], words[1], Status(words[2].rstrip(":")), " ".join(words[2:])


class Progress:
    """What a long command shows while it runs (see the module's docstring).  Thread-safe: cells
    end in worker threads and containers' lines arrive from their streams."""

    def __init__(self, stream: TextIO, mode: str, width: int | None = None, total: int = 0, verbose: bool = False,
                 colour: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.mode, self.verbose, self.colour, self.clock = stream, mode, verbose, colour, clock
        self.width = terminal_width(width, stream)
        self.total = total
        self.started = clock()
        self.done: dict[tuple[str, str, str], Status] = {}
        self.running: list[str] = []
        self.lock = threading.RLock()
        self.shown = False  # the live line is on the screen
        self.stopped = threading.Event()
        self.ticker: threading.Thread | None = None
        if mode == LIVE:
            self.ticker = threading.Thread(target=self._tick, name="kit-progress", daemon=True)
            self.ticker.start()

    @classmethod
    def for_stream(cls, stream: TextIO, verbosity: int, width: int | None = None, colour: bool = False) -> Progress:
        return cls(stream, mode_for(stream, verbosity), width, verbose=verbosity > 0, colour=colour)

    # -- what callers report --------------------------------------------------------
    def cell(self, r: RunResult, total: int = 0, running: Sequence[str] = (), text: str = "") -> None:
        """A cell ended (``total``: cells in all, when known; ``running``: what still runs;
        ``text``: its line, default status and figures).  A cell already counted (a container's,
        from its streamed line) is not shown twice."""
        with self.lock:
            if total:
                self.total = max(self.total, total)
            self.running = list(running)
            self._count(r.place, r.subject, str(r.method), r.status, text or cell(r))

    def say(self, line: str) -> None:
        """A message, or a line streamed from a container's kit (a cell line counts as that cell)."""
        with self.lock:
            streamed = _STREAMED.match(line)
            if streamed:
                place, rest = streamed.groups()
                parsed = parse_cell_line(rest)
                if parsed is not None:
                    _, subject, method, status, text = parsed
                    self._count(place, subject, method, status, text)
                    return
                if not self.verbose:  # the container kit's own table and notes: the host prints the table
                    return
            self._write_line(line)

    def close(self) -> None:
        """The live line gone for good (before the table; on an interrupt)."""
        self.stopped.set()
        with self.lock:
            self._clear()
        if self.ticker is not None and self.ticker is not threading.current_thread():
            self.ticker.join(timeout=2 * TICK_S)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- drawing ------------------------------------------------------------------------
    def _count(self, place: str, subject: str, method: str, status: Status, text: str) -> None:
        key = (place, subject, method)
        if key in self.done:
            self.done[key] = status
            self._redraw()
            return
        self.done[key] = status
        if self.mode == LINES or (self.mode == LIVE and self.verbose):
            self._write_line(self.cell_line(place, subject, method, status, text))
        else:
            self._redraw()

    def cell_line(self, place: str, subject: str, method: str, status: Status, text: str) -> str:
        """``[ 12/345] docker:3.14 hello fork pass 0.3s 2p 0.7c`` (no place for the host), cut to the width."""
        n = len(self.done)
        total = str(self.total) if self.total >= n else "?"  # not known yet (--targets auto): never a guess
        where = "" if place == "host" else f"{place} "
        head = f"[{n:>{len(total)}}/{total}] {where}{subject} {method} "
        line = clip(head + text, self.width)
        if self.colour:
            line = line.replace(f" {status}", " " + paint(str(status), status, True), 1)
        return line

    def live_line(self) -> str:
        """Cells done of all, failures so far, elapsed and an estimate, what runs; within the width."""
        n = len(self.done)
        total = self.total if self.total >= n else 0
        failed = sum(not s.ok for s in self.done.values())
        elapsed = self.clock() - self.started
        parts = [f"[{n}/{total or '?'}]", duration(elapsed)]
        if 0 < n < total:
            parts.append(f"~{duration(elapsed / n * (total - n))} left")
        if failed:
            parts.append(f"{failed} failed")
        text = ", ".join(parts[1:])
        line = f"{parts[0]} {text}" + (f"; running: {', '.join(self.running)}" if self.running else "")
        room = self.width - 3  # the last column would make some terminals wrap; a ^C echoed after it must not
        return clip(line, room)

    def _redraw(self) -> None:
        if self.mode != LIVE or self.stopped.is_set():
            return
        self._put(ERASE + self.live_line())
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            self._put(ERASE)
            self.shown = False

    def _write_line(self, line: str) -> None:
        self._clear()
        self._put(line + "\n")
        if self.mode == LIVE and (self.done or self.running):
            self._redraw()

    def _put(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # stderr closed or full: progress is not worth a failure
            self.stream.write(text)
            self.stream.flush()

    def _tick(self) -> None:
        while not self.stopped.wait(TICK_S):
            with self.lock:
                if self.done or self.running:
                    self._redraw()


@contextlib.contextmanager
def heartbeat(say: Callable[[str], None], what: str, every: float = HEARTBEAT_S,
              clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """While the block runs, ``say`` that ``what`` is still working every ``every`` seconds (a
    step that prints nothing for minutes, as mmdebstrap does, must not look hung)."""
    stop = threading.Event()
    started = clock()

    def beat() -> None:
        while not stop.wait(every):
            say(f"{what}: still working ({duration(clock() - started)})")

    thread = threading.Thread(target=beat, name="kit-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1.0)
