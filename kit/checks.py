"""Checks: read a run's events and psutil evidence, decide pass or fail with a reason.

Each factory returns a ``Check``: a named function from ``Evidence`` to a
``Verdict`` whose reason is one line a person understands.  Examples declare
which checks they must pass (see ``catalogue``); the runner applies them.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable
from collections.abc import Iterable, Sequence

from kit.events import Event
from kit.outcomes import Ev, Role
from kit.results import ProcRecord, ProcRef, Verdict


@dataclass
class Evidence:
    """Everything known about one finished run, for the checks to read."""

    method: str
    events: list[Event]
    stdout: str
    stderr: str
    exitcode: int | None
    main_pid: int
    cores_used: float
    cpu_count: int
    cpus_seen: list[int]
    cpu_num_known: bool
    processes: list[ProcRecord] = field(default_factory=list)
    orphans: list[ProcRef] = field(default_factory=list)
    daemons_terminated: list[ProcRef] = field(default_factory=list)
    daemons_unseen: list[int] = field(default_factory=list)  # alive at the end, never seen: cannot tell
    cpu_s: float | None = None  # the whole run's CPU seconds (exact where the kernel kept them)
    memory_peak_bytes: int | None = None  # the run's memory peak (None: unknown); what it covers: memory_source
    memory_source: str = ""

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


@dataclass
class Check:
    """A named test of the evidence.

    ``replaces``: the generic check (``kit.outcomes.GENERIC_CHECKS``) this one stands in for, so
    that an example whose documented behaviour is an orphan or a killed main process can say so
    (``exits_with(-9)`` replaces ``exit 0``; ``orphans_left()`` replaces ``no orphans``).
    ``undecided``: its verdict decides nothing; the run is inconclusive, with its reason.
    ``fn`` returns (True/False, reason), or (None, reason) when this run did not show what the
    check is about (cars that all came while the light was green): neither a pass nor a failure.
    """

    name: str
    fn: Callable[[Evidence], tuple[bool | None, str]]
    replaces: str = ""
    undecided: bool = False
    measures_cpu: bool = False  # its verdict needs the machine to itself: failed on a busy one, inconclusive

    def __call__(self, ev: Evidence) -> Verdict:
        ok, reason = self.fn(ev)
        if ok is None:
            return Verdict(self.name, False, reason, self.undecided, unshown=True)
        return Verdict(self.name, ok, reason, self.undecided)


def generic_checks(own: Sequence[Check]) -> list[Check]:
    """The checks every run gets (no orphans, exit 0), less those a target's own checks replace."""
    replaced = {check.replaces for check in own}
    return [check for check in (no_orphans(), exits_with(0)) if check.name not in replaced]


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.0f} ms"


# -- generic ------------------------------------------------------------------
def exits_with(code: int) -> Check:
    """The main process's exit code; declared by an example with another code than 0, it replaces
    the generic ``exit 0`` (a main process that kills itself exits -9 by design)."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        if ev.exitcode == code:
            return True, f"main process exited {code}"
        return False, f"main process exited {ev.exitcode}, expected {code}"

    return Check(f"exit {code}", fn, replaces="exit 0" if code != 0 else "")


def no_orphans() -> Check:
    def fn(ev: Evidence) -> tuple[bool, str]:
        if not ev.orphans:
            return True, "no process outlived the run"
        names = ", ".join(f"{o.pid} {' '.join(o.cmdline)[:60] or o.name}" for o in ev.orphans)
        return False, f"{len(ev.orphans)} process(es) outlived the run: {names}"

    return Check("no orphans", fn)


def children_exit_cleanly() -> Check:
    """No child process died with an error (a traceback, a non-zero ``sys.exit``, a failed bootstrap).

    A script's parent often carries on when a child dies (the missing ``__main__`` guard under
    spawn exits 0): this is what makes such a run fail, whatever the parent's exit code.
    """

    def fn(ev: Evidence) -> tuple[bool, str]:
        dead = [e for e in ev.events if e.kind in (Ev.CHILD_ERROR, Ev.CHILD_DIED)]
        if not dead:
            return True, "no child process died with an error"
        first = dead[0]
        who = first.data.get("name") or "a child"
        return False, f"{len(dead)} child process(es) died with an error, first {who} (pid {first.pid}): " \
                      f"{_cut(str(first.data.get('error', '?')))}"

    return Check("children exit cleanly", fn)


def output_has(text: str, stream: str = "stdout") -> Check:
    def fn(ev: Evidence) -> tuple[bool, str]:
        if text in getattr(ev, stream):
            return True, f"{stream} has {text!r}"
        return False, f"{stream} lacks {text!r}"

    return Check(f"{stream} has {text!r}", fn)


def event_count(kind: str, at_least: int | str) -> Check:
    """At least ``at_least`` events of ``kind``; a name instead of a number: as many as the
    ``count`` that the first event of that name carries (the script says how many it made)."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        if isinstance(at_least, str):
            said = ev.of(at_least)
            want = said[0].data.get("count") if said else None
            if not isinstance(want, int) or want < 1:
                return False, f"no '{at_least}' event with a count: how many '{kind}' to expect is unknown"
        else:
            want = at_least
        n = len(ev.of(kind))
        if n >= want:
            return True, f"{n} '{kind}' event(s)"
        return False, f"only {n} '{kind}' event(s), expected {want}"

    return Check(f"{kind} = {at_least} count" if isinstance(at_least, str) else f"{at_least}x {kind}", fn)


