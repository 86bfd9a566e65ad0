"""The relay between the kit and a run's main process (POSIX): the main process's parent is
the relay, the relay ends exactly as the main process did, and a child that cannot start is an
error the kit sees (as ``Popen(preexec_fn=...)`` raised before).  Every test runs both ways: a
relay of its own, and a relay forked by the kit process's relay server (Linux)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX: fork"), pytest.mark.slow]

from kit._platform import RunProcess, _relay  # noqa: E402

WAYS = [False, *([True] if sys.platform == "linux" else [])]


@pytest.fixture(params=WAYS, ids=lambda served: "served" if served else "own")
def served(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def started(code: str, served: bool, join: list[str] | None = None, on_started: Callable[[int], None] | None = None,
            ) -> tuple[RunProcess, int, IO[bytes]]:
    """(the relay, the main pid, the read end of the main process's stdout)."""
    r, w = os.pipe()
    try:
        proc, main = _relay.start([sys.executable, "-c", code], join or [], on_started, served, stdout=w)
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    assert type(proc).__name__ == ("Relayed" if served else "Popen")
    return proc, main, os.fdopen(r, "rb")


def finished(code: str, served: bool) -> tuple[RunProcess, bytes]:
    proc, _, out = started(code, served)
    with out:
        data = out.read()
    proc.wait(timeout=20)
    return proc, data


@pytest.mark.parametrize("code, want", [("pass", 0), ("raise SystemExit(3)", 3),
                                        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -signal.SIGTERM),
                                        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
                                        ("import os, signal; os.kill(os.getpid(), signal.SIGINT)", -signal.SIGINT)])
def test_the_relay_ends_as_the_main_process_did(code: str, want: int, served: bool) -> None:
    """Including SIGKILL (no handler can be set for it) and SIGINT (the relay itself ignores it)."""
    proc, _ = finished("import signal; signal.signal(signal.SIGINT, signal.SIG_DFL); " + code, served)
    assert proc.returncode == want


def test_the_main_process_parent_is_the_relay_whose_session_and_group_are_known_at_once(served: bool) -> None:
    """The run's process group is the relay's, given to ``on_started`` before the main process
    exists (the guardian is told then), and never the caller's."""
    told: list[int] = []
    proc, main, out = started("import os; print(os.getpid(), os.getppid(), os.getsid(0), os.getpgid(0))", served,
                              on_started=told.append)
    with out:
        pid, ppid, sid, pgid = (int(x) for x in out.read().split())
    proc.wait(timeout=20)
    assert pid == main != proc.pid
    assert ppid == proc.pid != os.getpid()
    assert sid == pgid == proc.pid == told[0] != os.getpgid(0)  # a terminal's Ctrl-C reaches the kit only


def test_the_relay_gives_up_the_run_s_pipes(served: bool) -> None:
    """The run's stdout ends when the run's processes close it, not when the relay ends."""
    proc, _, out = started("import os; os.close(1); import time; time.sleep(0.5)", served)
    with out:
        assert out.read() == b""  # EOF although the main process (and the relay) still run
    assert proc.poll() is None
    proc.wait(timeout=20)


def test_a_child_that_cannot_join_its_group_is_an_error(tmp_path: Path, served: bool) -> None:
    missing = tmp_path / "no-such-group" / "cgroup.procs"
    with pytest.raises(subprocess.SubprocessError, match="No such file"):
        started("print('never')", served, join=[str(missing)])


def test_a_missing_working_folder_is_the_error_popen_raised(tmp_path: Path, served: bool) -> None:
    with pytest.raises(FileNotFoundError):
        _relay.start([sys.executable, "-c", "pass"], [], None, served, cwd=str(tmp_path / "gone"))


def test_the_child_joins_not_the_relay(tmp_path: Path, served: bool) -> None:
    """The child writes "0" (the kernel reads: the writing process) before exec; the relay stays out."""
    procs = tmp_path / "cgroup.procs"
    procs.write_bytes(b"")
    proc, _, out = started("pass", served, join=[str(procs)])
    out.close()
    proc.wait(timeout=20)
    assert procs.read_bytes() == b"0"


