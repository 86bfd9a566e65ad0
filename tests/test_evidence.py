"""Runs observed by the kernel (the run's own cgroup), against real runs via ``kit.runner.run``.

Where a cgroup can be made (Linux, root or a delegated cgroup), every run is kept by the
kernel: exact CPU of every process, exited ones included; every member, however hidden
(a thread-group leader whose main thread exited shows ``Z`` yet lives); the kill.  psutil
only names processes.  Each check comes with a broken variant: the same run observed the
old way (``KIT_EVIDENCE=psutil``) or measured naively (``getrusage(RUSAGE_CHILDREN)``),
showing what the kernel's evidence fixes.
"""
from __future__ import annotations

import dataclasses
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import explain, reap_children, run_bounded

from kit import _platform, render, runner
from kit.errors import EnvironmentProblem
from kit.results import RunResult, usable_cpu_count
from kit.runner import EVIDENCE_VAR, example_subject, script_subject


def _cgroup_usable() -> tuple[bool, str]:
    group, why = _platform.run_group("probe")
    if group is None:
        return False, why
    group.close()
    return True, why


USABLE, WHY = _cgroup_usable()
needs_cgroup = pytest.mark.skipif(not USABLE, reason=f"no usable cgroup for runs here: {WHY}")
pytestmark = needs_cgroup

#: 20 children of ~5 ms of CPU each, all alive at once for a moment (a Barrier of 21).
FORKS_20 = """
import time
from multiprocessing import Barrier, Process


def child(barrier):
    barrier.wait(timeout=20)
    end = time.process_time() + 0.005
    while time.process_time() < end:
        pass


if __name__ == '__main__':
    barrier = Barrier(21)
    kids = [Process(target=child, args=(barrier,)) for _ in range(20)]
    for k in kids:
        k.start()
    barrier.wait(timeout=20)
    for k in kids:
        k.join()
"""

#: A child whose main thread exits (pthread_exit) while another thread sleeps 30 s; main exits at once.
ZOMBIE_LEADER_CHILD = """
import subprocess, sys, time
code = ("import ctypes, threading, time\\n"
        "threading.Thread(target=time.sleep, args=(30,)).start()\\n"
        "print('ready', flush=True)\\n"
        "ctypes.CDLL(None).pthread_exit(None)\\n")
child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
child.stdout.readline()
time.sleep(0.2)  # the leader is a zombie by now, its thread sleeps on
print("leader", child.pid, flush=True)
"""

#: Four quiet seconds, two children sleeping alongside: what watching itself costs.
SLEEPERS = """
import time
from multiprocessing import Process

if __name__ == '__main__':
    kids = [Process(target=time.sleep, args=(4,)) for _ in range(2)]
    for k in kids:
        k.start()
    time.sleep(4)
    for k in kids:
        k.join()
"""


@pytest.fixture(autouse=True)
def default_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test chooses its evidence itself; the caller's KIT_EVIDENCE must not leak in."""
    monkeypatch.delenv(EVIDENCE_VAR, raising=False)


@pytest.fixture
def script(tmp_path: Path) -> Iterator[object]:
    def write(name: str, text: str) -> str:
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        return str(path)
    yield write


def _children_cpu_s() -> float:
    """RUSAGE_CHILDREN, with the relays the relay server reaped for us (``_relay.served_cpu_s``)."""
    from kit._platform import _relay

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + _relay.served_cpu_s()


def _relay_cpu_s() -> float:
    """The CPU of the run's relay itself (``kit._platform._relay``: a python -I -S that forks,
    waits and exits), which RUSAGE_CHILDREN counts and the run's cgroup rightly does not: the
    least of three relays around ``true``."""
    from kit._platform import _relay

    costs = []
    for _ in range(3):
        before = _children_cpu_s()
        proc, _ = _relay.start(["/bin/true"], [], served=sys.platform == "linux")  # as runs start
        proc.wait(timeout=20)
        costs.append(_children_cpu_s() - before)
    return min(costs)


def _measured(target: object, method: str, **kw: float) -> tuple[RunResult, float]:
    """A run, and the CPU ``RUSAGE_CHILDREN`` saw during the observation its result comes from
    (exact for what gets waited for), less its relay's own.  A busy machine can make the kit run
    a cell twice (the first attempt inconclusive): only the last observation is the result's."""
    relay = _relay_cpu_s()
    observe, spans = runner._observe, []  # noqa: SLF001 - one observation, as the result reports it

    def measured_observe(*args: Any, **kwargs: Any) -> Any:
        before = _children_cpu_s()
        try:
            return observe(*args, **kwargs)
        finally:
            spans.append(_children_cpu_s() - before)

    runner._observe = measured_observe  # noqa: SLF001
    try:
        r = run_bounded(target, method, **kw)  # type: ignore[arg-type]
    finally:
        runner._observe = observe  # noqa: SLF001
    return r, spans[-1] - relay