def event_value(kind: str, key: str, expected: Any) -> Check:
    def fn(ev: Evidence) -> tuple[bool, str]:
        found = [e.data.get(key) for e in ev.of(kind)]
        if not found:
            return False, f"no '{kind}' event"
        wrong = [v for v in found if v != expected]
        if not wrong:
            return True, f"{kind}: {key}={expected!r}"
        return False, f"{kind}: {key}={wrong[0]!r}, expected {expected!r}"

    return Check(f"{kind} {key}={expected!r}", fn)


def event_matches(kind: str, key: str, pattern: str) -> Check:
    """Every ``kind`` event's ``key`` matches the regular expression ``pattern`` (an error message
    whose wording varies by Python version: match its type and the words that stay)."""
    compiled = re.compile(pattern)

    def fn(ev: Evidence) -> tuple[bool, str]:
        found = [str(e.data.get(key, "")) for e in ev.of(kind)]
        if not found:
            return False, f"no '{kind}' event"
        wrong = [v for v in found if not compiled.search(v)]
        if wrong:
            return False, f"{kind}: {key}={_cut(wrong[0])!r} does not match {pattern!r}"
        return True, f"{kind}: {_cut(found[0])}"

    return Check(f"{kind} {key}~{pattern!r}", fn)


def thread_at_fork(name: str) -> Check:
    """A fork happened while a thread named ``name`` ran, as the probe saw it (on every Python, the
    3.12+ warning filtered or not), and where that thread was started is known."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        forks = ev.of(Ev.FORK_WITH_THREADS)
        threads = [t for e in forks for t in e.data.get("threads") or [] if isinstance(t, dict)]
        named = [t for t in threads if t.get("name") == name]
        if not named:
            seen = ", ".join(sorted({str(t.get("name")) for t in threads})) or "none"
            return False, f"no fork while thread {name!r} ran ({len(forks)} fork(s) with threads; threads seen: {seen})"
        if not named[0].get("started_at"):
            return False, f"a fork while thread {name!r} ran, but where it was started is unknown"
        return True, f"fork while thread {name!r} ran, started at {named[0]['started_at']}"

    return Check(f"fork with thread {name!r}", fn)


def no_fork_with_threads() -> Check:
    """No process of the run forked while another of its threads ran."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        forks = ev.of(Ev.FORK_WITH_THREADS)
        if forks:
            names = ", ".join(str(t.get("name")) for t in forks[0].data.get("threads") or [] if isinstance(t, dict))
            return False, f"{len(forks)} fork(s) while other threads ran ({names or 'native threads'})"
        return True, "no fork while other threads ran"

    return Check("no fork with threads", fn)


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def _size_of(ev: Evidence, of: str) -> int | None:
    said = ev.of(of)
    size = said[0].data.get("size") if said else None
    return size if isinstance(size, int) and size > 0 else None


def _within(share: float, at_least: float | None, at_most: float | None) -> bool:
    return (at_least is None or share >= at_least) and (at_most is None or share <= at_most)


def _bounds(at_least: float | None, at_most: float | None) -> str:
    return " and ".join(([f"at least {at_least:g}"] if at_least is not None else [])
                        + ([f"at most {at_most:g}"] if at_most is not None else []))


