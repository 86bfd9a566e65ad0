"""The run's main process is the child of a small relay, not of the kit (POSIX).

Were the kit the main process's parent, a script's ``os.kill(os.getppid(), 9)`` would kill the
kit and every result with it (the guardian would still kill the run).  So the parent the script
sees is a relay, one per run.  On Linux this kit process's relay server forks it; elsewhere
each relay is an interpreter of its own::

    Linux:  kit ── relay server (this file --serve) ── relay (a fork) ── main process ── its children
    other:  kit ── relay (this file, python -I -S) ── main process of the run ── its children

The relay is in a session of its own, so its process group is the run's: known (the relay's
pid) as soon as the relay exists, before the main process does, and never the kit's (a
terminal's Ctrl-C, or a script's ``os.killpg(os.getpgid(os.getppid()), ...)``, does not reach
the kit).  The relay forks once.  The child joins the run's cgroups (each ``cgroup.procs``
gets "0", the writing process) and execs the run's command.  The relay itself stays outside
the run's cgroups, so the run's CPU time and process count are the run's alone; it reports
the child's pid to the kit on a pipe (or why the child could not start), gives up its stdout
and stderr (the run's pipes end when the run's processes close them), waits for the child
and ends the way it ended: the same exit code, or killed by the same signal, so the relay's
``returncode`` is the main process's own.

Why a server: a relay of its own is an interpreter's start for every run (``python -I -S``,
more than ten milliseconds of CPU, and as long before the main process exists); a fork of the
small, single-threaded server costs about one.  The kit sends the server the run's argv,
environment, working folder and signal dispositions, and its descriptors (``SCM_RIGHTS``); the
server forks, says the relay's pid, reaps relays and says how each ended.  The kit's side of a
served relay is a ``Relayed`` (``Popen``'s ``pid``, ``returncode``, ``poll``, ``wait``, ``kill``).

A script that kills its parent kills the relay: the kit sees it end while the main
process lives on, kills the run and says so; the kit itself is not reached.  The relay and the
server ignore the terminal's and a CI's signals (the kit ends the run; the relay ends with it;
the server ends at the kit's end).  Standard library only, no kit import: it starts about as
fast as bare Python, like the guardian.
"""
from __future__ import annotations

import os
import sys

import _thread

TYPE_CHECKING = False  # the relay imports os, sys and _signal only: it starts as fast as bare Python
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
    from typing import Any

    from kit._platform._common import RunProcess
else:
    try:  # the C module under ``signal``: the same calls without importing enum (a cost at every run's start)
        import _signal as signal
    except ImportError:  # pragma: no cover - another implementation
        import signal

_IGNORED = ("SIGINT", "SIGHUP", "SIGTERM", "SIGQUIT")


def start(argv: list[str], join: list[str], on_started: Callable[[int], None] | None = None, served: bool = False,
          **popen: Any) -> tuple[RunProcess, int]:
    """Start ``argv`` under a relay: (the relay, as a ``Popen`` or a ``Relayed``; the main process's pid).

    ``on_started(pgid)`` is called as soon as the relay is started, before the main process
    exists: the run's process group, for the guardian.  Raises ``subprocess.SubprocessError``
    when the child could not join ``join`` or exec (the relay is waited for first), as
    ``Popen(preexec_fn=...)`` did.  ``served``: the relay is forked by this kit process's relay
    server (``serve``), where one runs (else, and for what it cannot pass, a relay of its own).
    """
    import subprocess  # the kit's side only

    server = _Served.get() if served and set(popen) <= _SERVED_ARGS else None
    r, w = os.pipe()
    try:
        if server is not None:
            try:
                proc: RunProcess = server.start(argv, join, w, **popen)
            except _Unserved:
                server = None
        if server is None:
            relay = [sys.executable, "-I", "-S", _compiled(os.path.abspath(__file__)), str(w)]
            relay += [f"--join={path}" for path in join] + ["--", *argv]
            proc = subprocess.Popen(relay, pass_fds=(w,), start_new_session=True, **popen)
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
        cwd = [line.split(" ", 2) for line in lines if line.startswith("cwd ")]
        if cwd:  # as Popen(cwd=...) raised it
            raise OSError(int(cwd[0][1]), os.strerror(int(cwd[0][1])), cwd[0][2])
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