def _own_run_groups() -> list[str]:
    """Run groups of this process left in any hierarchy (there must be none between runs)."""
    from kit._platform import _cgroup  # Linux only: the module is skipped elsewhere

    places, _ = _cgroup._read_places()
    left = []
    for place in places:
        parent = os.path.join(place.own, _cgroup.PARENT)
        try:
            left += [os.path.join(parent, n) for n in os.listdir(parent) if n.startswith(f"run-{os.getpid()}-")]
        except OSError:
            continue
    return left


def _lives(pid: int) -> bool:
    """Some thread of ``pid`` runs (a leader whose main thread exited shows Z, yet lives)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        try:
            data = Path(f"/proc/{pid}/task/{tid}/stat").read_bytes()
        except OSError:
            continue
        if data[data.rindex(b")") + 2:][:1] not in (b"Z", b"X"):
            return True
    return False


# -- short-lived children: counted, their CPU too ----------------------------------------
@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_twenty_short_children_are_counted_with_their_cpu(method: str, script: Callable[[str, str], str]) -> None:
    """20 children of ~5 ms: 21 processes at once, and every CPU second (RUSAGE_CHILDREN agrees, fork)."""
    r, rusage = _measured(script_subject(script("forks20", FORKS_20)), method)
    assert r.status == "pass", explain(r)
    assert r.evidence == "cgroup", r.unmeasured
    assert r.peak_processes >= 21, (r.peak_processes, r.unmeasured)
    assert abs(r.cpu_s - rusage) <= 0.05 * rusage, f"kit {r.cpu_s} s, RUSAGE_CHILDREN {rusage:.3f} s"
    assert not _own_run_groups()


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_broken_variant_sampling_misses_the_short_children_cpu(method: str, script: Callable[[str, str], str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run sampled every 20 ms: the children's 5 ms bursts fall between samples.

    The peak is not asserted here: sampling sees all 21 now and then (they wait together
    on the barrier for a few ms), so its miss is not reliable; the CPU's is.
    """
    monkeypatch.setenv(EVIDENCE_VAR, "psutil")
    r, rusage = _measured(script_subject(script("forks20", FORKS_20)), method)
    assert r.status == "pass", explain(r)
    assert r.evidence == "psutil"
    assert r.cpu_s < 0.95 * rusage, f"sampling saw {r.cpu_s} s of {rusage:.3f} s"


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_hello_under_fork_has_two_processes(method: str) -> None:
    """hello's child lives a few ms under fork: the kernel's peak still counts it."""
    r = run_bounded(example_subject("hello"), method)
    assert r.status == "pass", explain(r)
    assert r.evidence == "cgroup"
    assert r.peak_processes >= 2, (r.peak_processes, r.unmeasured)


#: Three children alive together for 0.4 s: the real peak is 4 processes (no helper under fork).
#: With THREAD, the main process also runs a thread meanwhile: the kernel then counts 5 tasks.
CHILDREN_3 = """
import threading, time
from multiprocessing import Process

THREAD = {thread}

if __name__ == "__main__":
    if THREAD:
        threading.Thread(target=time.sleep, args=(1.0,), daemon=True).start()
    ps = [Process(target=time.sleep, args=(0.4,)) for _ in range(3)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
"""


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_a_peak_counted_by_the_kernel_is_exact(method: str, script: Callable[[str, str], str]) -> None:
    r = run_bounded(script_subject(script("three", CHILDREN_3.format(thread=False))), method)
    assert r.status == "pass", explain(r)
    assert (r.peak_exact, r.peak_processes) == (True, 4), r.unmeasured
    assert "peak 4 processes" in render.run_summary(r, False, 0)


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_with_threads_the_peak_is_said_to_be_a_lower_bound(method: str, script: Callable[[str, str], str]) -> None:
    """The kernel counts tasks: with a thread beside the processes its 5 would overstate 4
    processes, so the peak is the most seen in one sample, marked as a lower bound (never above
    the truth), with the kernel's count as the upper bound.  The broken variant is the old
    display, which printed that sampled figure as if it were the count."""
    r = run_bounded(script_subject(script("three_and_a_thread", CHILDREN_3.format(thread=True))), method)
    assert r.status == "pass", explain(r)
    assert r.peak_exact is False and r.peak_tasks is not None and r.peak_tasks >= 5, (r.peak_tasks, r.unmeasured)
    assert r.peak_processes <= 4
    assert f"peak at least {r.peak_processes} processes" in render.run_summary(r, False, 0)
    assert render.cell(r).split()[2] == f"≥{r.peak_processes}p"
    old = dataclasses.replace(r, peak_exact=None)  # an older record: nothing said about exactness
    assert f"peak {r.peak_processes} processes" in render.run_summary(old, False, 0)