@pytest.mark.parametrize("ignored", [False, True])
def test_the_main_process_gets_the_signal_dispositions_the_kit_had(ignored: bool, served: bool) -> None:
    """The relay ignores SIGHUP and friends for itself only: the main process gets them as the kit
    had them (default, or ignored under nohup), not as the relay server has them (ignored)."""
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN if ignored else signal.SIG_DFL)
    try:
        _, out = finished("import signal; print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, flush=True)", served)
    finally:
        signal.signal(signal.SIGHUP, old)
    assert out.decode().strip() == str(ignored)


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_a_killed_server_s_relays_still_end_and_a_new_server_serves_the_next_run() -> None:
    """The server is the relays' parent: killed (SIGKILL), it can no longer say how they end.  A
    relay it forked is still known to end (its pidfd), and the next run gets a new server."""
    proc, _, out = started("import time; time.sleep(0.5)", True)
    out.close()
    first = _relay.server_pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert proc.wait(timeout=20) in (0, -signal.SIGKILL)  # 0 where we adopted it (a subreaper): its real end
    proc, data = finished("print('again')", True)
    assert data == b"again\n" and proc.returncode == 0
    assert _relay.server_pid() not in (None, first)


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_an_environment_larger_than_the_server_reads_gets_a_relay_of_its_own() -> None:
    """A CI's environment can be tens of KiB; this one is 1.2 MiB: started the old way, not cut."""
    big = {**os.environ, **{f"KIT_TEST_BIG{i}": "x" * 60_000 for i in range(20)}}
    code = "import os; print(sum(len(v) for k, v in os.environ.items() if k.startswith('KIT_TEST_BIG')))"
    r, w = os.pipe()
    try:
        proc, _ = _relay.start([sys.executable, "-c", code], [], None, True, env=big, stdout=w)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as out:
        assert out.read().strip() == b"1200000"
    assert type(proc).__name__ == "Popen" and proc.wait(timeout=20) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_a_pipe_to_create_gets_a_relay_of_its_own() -> None:
    """``stdout=PIPE`` asks for a pipe only Popen makes: the old way, with its ``stdout``."""
    proc, _ = _relay.start([sys.executable, "-c", "print('piped')"], [], None, True, stdout=subprocess.PIPE)
    assert type(proc).__name__ == "Popen"
    out, _ = proc.communicate(timeout=20)  # type: ignore[attr-defined]
    assert out == b"piped\n"


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_a_forked_kit_process_gets_a_server_of_its_own_and_leaves_its_parent_s_alone() -> None:
    """A child of the kit sharing its server's socket would wait forever for answers its parent's
    reader takes, and its exit (atexit) would end the parent's server."""
    _, data = finished("print('before')", True)
    server = _relay._Served._current
    assert server is not None and data == b"before\n"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's verdict is its exit code
        code = 1
        signal.alarm(20)  # the broken variant waits forever: the alarm ends it, and the test fails
        try:
            server.close()  # what atexit does at the child's exit
            proc, out = finished("print('child')", True)
            code = 0 if out == b"child\n" and _relay.server_pid() not in (None, server.proc.pid) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    proc, _ = finished("raise SystemExit(3)", True)
    assert proc.returncode == 3 and _relay.server_pid() == server.proc.pid and not server.dead


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_without_pidfds_each_run_gets_a_relay_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A served relay could be neither waited for nor signalled safely without its pidfd."""
    def refused(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(_relay._Served, "_current", None)
    monkeypatch.setattr(os, "pidfd_open", refused)
    proc, _ = _relay.start([sys.executable, "-c", "pass"], [], None, True)
    assert type(proc).__name__ == "Popen" and proc.wait(timeout=20) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_a_removed_working_folder_of_the_kit_still_starts_the_run(tmp_path: Path, served: bool) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    here = Path.cwd()
    os.chdir(gone)
    try:
        gone.rmdir()
        proc, data = finished("print('ran')", served)
    finally:
        os.chdir(here)
    assert data == b"ran\n" and proc.returncode == 0


def test_an_environment_popen_refuses_is_its_error(served: bool) -> None:
    with pytest.raises(ValueError):
        _relay.start([sys.executable, "-c", "pass"], [], None, served, env={"A=B": "1"})


@pytest.mark.skipif(sys.platform != "linux", reason="the relay server is Linux's")
def test_the_kit_holds_the_relay_s_own_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay opens its pidfd and sends it with "started": the kit never opens one by pid, so a
    relay that ended and whose pid was reused can never be mistaken for the stranger (the broken
    variant, opening it by pid in the kit, had none here and could not kill the relay)."""
    finished("pass", True)  # a server runs

    def refused(pid: int) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "pidfd_open", refused)
    proc, main, out = started("import time; time.sleep(30)", True)
    out.close()
    pidfd = getattr(proc, "_pidfd", None)
    assert pidfd is not None
    assert f"Pid:\t{proc.pid}\n" in Path(f"/proc/self/fdinfo/{pidfd}").read_text()
    proc.kill()
    assert proc.wait(timeout=20) == -signal.SIGKILL
    os.kill(main, signal.SIGKILL)  # the relay's end does not end the run: the kit's clean-up does
