"""One frozen record of what a run did: everything judging and diagnosing may look at.

The runner (with the observer and the run's output) produces it; ``kit.judge`` turns it into
a ``RunResult`` without looking at any process.  So judging is a pure function, tested on
hand-made observations (``tests/test_judge.py``), and the way a run was watched (sampled by
psutil, or kept by the kernel) is one field, ``backend``, not a different code path.
"""
from __future__ import annotations

from dataclasses import dataclass

from kit.events import Event
from kit.outcomes import Backend, Ev, MemorySource, Word
from kit.results import PlatformInfo, ProcRecord


class End(Word):
    """How the watching of a run ended."""

    EXITED = "exited"  # the main process exited by itself
    TIMEOUT = "timeout"  # --timeout passed: the run was killed
    CRASH_LOOP = "crash_loop"  # children kept dying the same death: stopped early
    INTERRUPTED = "interrupted"  # the kit was told to stop (Ctrl-C, SIGTERM, SIGHUP)
    PARENT_KILLED = "parent_killed"  # the script killed its parent (the kit's relay): stopped at once
    OOM_STALLED = "oom_stalled"  # the OOM killer ended a Pool worker and the main process went on: stopped early


@dataclass(frozen=True)
class Output:
    """One captured stream, bounded: the head and the tail, and how much was dropped between."""

    text: str = ""
    total_bytes: int = 0
    dropped_bytes: int = 0


@dataclass(frozen=True)
class Observation:
    subject: str  # what ran: an example's name or a script's path
    method: str  # the start method made the default for the run
    scale: float
    platform: PlatformInfo
    main_pid: int
    end: End
    exitcode: int | None  # None unless End.EXITED
    wall_s: float  # from the start of the main process to its exit (or the kill)
    cpu_s: float  # CPU seconds of the whole run
    peak_processes: int  # the kernel's count where ``peak_exact``, else the most seen alive in one sample
    timeout_s: float
    events: tuple[Event, ...] = ()
    processes: tuple[ProcRecord, ...] = ()
    orphans: frozenset[int] = frozenset()  # pids alive after the grace that followed main's exit
    killed: tuple[int, ...] = ()
    stdout: Output = Output()
    stderr: Output = Output()
    backend: Backend = Backend.PSUTIL
    unmeasured: tuple[str, ...] = ()  # what the backend could not measure, in words
    observer_cpu_s: float = 0.0  # the kit's own CPU while it watched
    stop_reason: str = ""  # why the run was stopped early (End.CRASH_LOOP)
    bad_event_lines: int = 0  # malformed lines in the events folder, ignored
    others_cores: float | None = None  # CPU the rest of the machine used meanwhile, in cores (None: unknown)
    cpu_stall_s: float | None = None  # seconds some process of the run waited for a CPU (None: unknown)
    settled_s: float | None = None  # when the first sample after the main process's exit was taken
    settled_members: frozenset[int] | None = None  # the run's pids at that sample, where the kernel keeps them
    unlinked: tuple[str, ...] = ()  # "semaphore /mp-x": left by the run, untracked, unlinked by the kit
    peak_exact: bool = False  # peak_processes is the kernel's count, not a lower bound from samples
    peak_tasks: int | None = None  # the kernel's peak of tasks (threads included): an upper bound
    t0_ns: int = 0  # when the main process started, on the events' clock (``first_seen_s`` counts from it)
    memory_peak_bytes: int | None = None  # the run's memory peak; what it covers: memory_source
    memory_source: MemorySource | None = None
    memory_limit_bytes: int | None = None  # the limit the run's group (or container) held it to
    oom_kills: int | None = None  # processes of the run the kernel's OOM killer ended (None: unknown)
    oom_victims: tuple[tuple[int, str], ...] = ()  # (pid, name) of each, as the kernel's log names them
    oom_at_s: float | None = None  # when the kit first saw the count rise, from the run's start

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    @property
    def launched(self) -> bool:
        """Did the launcher get as far as running the script?"""
        return any(e.kind == Ev.SCRIPT_START for e in self.events)
