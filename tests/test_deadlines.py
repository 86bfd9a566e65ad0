"""A run is stopped at its deadline even when the kit is starved (``kit.deadlines``), and a run
no kernel keeps is killed without reading every process again (``kit.runner._kill_sampled``).

The fork bombs here are bounded by a pids cgroup the script joins itself (root, a writable pids
hierarchy), so that a kit that failed could not take the machine with it.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from support import POSIX

from kit import _platform, runner
from kit.catalogue import script_subject
from kit.deadlines import Deadlines
from kit.observer import Observer
from kit.settings import DEFAULTS

pytestmark = pytest.mark.skipif(not POSIX, reason="process groups")


# -- the deadline thread --------------------------------------------------------------------
def _armed(d: Deadlines, key: int, after_s: float, fired: dict[int, float]) -> None:
    d.arm(key, time.perf_counter_ns() + int(after_s * 1e9), lambda: fired.setdefault(key, time.perf_counter()))


def _wait_for(fired: dict[int, float], key: int, limit_s: float) -> float | None:
    end = time.perf_counter() + limit_s
    while key not in fired and time.perf_counter() < end:
        time.sleep(0.01)
    return fired.get(key)


def test_a_stop_is_called_once_its_deadline_passes_and_disarm_says_so() -> None:
    d, fired = Deadlines(), dict[int, float]()
    t0 = time.perf_counter()
    _armed(d, 1, 0.2, fired)
    at = _wait_for(fired, 1, 3.0)
    assert at is not None and 0.19 <= at - t0 < 0.7, at
    assert d.disarm(1) is True
    assert d.disarm(1) is False  # said once


def test_a_disarmed_run_is_never_stopped() -> None:
    d, fired = Deadlines(), dict[int, float]()
    _armed(d, 1, 0.2, fired)
    assert d.disarm(1) is False
    time.sleep(0.4)
    assert fired == {}


class _LateStop(Deadlines):
    """The broken variant: the stop is called after the lock is let go, so a disarm can return
    in between and the run (continued by its watcher) is stopped afterwards."""

    def _serve(self) -> None:
        while True:
            with self._cond:
                now = time.perf_counter_ns()
                due = [(k, stop) for k, (d, stop) in self._armed.items() if d <= now]
                for key, _ in due:
                    del self._armed[key]
                    self._fired.add(key)
                if not due:
                    earliest = min((d for d, _ in self._armed.values()), default=None)
                    self._cond.wait(None if earliest is None else (earliest - now) / 1e9)
                    continue
            for _, stop in due:
                stop()


@pytest.mark.parametrize("kind", ["real", "broken"])
def test_no_stop_happens_after_disarm_returns(kind: str) -> None:
    """The watch loop continues a run whose stop raced its end: that stop must be over by then."""
    d = Deadlines() if kind == "real" else _LateStop()
    calls: list[float] = []

    def slow_stop() -> None:
        time.sleep(0.15)
        calls.append(time.perf_counter())

    d.arm(1, time.perf_counter_ns() + int(0.05e9), slow_stop)
    time.sleep(0.1)  # the stop is under way
    assert d.disarm(1) is True
    returned = time.perf_counter()
    time.sleep(0.3)
    if kind == "real":
        assert calls and calls[0] <= returned
    else:
        assert calls and calls[0] > returned


class _Deaf(Deadlines):
    """The broken variant: arming never wakes the thread, which sleeps out the deadline it knew."""

    def arm(self, key: int, deadline_ns: int, stop: object) -> None:
        with self._cond:
            self._armed[key] = (deadline_ns, stop)  # type: ignore[assignment]
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, daemon=True)
                self._thread.start()


@pytest.mark.parametrize("kind", ["real", "broken"])
def test_an_earlier_deadline_armed_later_is_kept(kind: str) -> None:
    """Another run's deadline a minute away must not make the thread sleep past a near one."""
    d, fired = (Deadlines() if kind == "real" else _Deaf()), dict[int, float]()
    _armed(d, 1, 60.0, fired)
    time.sleep(0.05)  # the thread sleeps toward the far deadline
    t0 = time.perf_counter()
    _armed(d, 2, 0.2, fired)
    at = _wait_for(fired, 2, 1.5)
    d.disarm(1)
    if kind == "real":
        assert at is not None and at - t0 < 0.7, at
    else:
        assert at is None


# -- a run whose watch loop is starved ------------------------------------------------------
TICKING = """
import sys, time
with open({path!r}, "a") as out:
    while True:
        out.write(f"{{time.time()}}\\n")
        out.flush()
        time.sleep(0.02)
"""


def _starved_look(monkeypatch: pytest.MonkeyPatch, after_s: float, for_s: float) -> None:
    """The watch loop's first look ``after_s`` into the run takes ``for_s`` (a kit beside a fork bomb)."""
    real = Observer.sample
    first: list[float] = []

    def sample(self: Observer, *args: object, **kwargs: object) -> int:
        now = time.perf_counter()
        first.append(now)
        if now - first[0] > after_s and not getattr(self, "_starved", False):
            self._starved = True  # type: ignore[attr-defined]
            time.sleep(for_s)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Observer, "sample", sample)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["real", "broken"])