def share_of(kind: str, key: str, of: str, at_least: float | None = None, at_most: float | None = None) -> Check:
    """Every ``kind`` event's ``key`` (bytes: a process's private memory, what it copied) is within
    these shares of the ``size`` the first ``of`` event gives (the data).  Not shown (inconclusive)
    where the process could not read its own memory (None: not Linux)."""

    def fn(ev: Evidence) -> tuple[bool | None, str]:
        size, said = _size_of(ev, of), [e.data.get(key) for e in ev.of(kind)]
        if size is None or not said:
            return False, f"no '{kind}' event or no '{of}' size"
        found = [v for v in said if isinstance(v, int)]
        if len(found) < len(said):
            return None, f"{kind}: {key} unknown (this system does not say a process's private memory)"
        worst = max(found) if at_most is not None else min(found)
        share = worst / size
        text = f"{kind}: {key} {_mib(worst)} = {share:.2f} of the {_mib(size)} {of}"
        if _within(share, at_least, at_most):
            return True, text
        return False, f"{text}, expected {_bounds(at_least, at_most)}"

    return Check(f"{kind} {key} share", fn)


def run_memory(of: str, at_least: float | None = None, at_most: float | None = None) -> Check:
    """The run's memory peak (the kernel's, a container's bound, or sampled) in copies of the ``size``
    the first ``of`` event gives: one copy shared, or one per process.  Not shown where the run's
    memory is unknown."""

    def fn(ev: Evidence) -> tuple[bool | None, str]:
        size = _size_of(ev, of)
        if size is None:
            return False, f"no '{of}' size"
        if ev.memory_peak_bytes is None:
            return None, "the run's memory peak is unknown here"
        copies = ev.memory_peak_bytes / size
        said = (f"memory peak {_mib(ev.memory_peak_bytes)} ({ev.memory_source or '?'}) = {copies:.1f} copies "
                f"of the {_mib(size)} {of}")
        if _within(copies, at_least, at_most):
            return True, said
        return False, f"{said}, expected {_bounds(at_least, at_most)}"

    return Check("run memory in copies", fn)


def output_count(text: str, times: int, stream: str = "stdout") -> Check:
    """``text`` occurs exactly ``times`` times in the stream (0: it must not appear)."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        n = getattr(ev, stream).count(text)
        said = f"{stream} has {text!r} {n} time(s)" if n else f"{stream} has no {text!r}"
        if n == times:
            return True, said
        return False, f"{said}, expected {times}"

    return Check(f"{stream} has {text!r} {times}x", fn)


# -- ordering and processes ---------------------------------------------------
def happens_before(first: str, second: str) -> Check:
    def fn(ev: Evidence) -> tuple[bool, str]:
        a, b = ev.of(first), ev.of(second)
        if not a or not b:
            return False, f"missing event: {first if not a else second}"
        gap = b[0].t_ns - a[-1].t_ns
        if gap > 0:
            return True, f"'{second}' came {_ms(gap)} after '{first}'"
        return False, f"'{second}' came {_ms(-gap)} before '{first}'"

    return Check(f"{first} before {second}", fn)


def lines_in_order(first: str, second: str) -> Check:
    def fn(ev: Evidence) -> tuple[bool, str]:
        i, j = ev.stdout.find(first), ev.stdout.find(second)
        if i < 0 or j < 0:
            return False, f"stdout lacks {first if i < 0 else second!r}"
        if i < j:
            return True, f"{first!r} printed before {second!r}"
        return False, f"{second!r} printed before {first!r}"

    return Check(f"{first!r} before {second!r}", fn)


def in_other_processes(put: str, got: str, off_main: bool) -> Check:
    """``put`` and ``got`` happened in different processes (neither the main one if asked)."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        a, b = ev.of(put), ev.of(got)
        if not a or not b:
            return False, f"missing event: {put if not a else got}"
        pa, pb = a[0].pid, b[0].pid
        if pa == pb:
            return False, f"'{put}' and '{got}' both in pid {pa}"
        if off_main and ev.main_pid in (pa, pb):
            return False, f"the main process {ev.main_pid} took part; expected two siblings"
        return True, f"'{put}' in pid {pa}, '{got}' in pid {pb}"

    return Check(f"{put}/{got} across processes", fn)


def same_value(put: str, got: str) -> Check:
    def fn(ev: Evidence) -> tuple[bool, str]:
        a, b = ev.of(put), ev.of(got)
        if not b:
            return False, f"no '{got}' event: nothing arrived"
        sent = a[0].data.get("value") if a else None
        value = b[0].data.get("value")
        if not a or sent == value:
            return True, f"received {value!r}"
        return False, f"sent {sent!r} but received {value!r}"

    return Check(f"{got} value", fn)


