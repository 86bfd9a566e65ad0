"""The run's main process is the child of a small relay, not of the kit (POSIX).

Were the kit the main process's parent, a script's ``os.kill(os.getppid(), 9)`` would kill the
kit and every result with it (the guardian would still kill the run).  So the parent the script
sees is this relay, started by the kit for each run::

    kit ── relay (this file, python -I -S) ── main process of the run ── its children

The relay starts in a session of its own, so its process group is the run's: known (the
relay's pid) as soon as the relay is started, before the main process exists, and never the
kit's (a terminal's Ctrl-C, or a script's ``os.killpg(os.getpgid(os.getppid()), ...)``, does
not reach the kit).  The relay forks once.  The child joins the run's cgroups (``--join``:
each ``cgroup.procs`` gets "0", the writing process) and execs the run's command.  The relay
itself stays outside the run's cgroups, so the run's CPU time and process count are the
run's alone; it reports the
child's pid to the kit on ``REPORT_FD`` (or why the child could not start), gives up its
stdout and stderr (the run's pipes end when the run's processes close them), waits
for the child and ends the way it ended: the same exit code, or killed by the same signal, so
``Popen.returncode`` of the relay is the main process's own.

A script that kills its parent kills the relay: the kit sees it end while the main
process lives on, kills the run and says so; the kit itself is not reached.  The relay
ignores the terminal's and a CI's signals (the kit ends the run; the relay ends with it).
Standard library only, no kit import: it starts about as fast as bare Python, like the guardian.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # the relay imports os, sys and _signal only: it starts as fast as bare Python
if TYPE_CHECKING:
    import signal
    import subprocess
    from collections.abc import Callable
else:
    try:  # the C module under ``signal``: the same calls without importing enum (a cost at every run's start)
        import _signal as signal
    except ImportError:  # pragma: no cover - another implementation
        import signal

_IGNORED = ("SIGINT", "SIGHUP", "SIGTERM", "SIGQUIT")


def start(argv: list[str], join: list[str], on_started: Callable[[int], None] | None = None,
          **popen: object) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` under a relay: (the relay's Popen, the main process's pid).

    ``on_started(pgid)`` is called as soon as the relay is started, before the main process
    exists: the run's process group, for the guardian.  Raises ``subprocess.SubprocessError``
    when the child could not join ``join`` or exec (the relay is waited for first), as
    ``Popen(preexec_fn=...)`` did.
    """
    import subprocess  # the kit's side only

    r, w = os.pipe()
    try:
        relay = [sys.executable, "-I", "-S", _compiled(os.path.abspath(__file__)), str(w)]
        relay += [f"--join={path}" for path in join] + ["--", *argv]
        proc = subprocess.Popen(relay, pass_fds=(w,), start_new_session=True, **popen)  # type: ignore[call-overload]
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    try:
        if on_started is not None:
            on_started(proc.pid)  # its session's process group: the run's
        with os.fdopen(r, "rb") as fh:
            report = fh.read().decode("utf-8", "replace")  # ends when the relay and its child closed it
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    lines = report.splitlines()
    errors = [line[len("error "):] for line in lines if line.startswith("error ")]
    pids = [int(line[len("pid "):]) for line in lines if line.startswith("pid ")]
    if errors or not pids:
        proc.wait()
        raise subprocess.SubprocessError(errors[0] if errors else f"the relay said nothing (exit {proc.returncode})")
    return proc, pids[0]


def _compiled(source: str) -> str:
    """The relay's bytecode where it is current for ``source`` (a timestamp-checked ``.pyc`` of
    this interpreter, as ``runner.warm_bytecode`` writes), else ``source``: run as a script, the
    source would be compiled again at every run's start."""
    import importlib.util  # the kit's side only

    try:
        cached = importlib.util.cache_from_source(source)
        stat = os.stat(source)
        with open(cached, "rb") as fh:
            head = fh.read(16)
    except (OSError, NotImplementedError, ValueError):
        return source
    flags, mtime, size = (int.from_bytes(head[i:i + 4], "little") for i in (4, 8, 12))
    current = (head[:4] == importlib.util.MAGIC_NUMBER and flags == 0 and mtime == int(stat.st_mtime) & 0xFFFFFFFF
               and size == stat.st_size & 0xFFFFFFFF)
    return cached if current else source


def _child(report: int, join: list[str], argv: list[str], inherited: dict[int, bool]) -> None:
    """In the forked child: the signals the relay ignores back as the relay got them
    (``inherited``: ignored or not), join, exec; on failure say why on ``report``."""
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 skips the rest)
        raise OSError("no fork on Windows")
    for signum, ignored in inherited.items():
        signal.signal(signum, signal.SIG_IGN if ignored else signal.SIG_DFL)
    try:
        for path in join:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        os.execv(argv[0], argv)  # report is close-on-exec: the kit's read ends here
    except OSError as exc:
        os.write(report, f"error {exc.strerror or exc} ({getattr(exc, 'filename', '') or argv[0]})\n".encode())
    os._exit(127)


def _mirror(status: int) -> None:
    """End as the child ended: its exit code, or its signal (no core file of the relay)."""
    if sys.platform == "win32":
        raise OSError("no fork on Windows")
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        os._exit(code)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    try:  # noqa: SIM105 - contextlib is not imported here (start-up cost)
        signal.signal(-code, signal.SIG_DFL)  # the relay ignores some signals; SIGKILL cannot be set
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), -code)
    os._exit(128 - code)  # a signal that does not end a process by default


def main(args: list[str]) -> None:
    if sys.platform == "win32":
        raise OSError("no fork on Windows")
    report = int(args[0])
    sep = args.index("--")
    options, argv = args[1:sep], args[sep + 1:]
    join = [o[len("--join="):] for o in options if o.startswith("--join=")]
    os.set_inheritable(report, False)  # closed by the child's exec
    inherited = {}
    for name in _IGNORED:  # before the fork: no moment where a Ctrl-C kills the relay, not its child
        signum = getattr(signal, name)
        inherited[signum] = signal.getsignal(signum) == signal.SIG_IGN
        signal.signal(signum, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        _child(report, join, argv, inherited)
    os.write(report, f"pid {pid}\n".encode())
    os.close(report)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the run's pipes are the run's: they end when its processes close them
        os.dup2(devnull, fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
    _mirror(status)


if __name__ == "__main__":
    main(sys.argv[1:])