def test_a_starved_watch_loop_still_stops_the_run_at_its_deadline(kind: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The run writes the time every 20 ms; the kit's look at 0.5 s lasts 3 s; the timeout is
    1 s.  The run writes nothing from its deadline until the look ends.  The broken variant
    (no deadline thread) lets it write on."""
    ticks = tmp_path / "ticks.txt"
    script = tmp_path / "ticking.py"
    script.write_text(TICKING.format(path=str(ticks)))
    _starved_look(monkeypatch, 0.5, 3.0)
    if kind == "broken":
        monkeypatch.setattr(runner.DEADLINES, "arm", lambda *a, **k: None)
    r = runner.run(script_subject(str(script)), "fork", DEFAULTS.but(timeout=1.0))
    assert r.status == "timeout", r.reason
    times = [float(x) for x in ticks.read_text().split()]
    # between the deadline and the look's end (the main process is continued after it, to write
    # its stack, and may tick again then): the first line is written after the interpreter's start
    stopped = [t for t in times if 1.5 < t - times[0] < 3.0]
    if kind == "real":
        assert stopped == [], len(stopped)
    else:
        assert len(stopped) > 30, len(stopped)


# -- fork bombs, bounded by a pids cgroup ---------------------------------------------------
def _pids_group(tmp_name: str, limit: int) -> Path | None:
    """A pids cgroup (v1 hierarchy, or v2 with the controller) with ``limit``; None where none can be made."""
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if not (base / "cgroup.procs").exists() or (base == Path("/sys/fs/cgroup") and
                                                    "pids" not in _read(base / "cgroup.subtree_control")):
            continue
        group = base / tmp_name
        try:
            group.mkdir(exist_ok=True)
            (group / "pids.max").write_text(str(limit))
        except OSError:
            continue
        return group
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


BOMB = """
import os
with open({procs!r}, "w") as f:
    f.write("0")  # this process and every descendant: at most the group's pids
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


@pytest.fixture
def pids_group() -> object:
    if os.geteuid() != 0:
        pytest.skip("needs root for a pids cgroup")
    group = _pids_group(f"kit-test-bomb-{os.getpid()}", 600)
    if group is None:
        pytest.skip("no writable pids cgroup here")
    yield group
    for _ in range(200):  # whatever a failing kit left: killed until the group is empty
        pids = [int(p) for p in _read(group / "cgroup.procs").split()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        time.sleep(0.05)
    group.rmdir()


@pytest.mark.slow
@pytest.mark.parametrize("evidence", ["auto", "psutil"])
def test_a_fork_bomb_is_stopped_and_killed_at_its_deadline(evidence: str, pids_group: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Six hundred processes forking without pause on two cores, timeout 5 s: the kit ends the run
    within a few seconds of its deadline, whatever keeps the run (sampled: every process was read
    again before each kill round; the kill took minutes)."""
    monkeypatch.setenv(runner.EVIDENCE_VAR, evidence)
    script = tmp_path / "bomb.py"
    script.write_text(BOMB.format(procs=str(pids_group / "cgroup.procs")))
    t0 = time.monotonic()
    r = runner.run(script_subject(str(script)), "fork", DEFAULTS.but(timeout=5.0))
    took = time.monotonic() - t0
    assert r.status == "timeout", r.reason
    assert r.evidence == ("psutil" if evidence == "psutil" else "cgroup")
    assert took < 5.0 + 4.0, took
    bomb = int(_read(pids_group / "pids.peak") or 0) or None  # the test's own group, kept by the kernel
    assert bomb is None or bomb > 100, bomb  # it was a bomb (where the kernel has pids.peak)
    if evidence == "auto":  # the run's own group: the kernel's pids.peak of the run
        assert r.peak_processes is not None and r.peak_processes > 100, r.peak_processes
    else:  # the most in one snapshot of a kit the bomb starves: its share of the CPU (59 to 600 of 600 seen
        # here), never more than there were
        assert r.peak_processes is not None and 1 < r.peak_processes <= (bomb or 600), (r.peak_processes, bomb)
    time.sleep(0.5)
    assert _read(pids_group / "cgroup.procs").split() == []


# -- the sampled kill reads no process ------------------------------------------------------
def _observer_of_this_process() -> Observer:
    return Observer(os.getpid(), time.perf_counter_ns())


def test_a_sample_past_its_deadline_reads_no_process() -> None:
    o = _observer_of_this_process()
    o.sample()
    reads: list[int] = []
    real = o._sample_one

    def counting(seen: object, now: int) -> bool:
        reads.append(1)
        return real(seen, now)  # type: ignore[arg-type]

    o._sample_one = counting  # type: ignore[method-assign]
    o.sample(deadline=time.perf_counter() - 1.0)
    assert reads == []
    o.sample()  # the broken variant: no deadline, every process read
    assert reads


def test_kill_all_names_the_tree_without_reading_cpu_or_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree a kill names is membership only; reading each process's CPU and memory there is
    what made a fork bomb's kill take minutes under sampled evidence."""
    o = Observer(os.getpid(), time.perf_counter_ns())
    reads: list[int] = []
    def counting(self: Observer, seen: object, now: int) -> bool:
        reads.append(1)
        return True

    monkeypatch.setattr(Observer, "_sample_one", counting)
    monkeypatch.setattr(_platform, "kill_process_tree", lambda find, **kw: [p.pid for p in find()])
    o.kill_all()
    assert reads == []
    o.sample()  # what the kill used to do first
    assert reads