# -- concurrency ----------------------------------------------------------------
def _intervals(ev: Evidence, enter: str, leave: str) -> list[tuple[int, int, int]]:
    starts = {e.pid: e.t_ns for e in ev.of(enter)}
    return sorted((starts[e.pid], e.t_ns, e.pid) for e in ev.of(leave) if e.pid in starts)


def max_inside(enter: str, leave: str, limit: int, processes: int) -> Check:
    """At most ``limit`` processes between ``enter`` and ``leave`` at once, and ``limit`` reached.

    Never reaching it is not shown to be the semaphore's fault: processes that start slowly (spawn
    on a busy machine) may each leave before the next arrives.  That run is inconclusive (a
    semaphore that admits too few never reaches its limit either: never a pass)."""

    def fn(ev: Evidence) -> tuple[bool | None, str]:
        spans = _intervals(ev, enter, leave)
        if len(spans) < processes:
            return False, f"{len(spans)} of {processes} processes went through"
        points = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])
        inside = peak = 0
        for _, step in points:  # a leave at the same instant sorts before an enter
            inside += step
            peak = max(peak, inside)
        if peak > limit:
            return False, f"{peak} processes inside at once, limit {limit}"
        if peak < limit:
            return None, f"at most {peak} inside at once: the limit {limit} was never reached"
        return True, f"{processes} processes, at most {peak} inside at once"

    return Check(f"at most {limit} inside", fn)


def passes_only_on_green() -> Check:
    """Each car's wait..pass span meets a green period; some car really waited (if none did, the
    run did not show the wait: inconclusive, not failed -- one hog matrix in ten saw it so)."""

    def fn(ev: Evidence) -> tuple[bool | None, str]:
        greens: list[tuple[int, int]] = []
        start: int | None = None
        for e in ev.of("light"):
            if e.data.get("state") == "green" and start is None:
                start = e.t_ns
            elif e.data.get("state") == "red" and start is not None:
                greens.append((start, e.t_ns))
                start = None
        if start is not None:
            greens.append((start, 2**63))
        waits = {e.data["i"]: e.t_ns for e in ev.of("car_waits")}
        waited_red = 0
        for e in ev.of("car_passes"):
            w = waits.get(e.data["i"], e.t_ns)
            if not any(g0 <= e.t_ns and w <= g1 for g0, g1 in greens):
                return False, f"car {e.data['i']} passed while the light was red"
            if not any(g0 <= w <= g1 for g0, g1 in greens):
                waited_red += 1
        if not waited_red:  # every car came while the light was green (a late start, a busy machine): the
            # wait was not shown, which is not a car passing on red -- this run cannot decide
            return None, "no car arrived at a red light: the wait was never shown"
        return True, f"{waited_red} cars waited at red, none passed on red"

    return Check("cars pass only on green", fn)


# -- psutil evidence --------------------------------------------------------------
def daemon_terminated() -> Check:
    def fn(ev: Evidence) -> tuple[bool | None, str]:
        daemons = [e.data["child"] for e in ev.of("process_started") if e.data.get("daemon")]
        if not daemons:
            return False, "no daemon process was started"
        ended = {d.pid for d in ev.daemons_terminated}
        missing = [pid for pid in daemons if pid not in ended]
        if missing and set(missing) <= set(ev.daemons_unseen):
            return None, (f"daemon {missing[0]} lived too briefly for the kit to see it, and nothing else "
                          "kept the run's processes: whether main terminated it cannot be told")
        if missing:
            return False, f"daemon {missing[0]} was not terminated when the main process exited"
        return True, f"daemon {daemons[0]} alive at the end of main, terminated at exit"

    return Check("daemon terminated at exit", fn)


def unwrapped(pid: int, pids: Iterable[int]) -> int:
    """``pid`` for ordering among ``pids`` by age: when they span the wrap of the pid counter (the
    newest numbered from the bottom again), the small ones come after the large ones."""
    top = max(pids, default=pid)
    return pid + top + 1 if top - min(pids, default=pid) > top // 2 and pid <= top // 2 else pid