def _child(report: int, join: list[str], argv: list[str], inherited: dict[int, bool],
           env: dict[str, str] | None = None) -> None:
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
        if env is None:
            os.execv(argv[0], argv)  # report is close-on-exec: the kit's read ends here
        else:
            os.execve(argv[0], argv, env)
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


def dispositions() -> dict[int, bool]:
    """Which of the signals a relay ignores for itself this process ignores: the main process gets
    them so (a relay of its own reads them at its start, the kit sends them to the server)."""
    return {getattr(signal, name): signal.getsignal(getattr(signal, name)) == signal.SIG_IGN for name in _IGNORED}


def relay(report: int, join: list[str], argv: list[str], inherited: dict[int, bool],
          env: dict[str, str] | None = None) -> None:
    """Be the relay: fork the child (``_child``), say its pid on ``report``, give up the run's
    pipes, wait for the child and end as it ended.  Never returns."""
    if sys.platform == "win32":
        raise OSError("no fork on Windows")
    os.set_inheritable(report, False)  # closed by the child's exec
    for name in _IGNORED:  # before the fork: no moment where a Ctrl-C kills the relay, not its child
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        _child(report, join, argv, inherited, env)
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


def main(args: list[str]) -> None:
    if args[:1] == ["--serve"]:
        serve(int(args[1]))
        return
    report = int(args[0])
    sep = args.index("--")
    options, argv = args[1:sep], args[sep + 1:]
    join = [o[len("--join="):] for o in options if o.startswith("--join=")]
    relay(report, join, argv, dispositions())


# The relay server (Linux): one per kit process, forks a relay for each run.
#
#   kit ──(socket: a request with the run's descriptors)──> server ── fork ── relay ── main ...
#       <──("started SEQ PID", later "exit PID STATUS CPU_US")────
#
# The server is the relays' parent: it reaps them and tells the kit how each ended (the main
# process's own end, mirrored).  It forks from one thread only (the kit has many).

_MAX_REQUEST = 1 << 20  # an environment of a CI runner is tens of KiB
_SERVED_ARGS = frozenset({"stdin", "stdout", "stderr", "env", "cwd"})


def serve(fd: int) -> None:
    """The server's loop: fork a relay per request on the socket ``fd``, say its pid, reap relays
    and say how each ended; return at the kit's end (end-of-file: the relays live on, each until
    its run ends, as relays of their own would)."""
    if sys.platform == "win32":
        raise OSError("no fork on Windows")
    import marshal
    import selectors
    import socket

    for name in _IGNORED:  # the kit ends the server (end-of-file), not a terminal's Ctrl-C
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    _name(SERVER_NAME)
    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a relay ended: the wake-up descriptor says so
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        sel.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in sel.select():
                if key.fileobj is sock:
                    try:
                        msg, fds, _, _ = socket.recv_fds(sock, _MAX_REQUEST, 4)
                    except OSError:
                        msg, fds = b"", []
                    if not msg:
                        return
                    _fork_relay(sock, marshal.loads(msg), fds)
                else:
                    os.read(wake_r, 4096)
                    _reap(sock)


SERVER_NAME, RELAY_NAME = "kit-relays", "kit-relay"
"""What ``ps`` and ``top`` show for the server and a relay it forked (their command line is the server's)."""


def _name(name: str) -> None:
    try:
        with open("/proc/self/comm", "w") as fh:
            fh.write(name)
    except OSError:  # a kernel without it: the server's name stays
        pass


