"""Observation -> verdicts -> ``RunResult``: a pure function, no process is looked at.

Every outcome is decided here, in one place: a timeout, a run stopped in a crash loop, an
interrupted kit, a launcher that never ran the script, and otherwise the checks (the two
every run gets, then the target's own).  Diagnoses (``kit.diagnose``) are attached, and the
few that make a run fail by themselves (a child that died, for a script) come in as checks.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from kit import diagnose, oom
from kit.checks import Check, Evidence, generic_checks
from kit.observation import End, Observation
from kit.outcomes import GENERIC_CHECKS, Ev, Method, Role, Status, exit_code

from kit.results import ProcRef, RunResult, Verdict
from kit.source import SourceFacts

_WARNING = re.compile(r"\b\w+Warning: ")
_LINE_LIMIT = 2000  # a warning line longer than this is cut: matching stays linear


def warnings_in(stderr: str) -> list[str]:
    """Distinct ``...Warning: ...`` lines of the run's stderr (linear in its size)."""
    found = set()
    for line in stderr.splitlines():
        at = line.find("Warning: ")
        if at >= 0:
            if len(line) > _LINE_LIMIT:  # keep the part around the match: a bounded line to search
                line = line[max(0, at - 200): at - 200 + _LINE_LIMIT] if at > 200 else line[:_LINE_LIMIT]
            if _WARNING.search(line):
                found.add(line.strip())
    return sorted(found)


def daemons_terminated(obs: Observation) -> list[int]:
    """Daemons alive as the script ended (main's own word) and gone by the time main exited:
    seen gone at the latest by the first sample taken after main's exit was seen (a sample
    that began before the exit can still list a daemon that main terminated meanwhile), or,
    where the kernel keeps the run, not among its pids at that sample (a daemon that lived too
    briefly for any look, started just before main ended, is no less gone)."""
    daemons = _daemons_alive_at_end(obs)
    by = max(obs.wall_s, obs.settled_s or 0.0) + 1e-3
    gone = {p.pid for p in obs.processes if p.gone_s is not None and p.gone_s <= by}
    if obs.settled_members is not None:
        gone |= daemons - obs.settled_members
    return sorted(daemons & gone)


def _daemons_alive_at_end(obs: Observation) -> set[int]:
    """Daemons the main process started that were alive as its script ended (its own word), orphans
    (alive after the grace) left out."""
    daemons = {int(e.data["child"]) for e in obs.of(Ev.PROCESS_STARTED) if e.data.get("daemon") and "child" in e.data}
    done = obs.of(Ev.SCRIPT_DONE)
    alive_at_end = set(done[-1].data.get("alive", [])) if done else set()
    return (daemons & alive_at_end) - set(obs.orphans)


def daemons_unseen(obs: Observation) -> list[int]:
    """Daemons alive as the script ended that no look saw, where nobody else keeps the run's pids:
    whether main terminated them cannot be told."""
    if obs.settled_members is not None:
        return []
    return sorted(_daemons_alive_at_end(obs) - {p.pid for p in obs.processes})


def _started_ref(obs: Observation, pid: int) -> ProcRef:
    """A process known from its parent's ``process_started`` only (no look saw it)."""
    named = [e for e in obs.of(Ev.PROCESS_STARTED) if e.data.get("child") == pid]
    return ProcRef(pid, str(named[0].data.get("name", "?")) if named else "?", [], Role.WORKER)


def evidence_of(obs: Observation) -> Evidence:
    """What the checks read, from the observation."""
    cpus = sorted({c for p in obs.processes for c in p.cpus})
    daemons = set(daemons_terminated(obs))
    return Evidence(
        method=obs.method, events=list(obs.events), stdout=obs.stdout.text, stderr=obs.stderr.text,
        exitcode=obs.exitcode, main_pid=obs.main_pid, cores_used=_cores(obs), cpu_count=obs.platform.cpu_count,
        cpus_seen=cpus, cpu_num_known=bool(cpus), processes=list(obs.processes),
        orphans=_orphans(obs),
        daemons_terminated=[p.ref() for p in obs.processes if p.pid in daemons]
        + [_started_ref(obs, pid) for pid in sorted(daemons - {p.pid for p in obs.processes})],
        daemons_unseen=daemons_unseen(obs), cpu_s=obs.cpu_s,
        memory_peak_bytes=obs.memory_peak_bytes, memory_source=str(obs.memory_source or ""),
    )


