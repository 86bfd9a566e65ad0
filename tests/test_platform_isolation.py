"""What differs between operating systems lives in kit/_platform only (as psutil's _ps*.py)."""
from __future__ import annotations

import re
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent / "kit"
# POSIX-only calls, and platform tests that would sprinkle OS differences around.
FORBIDDEN = re.compile(r"\bos\.(fork|killpg|getpgid|setsid|waitpid|WNOHANG)\b|\bsignal\.SIG(KILL|STOP|CONT)\b"
                       r"|\bprctl\b|(?<!_platform)\.cpu_num\(|\bsys\.platform\b|\bos\.name\b|\bplatform\.system\(\)"
                       r"|[\"']/proc/")
ALLOWED = {
    "results.py": {"platform.system()"},  # describing where a run happened is not branching on it
    "_bench_measure.py": {"platform.system()"},  # nor where a benchmark ran
    # Examples that demonstrate an OS-specific call must make it.  kit/examples/_support.py is the one
    # place the pitfall examples keep their OS differences (kill_self: SIGKILL / TerminateProcess;
    # die_with: Linux prctl(PR_SET_PDEATHSIG), a watchdog elsewhere); fork_buffered_output.py shows
    # what a raw os.fork() does to buffered output (its Windows cell expects "no os.fork").
    "_support.py": {"sys.platform", "signal.SIGKILL", "prctl", '"/proc/'},  # and private_bytes: smaps_rollup
    "fork_buffered_output.py": {"os.fork", "os.waitpid"},
    # The pytest plugin runs inside the project's interpreter from the staged runtime (kit.runtime):
    # standard library only, it cannot import kit._platform (psutil).  Its one Linux read, a test
    # process's children (/proc/self/task/*/children), falls back to nothing elsewhere.
    "_pytest_plugin.py": {'"/proc/'},
    # The probe too runs in the user's interpreter, in every process of a run: its one Linux read, the
    # threads of a process about to fork (/proc/self/task), falls back to Python's threads elsewhere.
    "probe.py": {'"/proc/'},
}


def offences(path: Path, text: str) -> list[str]:
    allowed = ALLOWED.get(path.name, set())
    return [f"{path.name}:{n}: {m.group(0)}" for n, line in enumerate(text.splitlines(), 1)
            for m in FORBIDDEN.finditer(line) if m.group(0) not in allowed and not line.lstrip().startswith("#")]


def test_no_platform_specific_call_outside_kit_platform() -> None:
    found = [o for p in KIT.rglob("*.py") if "_platform" not in p.parts
             for o in offences(p, p.read_text(encoding="utf-8"))]
    assert found == []


def test_the_scan_catches_a_posix_call() -> None:
    """A broken variant: a killpg in the runner would be caught."""
    assert offences(KIT / "runner.py", "    os.killpg(pgid, signal.SIGKILL)\n") == [
        "runner.py:1: os.killpg", "runner.py:1: signal.SIGKILL"]
    assert offences(KIT / "observer.py", "if sys.platform == 'win32':\n") == ["observer.py:1: sys.platform"]
    assert offences(KIT / "observer.py", "cpus.add(proc.cpu_num())\n") == ["observer.py:1: .cpu_num("]
    assert offences(KIT / "observer.py", "cpu = _platform.cpu_num(proc)\n") == []
    assert offences(KIT / "suite.py", 'open("/proc/self/stat")\n') == ['suite.py:1: "/proc/']