def _fork_relay(sock: Any, request: tuple[Any, ...], fds: list[int]) -> None:
    if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
        raise OSError("the relay server is Linux's")
    import socket
    seq, argv, join, env, cwd, inherited = request
    try:
        pid = os.fork()
    except OSError as exc:
        sock.send(f"failed {seq} {exc.errno}".encode())
        pid = -1
    if pid == 0:
        try:
            report, *std = fds
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                os.setsid()  # then its pid is the run's process group: only now may the kit tell the guardian
                started = f"started {seq} {os.getpid()}".encode()
                try:
                    me = os.pidfd_open(os.getpid())  # the kit's handle on this relay, whatever becomes of the pid
                except OSError:  # out of descriptors: the kit waits for its end by the server's word alone
                    sock.send(started)
                else:
                    socket.send_fds(sock, [started], [me])
                    os.close(me)
            except OSError as exc:
                sock.send(f"failed {seq} {exc.errno or 5}".encode())
                raise
            _name(RELAY_NAME)
            for target, fd in enumerate(std):
                os.dup2(fd, target)
            os.closerange(3, report)
            os.closerange(report + 1, os.sysconf("SC_OPEN_MAX"))
            if cwd is not None:
                try:
                    os.chdir(cwd)
                except OSError as exc:
                    os.write(report, f"cwd {exc.errno} {cwd}\n".encode())
                    os._exit(127)
            relay(report, join, argv, {int(k): v for k, v in inherited.items()}, env)
        finally:
            os._exit(127)
    for fd in fds:
        os.close(fd)


def _reap(sock: Any) -> None:
    """Every relay that ended: say how, and the CPU it and what it waited for used (the main
    process and its reaped descendants: what ``RUSAGE_CHILDREN`` of its parent counts)."""
    if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
        raise OSError("the relay server is Linux's")
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(f"exit {pid} {status} {round((usage.ru_utime + usage.ru_stime) * 1e6)}".encode())


def warm_up() -> None:
    """Start this kit process's relay server now, not within a run."""
    _Served.get()


def server_pid() -> int | None:
    """The relay server's pid, if one was started: a child of the kit that is none of a run's."""
    current = _Served._current
    return current.proc.pid if current is not None else None


def served_cpu_s() -> float:
    """The CPU of the relays this kit process's servers forked and reaped, with everything each
    waited for (its main process, and what that waited for): what ``RUSAGE_CHILDREN`` counts of
    relays of the kit's own."""
    current = _Served._current
    return current.children_cpu_s if current is not None else 0.0


class _Unserved(Exception):
    """The server cannot start this relay (it is gone, or the request is too large): a relay of its own will."""


class Relayed:
    """A relay the server forked, as the kit waits for it: ``Popen``'s ``pid``, ``returncode``,
    ``poll``, ``wait``, ``kill`` (its exit status comes from the server, its parent)."""

    pid: int
    returncode: int | None
    _ended: Any  # threading.Event: the status came, or the server is gone
    _lost: bool  # the server died first: the status is read here where it can be
    _lock: Any  # threading.Lock: the pidfd, closed once the status came; the status read after a lost server
    _pidfd: int | None

    def __init__(self, pid: int, pidfd: int | None) -> None:
        """``pidfd``: the relay's own, sent with its "started" (opened by the relay itself: never a
        stranger's, even if the relay has ended and its pid is reused by now)."""
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        import threading

        self.pid = pid
        self.returncode = None
        self._ended = threading.Event()
        self._lost = False
        self._pidfd = pidfd
        self._lock = threading.Lock()

    def _end(self, status: int) -> None:
        with self._lock:
            self._settle(status)
        self._ended.set()

    def _settle(self, status: int) -> None:
        """Its exit status, the lock held: nothing is left to wait for or to signal (its pidfd closed)."""
        self.returncode = os.waitstatus_to_exitcode(status)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _gone(self) -> bool:
        """Whether the relay process is known to have ended (not whether its status came yet)."""
        import select

        with self._lock:
            if self._pidfd is None:
                return self.returncode is not None
            return bool(select.select([self._pidfd], [], [], 0)[0])

    def poll(self) -> int | None:
        if self.returncode is None and self._gone():
            if not self._lost:
                self._ended.wait(5.0)  # the server reaps it and says how, within moments
            if self.returncode is None and self._lost:
                self._reap_lost()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            if self._lost:
                time.sleep(0.02 if left is None else min(left, 0.02))
            else:
                self._ended.wait(left)  # set by the end, or by the server's
        return self.returncode  # type: ignore[return-value]

    def _reap_lost(self) -> None:
        """The server died before saying: the orphaned relay is the kit's (a subreaper) to reap;
        else it is known to have ended only, as if killed.  One thread at a time: a status read
        is never overwritten."""
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        with self._lock:
            if self.returncode is not None:
                return
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 9  # SIGKILL's status: how it ended is lost with the server
            if not pid:
                return
            self._settle(status)
        self._ended.set()

    def send_signal(self, signum: int) -> None:
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        with self._lock:
            if self.returncode is not None or self._pidfd is None:  # ended: nothing to signal
                return
            try:  # noqa: SIM105 - contextlib is not imported here (start-up cost)
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        self.send_signal(signal.SIGKILL)