def orphans_left(*helpers: Role) -> Check:
    """The main process died without cleaning up (killed): every child it started outlived it, and
    so did a helper of each role in ``helpers`` (``forkserver``, ``resource_tracker``).  Orphans are
    the documented evidence here, so this replaces the generic ``no orphans``; the kit still kills
    them."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        started = {int(e.data["child"]): bool(e.data.get("daemon")) for e in ev.of(Ev.PROCESS_STARTED)
                   if "child" in e.data and e.pid == ev.main_pid}
        if not started:
            return False, "the main process started no child"
        left = {o.pid: o for o in ev.orphans}
        for pid, daemon in started.items():
            if pid not in left:
                return False, f"{'daemon' if daemon else 'child'} {pid} did not outlive the main process"
        roles = Counter(o.role for o in ev.orphans)
        missing = [role for role in helpers if not roles[role]]
        born = {r.pid: r.create_time for r in ev.processes}  # in the order they started, not by pid

        def age(pid: int) -> tuple[float, int]:
            return born.get(pid, float("inf")), unwrapped(pid, left)

        named = ", ".join(f"{'daemon' if started[p] else 'child'} {p}" if p in started else f"{o.role} {p}"
                          for p, o in sorted(left.items(), key=lambda kv: age(kv[0])))
        if missing:
            return False, f"no {missing[0]} among the orphans ({named})"
        return True, f"{len(left)} orphan(s) after the main process died: {named}"

    return Check(f"orphans left{': ' + ', '.join(helpers) if helpers else ''}", fn, replaces="no orphans")


def top_level_count(times: int) -> Check:
    """The script's top level ran in exactly ``times`` processes (``kit.probe``'s ``top_level``
    events: the main process, spawn children, a forkserver that preloads ``__main__``)."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        roles = {p.pid: p.role for p in ev.processes}
        runs: dict[int, str] = {}
        for e in ev.of(Ev.TOP_LEVEL):
            if e.pid == ev.main_pid:
                runs.setdefault(e.pid, "main")
            elif roles.get(e.pid) is Role.FORKSERVER:
                runs.setdefault(e.pid, "the forkserver")
            else:
                name = str(e.data.get("process") or "")
                runs.setdefault(e.pid, name if name and name != "MainProcess" else f"pid {e.pid}")
        order = {"main": 0, "the forkserver": 1}
        where = ", ".join(sorted(runs.values(), key=lambda n: (order.get(n, 2), n))) or "no process"
        said = f"the top level ran in {len(runs)} process(es): {where}"
        if len(runs) == times:
            return True, said
        return False, f"{said}; expected {times}"

    return Check(f"top level runs {times}x", fn)


def _burn_window(ev: Evidence) -> tuple[float, float, int] | None:
    """(CPU seconds the workers burned, seconds from the first ``burn_start`` to the last
    ``burn_end``, workers) from the workers' own CPU clocks, or None without such events."""
    starts = {e.pid: e for e in ev.of("burn_start")}
    spans = [(starts[e.pid], e) for e in ev.of("burn_end") if e.pid in starts]
    if not spans:
        return None
    t0, t1 = min(s.t_ns for s, _ in spans), max(e.t_ns for _, e in spans)
    burned = sum(float(e.data.get("cpu_s", 0.0)) - float(s.data.get("cpu_s", 0.0)) for s, e in spans)
    return burned, (t1 - t0) / 1e9, len(spans)


def uses_cores(fraction: float) -> Check:
    """At least ``fraction`` of the workers' cores busy while they burned CPU.

    Measured over the burn (first ``burn_start`` to last ``burn_end``, the CPU each worker's
    own clock counted), not over the whole run: start-up and join are one process's work
    and would dilute a short burn.  The workers' figures must agree with the run's own
    total (exact where the kernel keeps it): they cannot claim more CPU than the run used.
    Without burn events, the whole run's cores."""

    def fn(ev: Evidence) -> tuple[bool, str]:
        workers = ev.of("workers")
        n = workers[0].data["count"] if workers else ev.cpu_count
        want = fraction * min(n, ev.cpu_count)
        window = _burn_window(ev)
        if window is None:
            cores, during = ev.cores_used, ""
        else:
            burned, seconds, _ = window
            if ev.cpu_s is not None and burned > ev.cpu_s * 1.02 + 0.02:
                return False, f"the workers report {burned:.2f} CPU s, more than the run's {ev.cpu_s:.2f}"
            cores = burned / seconds if seconds > 0 else 0.0
            during = " while the workers burned"
        if cores < want:
            return False, f"{cores:.2f} cores used{during}, expected at least {want:.2f}"
        where = ""
        if ev.cpu_num_known:
            cpus = {c for p in ev.processes if p.role is Role.WORKER for c in p.cpus}
            if len(cpus) < min(n, ev.cpu_count):
                return False, f"workers ran on CPUs {sorted(cpus)} only"
            where = f" on CPUs {sorted(cpus)}"
        whole = f" ({ev.cores_used:.2f} over the whole run)" if window is not None else ""
        return True, f"{cores:.2f} cores used{during} by {n} workers{where}{whole}"

    return Check("real parallelism", fn, measures_cpu=True)
