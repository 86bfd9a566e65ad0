"""A small process that kills the runs in progress when the kit dies, however it dies.

SIGKILL or an OOM kill end the kit with no chance to clean up (a script that kills its parent
reaches the relay, ``_relay``, not the kit, except on Windows); the run would then live on
under init with no timeout.  The
guardian is started once per kit process, in its own session (a terminal's Ctrl-C does not
reach it), and reads a pipe from the kit: ``add KEY KIND VALUE...`` when a run starts, ``done
KEY`` when the kit has cleaned it up.  End-of-file on that pipe means the kit is gone (the
kernel closes a dead process's pipes), and the guardian kills every run still registered:

* ``cgroup DIR...``: the run's cgroups (``cgroup.kill``, then SIGKILL to every pid the group
  still lists, until it is empty): nothing of the run escapes;
* ``pgid PID``: the run's main process and its process group (where no cgroup is usable:
  a process that left the group with ``setsid`` escapes; the README says so);
* ``folder DIR``: the run's temporary folder (its events), removed once every run is killed.

The guardian runs as ``python -I -S kit/_platform/_guardian.py``: the standard library only,
started about as fast as bare Python, and no kit import that could fail.  (Windows has no process
groups of this kind and no cgroups: there a Job Object would do this; not built yet.)
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from typing import IO
import contextlib
import itertools

_KILL_ROUNDS = 100
_ROUND_S = 0.05
_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def _pids(folder: str) -> list[int]:
    try:
        with open(os.path.join(folder, "cgroup.procs")) as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


def _kill_pid(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, _SIGKILL)


def kill_cgroups(folders: list[str]) -> None:
    for folder in folders:
        try:
            with open(os.path.join(folder, "cgroup.kill"), "w") as fh:
                fh.write("1")
        except OSError:
            pass
    for _ in range(_KILL_ROUNDS):
        left = [pid for folder in folders for pid in _pids(folder)]
        if not left:
            return
        for pid in left:
            _kill_pid(pid)
        time.sleep(_ROUND_S)


def kill_group(pid: int, leader: bool = True) -> None:
    """SIGKILL the process group led by ``pid`` (the run's, started in a session of its own) and,
    with ``leader``, ``pid`` itself; where there are no process groups, ``pid`` only."""
    killpg = getattr(os, "killpg", None)
    if killpg is not None:
        with contextlib.suppress(OSError):
            killpg(pid, _SIGKILL)
    if leader or killpg is None:
        _kill_pid(pid)


def stop_group(pgid: int) -> bool:
    """SIGSTOP every process of the group ``pgid`` at once (the run's, led by its relay): a fork
    bomb stops forking and spinning, so the kit is no longer starved while it names and kills
    the tree (a fork the signal interrupts is restarted by the kernel, the child stopped too).
    False where there are no process groups, or the group is gone."""
    killpg, sigstop = getattr(os, "killpg", None), getattr(signal, "SIGSTOP", None)
    if killpg is None or sigstop is None:
        return False
    try:
        killpg(pgid, sigstop)
    except OSError:
        return False
    return True


def continue_group(pgid: int) -> None:
    """SIGCONT every process of the group ``pgid`` (undoes ``stop_group``); nothing where there are
    no process groups."""
    killpg, sigcont = getattr(os, "killpg", None), getattr(signal, "SIGCONT", None)
    if killpg is not None and sigcont is not None:
        with contextlib.suppress(OSError):
            killpg(pgid, sigcont)


def serve(control: IO[bytes]) -> None:
    """Follow the kit's commands until end-of-file, then kill what is still registered."""
    runs: dict[str, tuple[str, list[str]]] = {}
    for raw in control:
        parts = raw.decode("utf-8", "replace").split()
        if len(parts) >= 3 and parts[0] == "add":
            runs[parts[1]] = (parts[2], parts[3:])
        elif len(parts) == 2 and parts[0] == "done":
            runs.pop(parts[1], None)
    for kind, values in runs.values():
        if kind == "cgroup":
            kill_cgroups(values)
        elif kind == "pgid" and values and values[0].isdigit():
            kill_group(int(values[0]))
    for kind, values in runs.values():  # after the kills: nothing of a run writes there any more
        if kind == "folder":
            for folder in values:
                shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    for name in ("SIGINT", "SIGHUP", "SIGTERM"):  # only the kit's end (end-of-file) ends us
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)
    serve(sys.stdin.buffer)


class Guardian:
    """The kit's side: start the guardian, register runs, and (by exiting) release it."""

    def __init__(self) -> None:
        from kit._platform import new_group_kwargs  # its own session: a terminal's Ctrl-C does not reach it

        self.proc: subprocess.Popen[bytes] = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True, **new_group_kwargs(),
        )
        self._seq = itertools.count(1)  # next() is atomic: runs register from several threads

    def _send(self, line: str) -> None:
        stdin = self.proc.stdin
        if stdin is None:
            return
        try:
            stdin.write(line.encode() + b"\n")
            stdin.flush()
        except (OSError, ValueError):  # the guardian died: runs are still cleaned up by the kit itself
            pass

    def add(self, kind: str, values: list[str]) -> str:
        """Register a run (``cgroup`` with its folders, ``pgid`` with its main pid) or its temporary
        ``folder``; returns its key."""
        key = f"r{next(self._seq)}"
        if values and not any(len(v.split()) != 1 for v in values):  # one word each: the line's format
            self._send(" ".join(["add", key, kind, *values]))
        return key

    def done(self, key: str) -> None:
        self._send(f"done {key}")

    def close(self) -> None:
        """Release the guardian (nothing registered is killed after ``done``)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    main()
