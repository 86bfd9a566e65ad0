"""The relay between the kit and a run's main process (POSIX): the main process's parent is
the relay, the relay ends exactly as the main process did, and a child that cannot start is an
error the kit sees (as ``Popen(preexec_fn=...)`` raised before)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX: fork"), pytest.mark.slow]

from kit._platform import _relay  # noqa: E402


def started(code: str, join: list[str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    return _relay.start([sys.executable, "-c", code], join or [], stdout=subprocess.PIPE)


@pytest.mark.parametrize("code, want", [("pass", 0), ("raise SystemExit(3)", 3),
                                        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -signal.SIGTERM),
                                        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
                                        ("import os, signal; os.kill(os.getpid(), signal.SIGINT)", -signal.SIGINT)])
def test_the_relay_ends_as_the_main_process_did(code: str, want: int) -> None:
    """Including SIGKILL (no handler can be set for it) and SIGINT (the relay itself ignores it)."""
    proc, main = started("import signal; signal.signal(signal.SIGINT, signal.SIG_DFL); " + code)
    assert main != proc.pid
    proc.communicate(timeout=20)
    assert proc.returncode == want


def test_the_main_process_parent_is_the_relay_whose_session_and_group_are_known_at_once() -> None:
    """The run's process group is the relay's, given to ``on_started`` before the main process
    exists (the guardian is told then), and never the caller's."""
    told: list[int] = []
    proc, main = _relay.start([sys.executable, "-c", "import os; print(os.getppid(), os.getsid(0), os.getpgid(0))"],
                              [], told.append, stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=20)
    ppid, sid, pgid = (int(x) for x in out.split())
    assert ppid == proc.pid != os.getpid()
    assert sid == pgid == proc.pid == told[0] != os.getpgid(0)  # a terminal's Ctrl-C reaches the kit only


def test_the_relay_gives_up_the_run_s_pipes() -> None:
    """The run's stdout ends when the run's processes close it, not when the relay ends."""
    proc, _ = started("import os; os.close(1); import time; time.sleep(0.5)")
    assert proc.stdout is not None
    assert proc.stdout.read() == b""  # EOF although the main process (and the relay) still run
    assert proc.poll() is None
    proc.wait(timeout=20)


def test_a_child_that_cannot_join_its_group_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-group" / "cgroup.procs"
    with pytest.raises(subprocess.SubprocessError, match="No such file"):
        started("print('never')", join=[str(missing)])


def test_the_child_joins_not_the_relay(tmp_path: Path) -> None:
    """The child writes "0" (the kernel reads: the writing process) before exec; the relay stays out."""
    procs = tmp_path / "cgroup.procs"
    procs.write_bytes(b"")
    proc, _ = started("pass", join=[str(procs)])
    proc.wait(timeout=20)
    assert procs.read_bytes() == b"0"


@pytest.mark.parametrize("ignored", [False, True])
def test_the_main_process_gets_the_signal_dispositions_the_kit_had(ignored: bool) -> None:
    """The relay ignores SIGHUP and friends for itself only: the main process gets them as the kit
    had them (default, or ignored under nohup)."""
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN if ignored else signal.SIG_DFL)
    try:
        proc, _ = started("import signal; print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, flush=True)")
        out, _ = proc.communicate(timeout=20)
    finally:
        signal.signal(signal.SIGHUP, old)
    assert out.decode().strip() == str(ignored)