class _Served:
    """The kit's side of its relay server: started once per kit process, used by every run.  A
    process the kit forks does not share it (``_forget``): its runs get a server of their own."""

    _lock = _thread.allocate_lock()
    _current: _Served | None = None
    _forks_forget = False  # os.register_at_fork done
    proc: Any  # subprocess.Popen[bytes]: the server
    sock: Any  # socket.socket: the kit's end
    owner: int  # the kit process that started it
    dead: bool  # the server is gone (end-of-file on the socket, or a broken answer)
    children_cpu_s: float  # of the relays that ended, with what each waited for: RUSAGE_CHILDREN, were they ours

    @classmethod
    def get(cls) -> _Served | None:
        """The running server (started, or started again if it died); None where none can run
        (no pidfds: a served relay could be neither waited for nor signalled safely)."""
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            return None
        with cls._lock:
            if cls._current is None or cls._current.dead:
                try:
                    os.close(os.pidfd_open(os.getpid()))
                    cls._current = cls()
                except (AttributeError, OSError):
                    return None
                if not cls._forks_forget:
                    os.register_at_fork(after_in_child=cls._forget)
                    cls._forks_forget = True
            return cls._current

    @classmethod
    def _forget(cls) -> None:
        cls._lock = _thread.allocate_lock()
        cls._current = None

    def __init__(self) -> None:
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        import atexit
        import itertools
        import socket
        import subprocess
        import threading

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", _compiled(os.path.abspath(__file__)), "--serve", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), start_new_session=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.owner = os.getpid()
        self.dead = False
        self.children_cpu_s = 0.0
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._replies: dict[int, list[Any]] = {}  # seq -> [Event, Relayed | error]
        self._relays: dict[int, Relayed] = {}
        threading.Thread(target=self._read, name="kit-relay-server", daemon=True).start()
        atexit.register(self.close)

    def start(self, argv: list[str], join: list[str], report: int, stdin: Any = None, stdout: Any = None,
              stderr: Any = None, env: dict[str, str] | None = None, cwd: Any = None) -> Relayed:
        """The relay of a run, forked by the server.  ``_Unserved`` when the request could not be
        sent (a relay of its own will do it, and raise Popen's errors); once it was, a server that
        ends before it answers is an ``OSError`` (the relay may exist: never a second one)."""
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        import marshal
        import socket
        import subprocess
        import threading

        opened: list[int] = []

        def fd_of(arg: Any, default: int) -> int:
            if arg is None:
                return default
            if arg == subprocess.DEVNULL:
                opened.append(os.open(os.devnull, os.O_RDWR))
                return opened[-1]
            if isinstance(arg, int) and arg >= 0:
                return arg
            raise _Unserved(f"cannot pass {arg!r}")  # PIPE, a file object: Popen's own way

        environ = dict(os.environ if env is None else env)
        if any(not k or "=" in k or "\0" in k + v for k, v in environ.items()) or any("\0" in a for a in argv):
            raise _Unserved("an environment or argument Popen refuses")  # its ValueError, as before
        if cwd is None:
            try:
                cwd = os.getcwd()
            except OSError:  # the kit's folder was removed: the relay stays where the server is, as Popen would
                cwd = None
        seq = next(self._seq)
        reply: list[Any] = [threading.Event(), None]
        try:
            fds = [report, fd_of(stdin, 0), fd_of(stdout, 1), fd_of(stderr, 2)]
            inherited = dispositions()
            request = marshal.dumps((seq, list(argv), list(join), environ,
                                     os.fspath(cwd) if cwd is not None else None, inherited))
            if len(request) >= _MAX_REQUEST:  # the server reads at most this much: a relay of its own
                raise _Unserved("too large a request")
            with self._lock:  # also keeps the socket from being closed under the send
                if self.dead or os.getpid() != self.owner:
                    raise _Unserved("the relay server is gone")
                self._replies[seq] = reply
                try:
                    socket.send_fds(self.sock, [request], fds)
                except OSError as exc:  # too large a request (EMSGSIZE), or the server is gone
                    self._replies.pop(seq, None)
                    raise _Unserved(str(exc)) from None
        finally:
            for fd in opened:
                os.close(fd)
        reply[0].wait()
        if isinstance(reply[1], Relayed):
            return reply[1]
        if isinstance(reply[1], OSError):
            raise reply[1]
        raise OSError("the kit's relay server ended before it started the run")

    def _read(self) -> None:
        """The server's answers, until it is gone (whatever ends this loop, its waiters are released,
        and the server is ended: its relays become the kit's, which reads how they end)."""
        if sys.platform != "linux":  # the relay server is Linux's (and mypy checks the rest for Linux only)
            raise OSError("the relay server is Linux's")
        import socket

        try:
            while self._answer(*socket.recv_fds(self.sock, 256, 1)[:2]):
                pass
        except (OSError, ValueError, KeyError, IndexError):  # a broken answer: as if the server were gone
            pass
        finally:
            with self._lock:
                self.dead = True
                replies, relays = list(self._replies.values()), list(self._relays.values())
                self._replies.clear()
                self._relays.clear()
                self.sock.close()
            self._end_server()
            for reply in replies:
                reply[0].set()  # no relay: an OSError in start()
            for proc in relays:
                proc._lost = True
                proc._ended.set()  # its waiters look for themselves now

    def _answer(self, msg: bytes, fds: list[int]) -> bool:
        """One answer of the server (``fds``: a relay's pidfd with its "started"); False at its end."""
        if not msg:
            return False
        if fds and not msg.startswith(b"started "):
            for fd in fds:
                os.close(fd)
            fds = []
        kind, a, b, *more = msg.decode().split()
        if kind == "exit":
            with self._lock:
                proc = self._relays.pop(int(a), None)
                self.children_cpu_s += int(more[0]) / 1e6
            if proc is not None:
                proc._end(int(b))
            return True
        with self._lock:
            reply = self._replies.pop(int(a))
        if kind == "started":
            proc = Relayed(int(b), fds[0] if fds else None)
            with self._lock:
                self._relays[proc.pid] = proc
            reply[1] = proc
        else:  # "failed": the fork did
            reply[1] = OSError(int(b), os.strerror(int(b)))
        reply[0].set()
        return True

    def _end_server(self) -> None:
        import contextlib
        import subprocess

        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # a SIGKILLed process that does not end: left
            self.proc.wait(timeout=5)

    def close(self) -> None:
        """The kit's end: the server ends (the relays of runs still going on live on).  Not in a
        process the kit forked: the server is its parent's."""
        import contextlib
        import socket
        import subprocess

        if os.getpid() != self.owner:
            return
        with self._lock:
            if not self.dead:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_WR)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
