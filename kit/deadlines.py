"""A run is stopped at its deadline, even by a kit its run starves.

The watch loop (``kit.runner``) checks the deadline between looks.  Beside a fork bomb (a
thousand processes spinning on two cores) the kit is one runnable task among a thousand: a look
that began before the deadline, or the wake-up after it, can wait tens of seconds for the CPU,
and the run goes on meanwhile.  So one thread of the kit process does nothing but sleep until
the next run's deadline and then stop that run's process group (``_platform.stop_group``:
SIGSTOP to every process of the run at once).  A thread that slept is scheduled soon after it
wakes and needs a few microseconds there; the run stopped, the watch loop is no longer starved
and ends the run as it would have (stacks, kill, read-back).

A run that ended on its own before its deadline is disarmed first; one whose end the watch loop
saw only after the stop (the main process exited just before the deadline) is continued
(``Deadlines.disarm`` says whether the stop happened).  One thread for all the runs of a kit
process: arming a run costs a lock, and wakes the thread only when its deadline is the earliest.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable


class Deadlines:
    """Runs' deadlines (``time.perf_counter_ns()``), each with what stops that run when it passes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[int, Callable[[], object]]] = {}  # key -> (deadline, stop)
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None

    def arm(self, key: int, deadline_ns: int, stop: Callable[[], object]) -> None:
        """Call ``stop()`` once ``deadline_ns`` has passed, unless ``disarm(key)`` came first."""
        with self._cond:
            earliest = min((d for d, _ in self._armed.values()), default=None)
            self._armed[key] = (deadline_ns, stop)
            self._fired.discard(key)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="kit-deadlines", daemon=True)
                self._thread.start()
            elif earliest is None or deadline_ns < earliest:
                self._cond.notify()

    def disarm(self, key: int) -> bool:
        """No stop for ``key`` from now on; whether its stop was already called."""
        with self._cond:
            self._armed.pop(key, None)
            fired = key in self._fired
            self._fired.discard(key)
            return fired

    def _serve(self) -> None:
        with self._cond:
            while True:
                now = time.perf_counter_ns()
                due = [(k, stop) for k, (d, stop) in self._armed.items() if d <= now]
                for key, stop in due:  # under the lock (a signal, microseconds): a disarm that says
                    del self._armed[key]  # "not stopped" is never followed by the stop
                    self._fired.add(key)
                    with contextlib.suppress(Exception):  # the watch loop still ends the run at its deadline
                        stop()
                if not due:
                    earliest = min((d for d, _ in self._armed.values()), default=None)
                    self._cond.wait(None if earliest is None else (earliest - now) / 1e9)


DEADLINES = Deadlines()
"""The kit process's one deadline thread."""
