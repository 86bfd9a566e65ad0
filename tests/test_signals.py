"""Never lose control of a run: signals to the kit, a kit killed outright, scripts that fight back.

Each test starts ``python -m kit`` as a user would, with a script whose processes would
outlive a careless kit, then checks that the kit ends, says so, writes what it finished,
and that no process of the run is left (every process started here carries this session's
marker, so an escaped one is found wherever it re-parented; the leftover fixture also fails
the test).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import POSIX, our_processes, reap_children, reap_zombie_children

pytestmark = [pytest.mark.skipif(not POSIX, reason="POSIX signals"), pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent

SLEEPY = """
import time
from multiprocessing import Process

def nap():
    time.sleep(60)

if __name__ == "__main__":
    p = Process(target=nap)
    p.start()
    print("started", p.pid, flush=True)
    p.join()
"""

KILLS_ITS_PARENT = """
import os, signal, time
from multiprocessing import Process

def nap():
    time.sleep(60)

if __name__ == "__main__":
    Process(target=nap).start()
    time.sleep(0.5)
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(60)
"""

STOPS_ITS_PARENT = """
import os, signal
if __name__ == "__main__":
    os.kill(os.getppid(), signal.SIGSTOP)
    print("stopped my parent", flush=True)
"""

ZOMBIE_LEADER = """
import ctypes, threading, time
threading.Thread(target=time.sleep, args=(30,)).start()
ctypes.CDLL(None).pthread_exit(None)
"""


def script(tmp_path: Path, text: str, name: str = "s.py") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def kit(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kit", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")


def wait_until_running(proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    """Until the run's script has a child (a python process, not the kit nor the guardian)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [p for p in our_processes().values()
                if any(word in " ".join(_cmd(p)) for word in ("kit.launcher", "multiprocessing.spawn"))]
        if len(runs) >= 2:  # the launcher and its first child (a fork child has the launcher's command line)
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    seen = [" ".join(_cmd(p))[:80] for p in our_processes().values()]
    raise AssertionError(f"the run never started its child in {timeout} s; this session's processes: {seen}")


def _cmd(p: object) -> list[str]:
    try:
        return p.cmdline()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - gone meanwhile
        return []


def nothing_left(within: float, guardians: bool = False) -> list[str]:
    """Poll until no process of this session is alive (``guardians``: a killed kit's guardian too,
    which exits once it has killed the run); what is left.
    Dead children of pytest (the run of a killed kit, re-parented here: pytest is a subreaper once
    any in-process run() happened) are collected, so that none stays a zombie."""
    deadline = time.monotonic() + within
    while True:
        reap_zombie_children()
        left = [p for p in our_processes(guardians).values() if p.pid != os.getpid()]
        alive = []
        for p in left:
            try:
                if p.status() != "zombie":
                    alive.append(f"{p.pid} {' '.join(_cmd(p))[:100]}")
            except Exception:  # noqa: BLE001
                pass
        if not alive:
            for _ in range(50):  # the last ones may turn into zombies just now
                reap_zombie_children()
                if not our_processes(guardians):
                    break
                time.sleep(0.02)
            return []
        if time.monotonic() > deadline:
            reap_children(left)
            return alive
        time.sleep(0.05)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_ends_the_run_writes_it_and_leaves_nothing(tmp_path: Path, signum: int, status: int) -> None:
    out = tmp_path / "r.json"
    proc = kit("run", script(tmp_path, SLEEPY), "--method", "fork", "--json", str(out))
    wait_until_running(proc)
    t0 = time.monotonic()
    proc.send_signal(signum)
    if signum == signal.SIGINT:  # a second Ctrl-C 30 ms later must not cut the clean-up short
        time.sleep(0.03)
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=8)
    assert time.monotonic() - t0 < 8
    assert proc.returncode == status, err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    (cell,) = json.loads(out.read_text(encoding="utf-8"))
    assert cell["status"] == "interrupted" and cell["method"] == "fork"
    assert nothing_left(5) == []