def _orphans(obs: Observation) -> list[ProcRef]:
    """Every orphan, named from its record; one that left no record (it vanished before psutil
    could name it) is still an orphan."""
    named = {p.pid: p.ref() for p in obs.processes if p.pid in obs.orphans}
    return [named.get(pid) or ProcRef(pid, "?", [], Role.OTHER) for pid in sorted(obs.orphans)]


def _cores(obs: Observation) -> float:
    return obs.cpu_s / obs.wall_s if obs.wall_s > 0 else 0.0


BUSY_CORES = 0.25
"""Other processes using this much CPU (in cores) during a run make a failed CPU check undecidable."""
STALLED_SHARE = 0.1
"""...when the run was starved: some process of it waited for a CPU at least this share of its wall
time (the kernel's pressure stall information, where the run's cgroup has it).  A run that waited
less did not lack CPU, whatever else ran: its failed CPU check stands (workers that sleep)."""
IDLE_OF_FREE = 0.25
"""Without stall figures: the run used less than this share of the cores the others left free (at
least half a core free): it had cores and did not use them, which no load explains."""


def _starved(obs: Observation) -> bool:
    """The load may explain a failed CPU check: the run waited for CPUs (``STALLED_SHARE``), or,
    where the kernel does not say, it used what the others left it (``IDLE_OF_FREE``)."""
    if obs.cpu_stall_s is not None:
        return obs.cpu_stall_s >= STALLED_SHARE * obs.wall_s
    if obs.others_cores is None:
        return True
    free = obs.platform.cpu_count - obs.others_cores
    return not (free >= 0.5 and _cores(obs) < IDLE_OF_FREE * free)


def _outcome(obs: Observation, verdicts: Sequence[Verdict], measures_cpu: frozenset[str] = frozenset()
             ) -> tuple[Status, str]:
    """The status and its one-line reason: every outcome mapped here and nowhere else.

    A failed check that measures CPU (``Check.measures_cpu``) on a machine where other processes
    used at least ``BUSY_CORES`` meanwhile is not a failure but ``inconclusive``, with the figures:
    the run may have been starved, not serial; unless it was not (``_starved``)."""
    if obs.end is End.INTERRUPTED:
        return Status.INTERRUPTED, f"the kit was interrupted ({obs.stop_reason or 'SIGINT'}): killed " \
                                   f"{len(obs.killed)} process(es)"
    if obs.end is End.TIMEOUT:
        return Status.TIMEOUT, f"still running after {obs.timeout_s:g} s: killed {len(obs.killed)} process(es)"
    if obs.end in (End.CRASH_LOOP, End.OOM_STALLED):
        return Status.FAIL, f"stopped early: {obs.stop_reason}; killed {len(obs.killed)} process(es)"
    if obs.end is End.PARENT_KILLED:
        how = exit_code(int(obs.stop_reason)) if obs.stop_reason.lstrip("-").isdigit() else obs.stop_reason
        return Status.FAIL, (f"the script killed its parent (the kit's relay, exit {how}) while the main "
                             f"process ran: stopped at once, killed {len(obs.killed)} process(es)")
    if not obs.launched:
        last = obs.stderr.text.strip().splitlines()[-1:] or [f"exit {exit_code(obs.exitcode)}"]
        return Status.ERROR, f"the launcher failed: {last[0][:300]}"
    if obs.oom_kills:  # the kernel ended a process of the run: whatever the checks say, it failed
        named = ", ".join(f"{v.name} (pid {v.pid})" for v in oom.victims(obs))
        return Status.FAIL, (f"the kernel's OOM killer ended {obs.oom_kills} process(es) of the run"
                             + (f": {named}" if named else ""))
    undecided = [v for v in verdicts if v.undecided]
    if undecided:
        return Status.INCONCLUSIVE, "; ".join(v.reason for v in undecided)
    failed = [v for v in verdicts if not v.ok and not v.unshown]
    busy = obs.others_cores is not None and obs.others_cores >= BUSY_CORES
    if failed and busy and all(v.check in measures_cpu for v in failed) and _starved(obs):
        waited = "" if obs.cpu_stall_s is None else \
            f" and the run's processes waited {obs.cpu_stall_s:.2f} s of {obs.wall_s:.2f} s for a CPU"
        return Status.INCONCLUSIVE, (
            "; ".join(v.reason for v in failed) + f"; but other processes used {obs.others_cores:.2f} of "
            f"{obs.platform.cpu_count} cores meanwhile{waited}: too busy a machine to decide")
    if failed:
        return Status.FAIL, "; ".join(v.reason for v in failed)
    unshown = [v for v in verdicts if v.unshown]
    if unshown:  # nothing failed, but what the example is about did not happen in this run
        return Status.INCONCLUSIVE, "; ".join(v.reason for v in unshown) + ": this run did not show it"
    own = [v for v in verdicts if v.check not in GENERIC_CHECKS]
    return Status.PASS, "; ".join(v.reason for v in (own or verdicts))


