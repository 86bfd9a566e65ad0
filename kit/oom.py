"""Processes the kernel's OOM killer ended, named, with what followed and what to do (``oom_killed``).

Why a feature of its own: a process killed for memory leaves no traceback, only SIGKILL, and what
users see is what follows — a ``Pool`` waiting forever for the task it lost, a
``ProcessPoolExecutor`` broken, the resource tracker's "leaked semaphore objects" warning, which
they then chase as the cause.  The evidence: the run's memory group counts OOM kills
(``Observation.oom_kills``), the kernel's log names each victim where the kit can read it
(``oom_victims``), and otherwise the exit statuses do (a parent saw its child end by SIGKILL, the
main process ended by SIGKILL).  Pure: it reads an observation and says what it shows.
"""
from __future__ import annotations

from dataclasses import dataclass

from kit.events import Event
from kit.observation import End, Observation
from kit.outcomes import Code, Ev, exit_code, size_text
from kit.results import Diagnosis

LEAKED_WARNING = "leaked semaphore"
BROKEN_POOL = "BrokenProcessPool"


@dataclass(frozen=True)
class Victim:
    """One process the OOM killer ended: who it was and what is known of it."""

    pid: int
    name: str  # multiprocessing's name (SpawnPoolWorker-2), the kernel's, or "the main process"
    role: str  # "Pool worker 2 of 2", "child process", "the main process", ...
    held: int | None  # the most resident memory seen in its samples
    sure: bool  # named by the kernel's log (or the only SIGKILL death for as many OOM kills)


def _started(events: tuple[Event, ...]) -> dict[int, Event]:
    return {int(e.data["child"]): e for e in events
            if e.kind == Ev.PROCESS_STARTED and isinstance(e.data.get("child"), int)}


def _pool_place(pid: int, obs: Observation, started: dict[int, Event]) -> str:
    """"Pool worker K of N": its place among the Pool's workers, N the workers started before the
    first one died (the Pool's size); a replacement is said to be one."""
    pool = [p for p, e in sorted(started.items(), key=lambda kv: kv[1].t_ns) if is_pool(e.data.get("name"))]
    if pid not in pool:
        return ""
    died = [e.t_ns for e in obs.events if e.kind in (Ev.CHILD_KILLED, Ev.CHILD_ERROR, Ev.CHILD_DIED)
            and is_pool(e.data.get("name"))]
    size = len([p for p in pool if not died or started[p].t_ns < min(died)]) or len(pool)
    k = pool.index(pid) + 1
    return f"Pool worker {k} of {size}" if k <= size else f"a replacement Pool worker, number {k}"


def is_pool(name: object) -> bool:
    """A Pool's worker, by the name multiprocessing gives it (ForkPoolWorker-2, SpawnPoolWorker-1...)."""
    return "PoolWorker" in str(name)


def sigkilled(e: Event) -> bool:
    """A parent saw its child end by SIGKILL, nobody in the run having asked for it (``kit.probe``)."""
    return e.kind == Ev.CHILD_KILLED and e.data.get("signal") == "SIGKILL" and isinstance(e.data.get("child"), int)


def _killed_by_sigkill(obs: Observation) -> list[tuple[int, str]]:
    """(pid, name) of the processes of the run that SIGKILL ended, as their parents (or the kit) saw."""
    out = [(int(e.data["child"]), str(e.data.get("name") or "")) for e in obs.events if sigkilled(e)]
    if obs.end is End.EXITED and exit_code(obs.exitcode).endswith("(SIGKILL)"):
        out.append((obs.main_pid, "the main process"))
    return out


def victims(obs: Observation) -> list[Victim]:
    """Who the OOM killer ended in this run: named by the kernel's log where it was read, else the
    SIGKILL deaths (sure when there are no more of them than OOM kills)."""
    if not obs.oom_kills:
        return []
    started = _started(obs.events)
    records = {p.pid: p for p in obs.processes}
    named = dict(_killed_by_sigkill(obs))
    if obs.oom_victims:
        found, sure = [(pid, named.get(pid) or name) for pid, name in obs.oom_victims], True
    else:
        found = list(named.items())
        sure = 0 < len(found) <= obs.oom_kills
    out = []
    for pid, name in found:
        record = records.get(pid)
        if pid == obs.main_pid:
            role, name = "the main process", name if name != "the main process" else (record.name if record else name)
        else:
            role = _pool_place(pid, obs, started) or (
                "a multiprocessing child" if pid in started else str(record.role) if record else "a process of the run")
            name = str(started[pid].data.get("name")) if pid in started else name
        out.append(Victim(pid, name, role, record.rss_peak_bytes if record else None, sure))
    return out


def _followed(obs: Observation, found: list[Victim]) -> list[str]:
    """What the kill led to, as the run showed it."""
    said = []
    pool = any(v.role.startswith("Pool worker") for v in found)
    if obs.end is End.OOM_STALLED or (pool and obs.end is End.TIMEOUT):
        said.append("the Pool went on waiting for the task the killed worker held (a Pool never gives a lost "
                    "task back: map() and get() wait forever)" + ("; the kit stopped the run"
                                                                   if obs.end is End.OOM_STALLED else ""))
    elif pool:
        said.append("the Pool replaced the worker")
    if BROKEN_POOL in obs.stderr.text:
        said.append("the ProcessPoolExecutor broke (BrokenProcessPool): every pending future failed")
    if any(v.pid == obs.main_pid for v in found):
        said.append("the main process itself died: nothing after that line ran, and its children lost their parent")
    if LEAKED_WARNING in obs.stderr.text:
        said.append("the resource tracker's \"leaked semaphore objects\" warning is a symptom of this kill "
                    "(the killed process could not release them), not its cause")
    return said


def _who(v: Victim) -> str:
    held = f", {size_text(v.held)} resident when last seen" if v.held else ""
    return f"{v.name} ({v.role}, pid {v.pid}{held})" if v.role != "the main process" else \
        f"the main process (pid {v.pid}{held})"


FIX = ("Use less memory per process, or give the run more: under fork the parent's pages are shared until "
       "written (`kit run copy_on_write` shows what that saves, and what spawn copies); send work in smaller "
       "pieces (imap(..., chunksize=...), fewer processes); raise the limit if the need is real. With a Pool, "
       "prefer concurrent.futures.ProcessPoolExecutor: it raises BrokenProcessPool instead of waiting forever.")


def diagnose(obs: Observation) -> list[Diagnosis]:
    """``oom_killed`` when the kernel counted an OOM kill in the run: whom, what followed, what to do."""
    if not obs.oom_kills:
        return []
    found = victims(obs)
    limit = (f" under the run's {size_text(obs.memory_limit_bytes)} limit" if obs.memory_limit_bytes else "")
    peak = f" (the run's peak: {size_text(obs.memory_peak_bytes)})" if obs.memory_peak_bytes else ""
    if found and all(v.sure for v in found):
        who = ", ".join(_who(v) for v in found)
    elif found:
        who = f"one of {', '.join(_who(v) for v in found)} (each ended by SIGKILL; the kernel's log was not read)"
    else:
        who = "a process the kit could not name (no exit status said SIGKILL, and the kernel's log was not read)"
    followed = _followed(obs, found)
    then = (" Then: " + "; ".join(followed) + ".") if followed else ""
    message = f"the kernel's OOM killer ended {obs.oom_kills} process(es){limit}{peak}: {who}.{then}"
    return [Diagnosis(Code.OOM_KILLED, message, FIX)]


def victim_pids(obs: Observation) -> set[int]:
    """Processes whose death this diagnosis explains (other diagnoses leave them out)."""
    return {v.pid for v in victims(obs)}