def test_a_matrix_stopped_by_sigterm_keeps_its_finished_cells(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    proc = kit("matrix", "--targets", "host", "--examples", "hello", "event", "--methods", "fork", "--json", str(out),
               "--jobs", "1")
    deadline = time.monotonic() + 30
    while "kit.examples.event" not in " ".join(" ".join(_cmd(p)) for p in our_processes().values()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=8)
    assert proc.returncode == 143
    cells = {(c["example"], c["status"]) for c in json.loads(out.read_text(encoding="utf-8"))}
    assert cells == {("hello", "pass"), ("event", "interrupted")}
    assert nothing_left(5) == []


def test_overlapping_cells_stopped_by_sigterm_all_end_and_are_written(tmp_path: Path) -> None:
    """Cells running side by side when SIGTERM comes: every one ends (interrupted, or passed if it
    was ending), each is in the JSON once, the cells never started are written as not run, and
    nothing is left."""
    out = tmp_path / "m.json"
    proc = kit("matrix", "--targets", "host", "--examples", "event", "lock", "semaphore", "hello", "join",
               "--methods", "spawn", "--json", str(out), "--jobs", "2")
    deadline = time.monotonic() + 30
    while "kit.examples.event" not in " ".join(" ".join(_cmd(p)) for p in our_processes().values()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    time.sleep(0.3)  # the second worker has started its cell
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=8)
    assert proc.returncode == 143
    cells = [(c["example"], c["status"]) for c in json.loads(out.read_text(encoding="utf-8"))]
    assert sorted(e for e, _ in cells) == ["event", "hello", "join", "lock", "semaphore"], cells
    assert ("event", "interrupted") in cells, cells
    assert {s for _, s in cells} <= {"pass", "interrupted"}, cells
    assert nothing_left(5) == []


@pytest.mark.parametrize("evidence", ["auto", "psutil"])
def test_sigkill_of_the_kit_leaves_nothing_behind(tmp_path: Path, evidence: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """No clean-up runs in a SIGKILLed kit: its guardian sees the kit's pipe close and kills the run
    (its cgroup where there is one, else its process group), then removes the run's temporary
    folder.  Broken variant (the folder not registered): the kit's folder stays in TMPDIR."""
    monkeypatch.setenv("KIT_EVIDENCE", evidence)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the kit's temporary folders, and the run's
    proc = kit("run", script(tmp_path, SLEEPY), "--method", "spawn")
    wait_until_running(proc)
    assert [p.name for p in temp.iterdir() if p.name.startswith("kit-")]  # the run's folder, while it runs
    proc.kill()
    proc.communicate(timeout=5)
    assert nothing_left(5, guardians=True) == []  # the guardian too: it must not end after the check
    assert not [p.name for p in temp.iterdir() if p.name.startswith("kit-")]


def test_without_a_guardian_a_sigkilled_kit_would_leave_the_run(tmp_path: Path) -> None:
    """The broken variant: the same kill with no guardian watching leaves the run's processes alive
    -- which is what the guardian prevents.  (psutil evidence: a stale cgroup would be removed by
    the next kit that starts a run, maybe another one on this machine, and hide the point.)"""
    code = ("import sys, kit.runner as r\n"
            "class Blind:\n"
            "    proc = type('P', (), {'poll': staticmethod(lambda: None), 'pid': -1})()\n"
            "    def add(self, kind, values): return 'k'\n"
            "    def done(self, key): pass\n"
            "r._guardian = Blind()\n"
            "from kit.cli import main\n"
            f"sys.exit(main(['run', {script(tmp_path, SLEEPY)!r}, '--method', 'fork']))\n")
    temp = tmp_path / "tmp"  # the blind kit's folder stays: in pytest's folder, not the machine's
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "KIT_EVIDENCE": "psutil", "TMPDIR": str(temp)})
    wait_until_running(proc)  # type: ignore[arg-type]
    proc.kill()
    proc.communicate(timeout=5)
    time.sleep(1)
    assert nothing_left(0) != [], "the run died without a guardian: this test no longer shows anything"


@pytest.mark.parametrize("kill", ["os.kill(os.getppid(), signal.SIGKILL)",
                                  "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)"], ids=["parent", "its_group"])
def test_a_script_that_kills_its_parent_does_not_reach_the_kit(tmp_path: Path, kill: str) -> None:
    """Its parent is the kit's relay, in a session of its own: the kit survives, stops the run at
    once, says why and writes it."""
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    text = KILLS_ITS_PARENT.replace("os.kill(os.getppid(), signal.SIGKILL)", kill)
    proc = kit("run", script(tmp_path, text), "--method", "fork", "--timeout", "30", "--json", str(out))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err  # a failed cell, not a killed kit
    assert time.monotonic() - t0 < 10  # not the 60 s the script sleeps, nor the 30 s timeout
    (r,) = json.loads(out.read_text(encoding="utf-8"))
    if "killpg" in kill:  # the relay's group is the run's: the script killed itself with it
        assert r["status"] == "fail" and r["exitcode"] == -signal.SIGKILL, r["reason"]
    else:
        assert r["status"] == "fail" and "killed its parent (the kit's relay" in r["reason"], r["reason"]
        assert r["exitcode"] is None  # the main process's own end is unknown: it was killed by the kit
    assert nothing_left(5) == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP: POSIX")
def test_a_script_that_stops_its_parent_still_gets_its_own_verdict(tmp_path: Path) -> None:
    """A stopped relay cannot reap the main process nor say how it ended: the kit resumes it
    (it was a 'timeout' after the whole --timeout, though the script had ended at once)."""
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    proc = kit("run", script(tmp_path, STOPS_ITS_PARENT), "--method", "fork", "--timeout", "20", "--json", str(out))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - t0 < 10
    (r,) = json.loads(out.read_text(encoding="utf-8"))
    assert (r["status"], r["exitcode"]) == ("pass", 0), r["reason"]
    assert nothing_left(5) == []


@pytest.mark.skipif(sys.platform != "linux", reason="pthread_exit via ctypes.CDLL(None): glibc")
def test_a_main_thread_that_exited_does_not_hide_the_main_process(tmp_path: Path) -> None:
    """psutil calls such a leader a zombie; the run still goes on, so it times out and is killed."""
    t0 = time.monotonic()
    proc = kit("run", script(tmp_path, ZOMBIE_LEADER), "--method", "fork", "--timeout", "5", "--json", "-")
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 9, err
    (cell,) = json.loads(out)
    assert cell["status"] == "timeout", cell["reason"]
    assert nothing_left(5) == []


@pytest.mark.parametrize("evidence", ["auto", "psutil"])
def test_the_guardian_is_never_taken_for_an_orphan_of_the_run(evidence: str) -> None:
    """The guardian is the kit's child, started with the first run: under psutil evidence the kit
    adopts its own children found after the run started, and must not count the guardian."""
    r = subprocess.run([sys.executable, "-m", "kit", "run", "hello", "--method", "fork", "--json", "-"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60, encoding="utf-8",
                       env={**os.environ, "KIT_EVIDENCE": evidence})
    (cell,) = json.loads(r.stdout)
    assert cell["status"] == "pass" and cell["orphans"] == [], cell["reason"]