def judge(obs: Observation, checks: Sequence[Check], facts: SourceFacts | None = None, suite: bool = False
          ) -> RunResult:
    """The result of one run: status, reason, every check's verdict, diagnoses, the figures.
    ``suite``: the run was a project's test suite: its tests' outcomes, diagnoses charged to them."""
    from kit import suite as suites  # the suite feature reads its own events; not imported for examples
    ev = evidence_of(obs)
    finished = obs.end is End.EXITED and obs.launched
    verdicts = [check(ev) for check in (*generic_checks(checks), *checks)] if finished else []
    status, reason = _outcome(obs, verdicts, frozenset(c.name for c in checks if c.measures_cpu))
    methods_used = sorted({str(e.data.get("method")) for e in obs.of(Ev.PROCESS_STARTED) if e.data.get("method")})
    return RunResult(
        subject=obs.subject, method=Method(obs.method), status=status, reason=reason,
        wall_s=round(obs.wall_s, 3), exitcode=obs.exitcode if obs.end is End.EXITED else None,
        cores_used=round(_cores(obs), 2), cpu_s=round(obs.cpu_s, 3), peak_processes=obs.peak_processes,
        cpu_stall_s=None if obs.cpu_stall_s is None else round(obs.cpu_stall_s, 3),
        peak_exact=obs.peak_exact, peak_tasks=obs.peak_tasks, memory_peak_bytes=obs.memory_peak_bytes,
        memory_source=obs.memory_source, memory_limit_bytes=obs.memory_limit_bytes,
        cpus_seen=ev.cpus_seen, orphans=ev.orphans, daemons_terminated=ev.daemons_terminated,
        processes=list(obs.processes), checks=list(verdicts),
        warnings=warnings_in(obs.stderr.text) + _unlinked(obs),
        stdout=obs.stdout.text, stderr=obs.stderr.text, scale=obs.scale, platform=obs.platform,
        diagnoses=suites.diagnoses(obs, facts) if suite else diagnose.diagnose(obs, facts),
        tests=suites.tests_of(obs.events) if suite else None,
        top_level_runs=diagnose.top_level_runs(obs), methods_used=methods_used,
        evidence=obs.backend, unmeasured=list(obs.unmeasured), observer_cpu_s=round(obs.observer_cpu_s, 4),
        error=_error(obs),
    )


def _unlinked(obs: Observation) -> list[str]:
    if not obs.unlinked:
        return []
    shown = ", ".join(obs.unlinked[:5]) + (f" and {len(obs.unlinked) - 5} more" if len(obs.unlinked) > 5 else "")
    return [f"kit: the run left {len(obs.unlinked)} named IPC object(s) its resource tracker could no longer "
            f"unlink (it ended with the run): unlinked by the kit: {shown}"]


def _error(obs: Observation) -> str:
    dead = diagnose.deaths(obs.events)
    main = [d for d in dead if d.main]
    return (main or dead)[0].error if dead else ""