def test_the_kernels_count_is_not_taken_as_processes_once_a_thread_was_started() -> None:
    """A Pool's run of 0.15 s under fork may be seen in one sample as one process, its threads
    never: the kernel's 6 tasks (main, 2 workers, 3 handler threads) are then no count of processes.
    The broken variant, the rule without the probe's word on threads, calls them 6 processes."""
    from types import SimpleNamespace

    from kit.runner import _cgroup_figures, _Tally

    tally = _Tally(None)
    observer = SimpleNamespace(peak=1)
    said = _cgroup_figures(tally, observer, [], set(), 6, False, threads_started=True)  # type: ignore[arg-type]
    assert said[:2] == (1, False)
    assert "pids.peak: at most 6 tasks" in said[2][-1]
    old_rule = _cgroup_figures(tally, observer, [], set(), 6, False, threads_started=False)  # type: ignore[arg-type]
    assert old_rule[:2] == (6, True)


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_a_pool_run_is_never_said_to_have_an_exact_peak(method: str, script: Callable[[str, str], str]) -> None:
    pool = ("from multiprocessing import Pool\n"
            "if __name__ == '__main__':\n    with Pool(2) as p:\n        p.map(abs, [1, 2])\n")
    for _ in range(3):  # a short run: some of its tries are seen once, as one process
        r = run_bounded(script_subject(script("pool", pool)), method)
        assert r.status == "pass", explain(r)
        assert r.peak_exact is False and r.peak_tasks is not None and r.peak_processes <= r.peak_tasks, r.unmeasured


# -- CPU nobody waits for ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["forkserver"], indirect=True)
def test_forkserver_workers_cpu_is_counted(method: str) -> None:
    """The forkserver's workers burn 2 x 0.25 CPU s; main never waits for them: still every CPU second.

    ``RUSAGE_CHILDREN`` of the kit agrees here only because the kit is the run's subreaper: the
    orphaned forkserver re-parents to it and is reaped with its workers' usage.  A plain parent
    sees a tenth of it (``test_broken_variant_a_plain_parent_misses_the_forkserver_workers``).
    """
    if usable_cpu_count() < 2:
        pytest.skip("the cpu example needs 2 usable CPUs to start 2 workers")
    r, rusage = _measured(example_subject("cpu"), method, timeout=30)
    assert r.evidence == "cgroup"
    assert r.status in ("pass", "fail", "inconclusive"), explain(r)  # not "pass": a busy machine, cores < 1.5
    workers = usable_cpu_count() * 0.25  # each burns max(0.25, 2.5 x scale 0.1) s of process time
    sampled = sum(p.cpu_s for p in r.processes)
    assert workers <= r.cpu_s <= workers + 1.5, (r.cpu_s, workers)
    assert sampled <= r.cpu_s + 0.05, (sampled, r.cpu_s)  # samples never exceed the exact total
    assert abs(r.cpu_s - rusage) <= 0.05 * rusage, f"kit {r.cpu_s} s, RUSAGE_CHILDREN {rusage:.3f} s"


@pytest.mark.parametrize("method", ["forkserver"], indirect=True)
def test_broken_variant_a_plain_parent_misses_the_forkserver_workers(method: str, tmp_path: Path) -> None:
    """The same example started by a parent that is not a subreaper: its RUSAGE_CHILDREN misses the
    workers (nobody waits for the forkserver), under a third of the kernel's figure."""
    if usable_cpu_count() < 2:
        pytest.skip("the cpu example needs 2 usable CPUs to start 2 workers")
    import subprocess

    from kit._platform import _cgroup
    from kit.runner import child_env

    (tmp_path / "events").mkdir()
    parent = ("import resource, subprocess, sys\n"
              "subprocess.run([sys.executable, '-m', 'kit.launcher', 'forkserver', '-m', 'kit.examples.cpu'],"
              " stdout=subprocess.DEVNULL, check=True)\n"
              "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
              "print(u.ru_utime + u.ru_stime)\n")
    with _cgroup.RunCgroup.create("plain-parent") as group:  # to know the truth, and to end it all
        out = subprocess.run([sys.executable, "-c", parent], env=child_env(str(tmp_path / "events"), 0.1),
                             capture_output=True, text=True, timeout=60, preexec_fn=group.preexec)
        deadline = time.monotonic() + 5
        while group.populated() and time.monotonic() < deadline:  # the forkserver leaves after main
            time.sleep(0.02)
        truth = group.cpu_s()
    reap_children()  # the orphaned forkserver re-parented to us (the subreaper): collect it
    assert out.returncode == 0, out.stderr
    plain = float(out.stdout.split()[-1])
    assert truth is not None and truth > 0.5  # 2 workers x 0.25 s, and the rest
    assert plain < truth / 3, f"a plain parent saw {plain} CPU s of {truth:.3f}"


