"""The kit's stop: a signal asked it to stop while runs are in progress, and how a stop travels.

A signal handler that raised at any bytecode could land between starting a run's main process
and registering it for clean-up; instead ``kit.cli``'s handler asks (``STOP.request``), and each
run's watch loop answers within one interval: the run ends as ``interrupted`` and is killed as
any other.  ``Interrupted`` carries such a run's result up; ``Stopped`` is raised where no run of
the thread was cut short (between runs, or once overlapping runs have all ended).
"""
from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.results import RunResult


class Stop:
    """A stop asked for while a run is in progress (SIGTERM, SIGHUP, Ctrl-C through ``kit.cli``).

    A signal handler that raised at any bytecode could land between starting the run's main
    process and registering it for clean-up; instead the handler asks, and the watch loop
    answers within one interval: the run ends as ``interrupted`` and is killed as any other.
    """

    def __init__(self) -> None:
        self.signum = 0
        self.running = 0  # runs in progress in this process (several at once when cells overlap)
        self._lock = threading.Lock()

    def request(self, signum: int) -> None:
        self.signum = self.signum or signum

    def began(self) -> None:
        with self._lock:
            self.running += 1

    def ended(self) -> None:
        with self._lock:
            self.running -= 1

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


STOP = Stop()


class Stopped(KeyboardInterrupt):
    """SIGTERM, SIGHUP or Ctrl-C, raised where the kit is when no run of this thread is cut short
    (between runs, or once overlapping runs have all ended and been reported)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interrupted(KeyboardInterrupt):
    """The kit was told to stop during a run (``signum``: SIGINT, SIGTERM, SIGHUP); ``result`` is
    that run, marked interrupted, after everything it started was killed."""

    def __init__(self, result: RunResult, signum: int) -> None:
        super().__init__(result.reason)
        self.result = result
        self.signum = signum
