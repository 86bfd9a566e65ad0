"""When the kit looks at a run: often while its processes start and end, seldom while none does.

Where the kernel keeps the run (a cgroup, a container's pid namespace), membership, every
process's CPU and the run's end are the kernel's whatever the kit does; a look names the new
processes, reads per-process CPU, the CPUs they run on and their threads.  Each look costs the
kit a wake-up and a few reads, and most runs spend most of their time with the same processes
(a Pool at work, a script sleeping): a look every ``FAST_S`` then learns nothing.  So after each
look that found the same processes the interval doubles, up to ``SLOW_S``, and it is ``FAST_S``
again at once when a look finds a process ended, or one started that did not announce itself.
A new Python process of the run announces itself and wakes the kit (no sooner than ``FAST_S``
after the last look): ``kit.probe`` creates its first file in the events folder as it starts,
and the kit hears a file created where the platform can tell (``_platform.exit_waiter``), so a
look that found only such new processes lets the interval grow (the next one wakes the kit
anyway); writes to files it knows do not wake it.  The end of the main process wakes the kit at
once where the platform can tell, at any interval.

A process started otherwise (a bare fork, ``subprocess``) while nothing changed is looked at
within ``SLOW_S``: its membership and CPU are the kernel's anyway, only its name and role are
missed if it lives less than that.

Where the kit samples the process table instead (no kernel-kept membership), a process that
lives less than an interval is missed entirely, its CPU with it: there the interval stays
``FAST_S``.
"""
from __future__ import annotations

FAST_S = 0.02
"""The interval after a look found a process ended or started unannounced (and always without
kernel-kept membership)."""
SLOW_S = 0.1
"""The longest interval, reached after a few looks that found the same processes."""
READ_S = 0.08
"""Processes are read (CPU, the CPU they run on, resident memory, a command line that changed) at
most this often; membership is read at every look."""
EVENTS_S = 0.16
"""The events folder is read at most this often while the run goes on, and only once a process of
the run ended (``runner._Watch._events_wanted``): what it says then only stops a crash loop (or a
Pool stalled by the OOM killer) early; every event is read at the end."""


class Cadence:
    """The interval to the next look, and whether a look reads processes and events.

    ``adaptive``: the kernel keeps membership (else every interval is ``FAST_S``).  Pure: the
    caller says what a look found and when it happened."""

    def __init__(self, adaptive: bool) -> None:
        self.adaptive = adaptive
        self.interval = FAST_S
        self._read_ns: int | None = None
        self._events_ns: int | None = None

    def after(self, changed: bool) -> float:
        """A look just happened; ``changed``: it found a process started or ended, or an event was
        written since the look before.  Returns the seconds to wait before the next look."""
        if changed or not self.adaptive:
            self.interval = FAST_S
        else:
            self.interval = min(SLOW_S, self.interval * 2)
        return self.interval

    def read_due(self, now_ns: int) -> bool:
        """This look reads processes (the first look does); then not again before ``READ_S``."""
        if self._read_ns is not None and now_ns - self._read_ns < READ_S * 1e9:
            return False
        self._read_ns = now_ns
        return True

    def events_due(self, now_ns: int) -> bool:
        """This look reads the events folder (the first look does); then not again before ``EVENTS_S``."""
        if self._events_ns is not None and now_ns - self._events_ns < EVENTS_S * 1e9:
            return False
        self._events_ns = now_ns
        return True