# -- a process psutil calls a zombie --------------------------------------------------------
@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_zombie_leader_with_live_thread_is_an_orphan_and_killed(method: str, script: Callable[[str, str], str]) -> None:
    """Main exits; its child's main thread exited but a thread sleeps 30 s: an orphan, killed, nothing left."""
    r = run_bounded(script_subject(script("zleader", ZOMBIE_LEADER_CHILD)), method, grace=0.5)
    leader = int(r.stdout.split("leader", 1)[1].split()[0])
    assert r.evidence == "cgroup"
    assert r.status == "fail", explain(r)
    assert [o.pid for o in r.orphans] == [leader], explain(r)
    assert leader in {p.pid for p in r.processes}
    assert not _lives(leader)
    assert not _own_run_groups()


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_broken_variant_sampling_takes_the_zombie_leader_for_dead(method: str, script: Callable[[str, str], str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampled, the leader shows Z: not an orphan, not killed, still alive after the run."""
    monkeypatch.setenv(EVIDENCE_VAR, "psutil")
    r = run_bounded(script_subject(script("zleader", ZOMBIE_LEADER_CHILD)), method, grace=0.5)
    leader = int(r.stdout.split("leader", 1)[1].split()[0])
    try:
        assert r.evidence == "psutil"
        assert r.orphans == [], explain(r)
        assert _lives(leader), "the leader died: the broken variant no longer shows the miss"
    finally:
        try:
            os.kill(leader, signal.SIGKILL)
            os.waitpid(leader, 0)  # ours: we are the subreaper it re-parented to
        except (ProcessLookupError, ChildProcessError):
            pass


# -- the cost of watching ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_watching_a_quiet_run_costs_under_five_percent_of_a_core(method: str,
                                                                  script: Callable[[str, str], str]) -> None:
    """4 s with 2 sleeping children: only the group's members are sampled, not the process table."""
    r = run_bounded(script_subject(script("sleepers", SLEEPERS)), method)
    assert r.status == "pass", explain(r)
    assert r.evidence == "cgroup"
    assert r.wall_s >= 4
    assert r.observer_cpu_s / r.wall_s < 0.05, f"{r.observer_cpu_s} CPU s over {r.wall_s} s"


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_broken_variant_sampling_the_table_costs_more(method: str, script: Callable[[str, str], str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole process table read every 20 ms costs more than reading the group's members."""
    target = script_subject(script("sleepers", SLEEPERS))
    cheap = run_bounded(target, method)
    monkeypatch.setenv(EVIDENCE_VAR, "psutil")
    table = run_bounded(target, method)
    assert (cheap.evidence, table.evidence) == ("cgroup", "psutil")
    assert table.observer_cpu_s > cheap.observer_cpu_s, (table.observer_cpu_s, cheap.observer_cpu_s)


# -- choosing the evidence ---------------------------------------------------------------------
def test_kit_evidence_psutil_forces_sampling(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVIDENCE_VAR, "psutil")
    r = run_bounded(example_subject("hello"), method)
    assert r.status == "pass", explain(r)
    assert r.evidence == "psutil"
    assert any("KIT_EVIDENCE=psutil" in u for u in r.unmeasured), r.unmeasured


def test_every_method_is_observed_by_the_cgroup(method: str) -> None:
    r = run_bounded(example_subject("hello"), method)
    assert r.status == "pass", explain(r)
    assert r.evidence == "cgroup"
    assert r.unmeasured and all(isinstance(u, str) for u in r.unmeasured)
    assert not _own_run_groups()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="KIT_EVIDENCE=cgroup succeeds only on Linux")
def test_kit_evidence_cgroup_and_a_wrong_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVIDENCE_VAR, "cgroup")
    assert run_bounded(example_subject("hello"), "fork").evidence == "cgroup"
    monkeypatch.setenv(EVIDENCE_VAR, "kernel")
    with pytest.raises(EnvironmentProblem, match="KIT_EVIDENCE"):
        run_bounded(example_subject("hello"), "fork")


@pytest.mark.slow
def test_no_run_group_is_left_after_runs() -> None:
    """Stale groups are removed at start, ours at the end of each run."""
    time.sleep(0)  # the runs above already ran; this just states the end state
    assert not _own_run_groups()


@pytest.mark.slow
def test_with_a_cpu_hog_running_the_cpu_cell_never_fails() -> None:
    """A hog on one core: the cpu example passes or is inconclusive (the load in its reason), never
    fails; the kit retried it once when the first attempt was inconclusive."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        r = run_bounded(example_subject("cpu"), "fork", timeout=60)
    finally:
        hog.kill()
        hog.wait()
    assert r.status in ("pass", "inconclusive"), explain(r)
    if r.status == "inconclusive":
        assert "other processes used" in r.reason and "second attempt" in r.reason, r.reason
