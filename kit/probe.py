"""Inside every process of a run: record what multiprocessing really does there.

Installed at interpreter start-up by ``kit/_hook/sitecustomize.py`` (the runner puts that
folder first on the run's ``PYTHONPATH``), so it reaches spawn children, the forkserver and
its workers, not only the main process.  It records, as events (``kit._record.Ev``):

* ``process_started`` in whichever process starts one: the child's pid, daemon flag, name,
  and the start method that really started it (read from the Popen class used, so a script
  that picks its own method or context is seen as it is);
* ``top_level`` / ``top_level_done``: this process began / finished executing the script's
  top level (``runpy`` as ``__main__`` in the main process, as ``__mp_main__`` in a spawn
  child or the forkserver), the second with its wall and CPU time;
* ``child_error``: a child's ``run()`` raised, or exited with a non-zero ``sys.exit``;
* ``child_died``: a spawn/forkserver child failed before ``run()`` (unpickling its target,
  the bootstrapping RuntimeError of a missing ``__main__`` guard);
* ``set_start_method``: the script chose its own start method;
* ``fork_with_threads``: this process forked while other threads ran (the first few times): each
  one's name and where it was started, and the native threads beyond Python's — on every Python,
  where 3.12+ only warns (and warnings can be filtered);
* ``resource_registered`` / ``resource_unregistered``: a named semaphore or shared memory block
  handed to multiprocessing's resource tracker, and taken back.  When the kit kills a run, the
  tracker dies with it and cannot unlink what was left; the kit does, from these names
  (``kit.runner``), so that a killed run leaves nothing in ``/dev/shm``.

Nothing here changes behaviour (every wrapper calls the original and re-raises) but one thing,
on purpose: the start method the run asked for (``KIT_METHOD``) is made the *default* in every
Python process of the run, not only in the launcher's.  A process started outside
multiprocessing (pytest-xdist's workers, a ``subprocess`` running Python) would otherwise run
under this Python's own default, and a suite's "spawn" cell would test nothing spawn-related.
"""
from __future__ import annotations

import functools
import os
import runpy
import time

from kit import env
from kit._record import Ev, record

TYPE_CHECKING = False  # typing is not imported: every process of a run imports this module (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_POPEN_METHOD = {
    "multiprocessing.popen_fork": "fork",
    "multiprocessing.popen_spawn_posix": "spawn",
    "multiprocessing.popen_spawn_win32": "spawn",
    "multiprocessing.popen_forkserver": "forkserver",
}
_MAIN_RUN_NAMES = ("__main__", "__mp_main__")
_installed = False
_shipped: str | None = None  # this Python's own default start method, read before the run's is made the default


def error_line(exc: BaseException, limit: int = 400) -> str:
    """The last line of the traceback Python would print, on one line."""
    import traceback  # only when something failed: start-up of every process stays cheap

    line = " ".join(traceback.format_exception_only(type(exc), exc)[-1].split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def install() -> None:
    """Wrap the few multiprocessing and runpy entry points the kit learns from (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    import multiprocessing.context
    import multiprocessing.process
    import multiprocessing.spawn

    shipped_default()
    method = os.environ.get(env.METHOD)
    if method:
        try:  # noqa: SIM105 - contextlib is one import more in every process of the run
            make_default(method)
        except ValueError:  # a method this platform lacks: the launcher says so
            pass

    _say_if_helper()
    _stacks_on_signal()
    _wrap_start(multiprocessing.process.BaseProcess)
    _wrap_bootstrap(multiprocessing.process.BaseProcess)
    _wrap_exitcode(multiprocessing.process.BaseProcess)
    _wrap_spawn_main(multiprocessing.spawn)
    _wrap_set_start_method(multiprocessing.context.DefaultContext)
    _wrap_thread_start()
    _on_import(_TRACKER, _wrap_tracker)
    for name in ("run_path", "run_module"):
        setattr(runpy, name, _top_level(getattr(runpy, name)))
    at_fork = getattr(os, "register_at_fork", None)  # POSIX only (no fork elsewhere)
    if at_fork is not None:
        at_fork(before=_before_fork, after_in_child=_forked)


def make_default(method: str) -> None:
    """Make ``method`` what ``get_start_method()`` returns by default, leaving it unset.

    Private API (the default context's ``_default_context``), the same from 3.8 to 3.15;
    where it is missing, fall back to setting the method (the script then cannot set its own).
    """
    import multiprocessing.context

    concrete = multiprocessing.get_context(method)  # ValueError for a method this platform lacks
    default = multiprocessing.context._default_context
    if hasattr(default, "_default_context") and getattr(default, "_actual_context", None) is None:
        default._default_context = concrete
    else:  # pragma: no cover - no such Python known
        multiprocessing.set_start_method(method, force=True)


def shipped_default() -> str:
    """The default start method this Python ships with, read (once, before the run's is made the
    default) without setting anything."""
    global _shipped
    if _shipped is None:
        import multiprocessing.context

        default = multiprocessing.context._default_context
        shipped = getattr(default, "_default_context", None)
        _shipped = str(shipped.get_start_method()) if shipped is not None else str(default.get_start_method())
    return _shipped


def _forked() -> None:
    """In a child of a fork: its stacks and its threads are its own, not its parent's."""
    global _threads_said, _forks_said
    _disarm_stacks()
    _threads_said = False
    _forks_said = 0
    _python_tids.clear()


FORKS_SAID = 3
"""Forks with threads recorded per process (a loop of forks says it three times, not a thousand)."""
_forks_said = 0
TASKS = "/proc/self/task"
"""Linux: one entry per thread of this process, Python's or not (a stdlib-only read: this module
runs in the user's interpreter, where the kit's platform layer, with psutil, cannot be imported)."""


_python_tids: set[int] = set()
"""Thread ids of every Python thread this process started (``_wrap_thread_start``): a thread whose
``run()`` ended leaves ``threading.enumerate()`` before the kernel's list, and is not a native one."""


def _native_threads() -> set[int] | None:
    """The kernel's ids of this process's threads; None where there is no such list (not Linux).

    procfs gives the task folder a link count of two plus its threads, so one ``stat`` answers the
    common case, a fork from the only thread, without listing the folder at every fork of a loop."""
    try:
        if os.stat(TASKS).st_nlink == 3:  # noqa: PTH116 - this thread alone (no pathlib here)
            import _thread

            return {_thread.get_native_id()}
        return {int(name) for name in os.listdir(TASKS)}  # noqa: PTH208 - no pathlib here
    except (OSError, ValueError):  # not Linux: Python's threads only
        return None


def _before_fork() -> None:
    """In the parent, just before a fork: the other threads alive now will not exist in the child,
    and a lock one of them holds stays held there forever.  Recorded with their names and where each
    was started; the native threads beyond Python's (a C library's) counted."""
    global _forks_said
    if _forks_said >= FORKS_SAID:
        return
    import sys

    threading = sys.modules.get("threading")
    me = threading.current_thread() if threading is not None else None
    others = [t for t in threading.enumerate() if t is not me] if threading is not None else []
    native = _native_threads()
    if native is not None:
        import _thread

        native -= {_thread.get_native_id(), *(getattr(t, "native_id", None) for t in others), *_python_tids}
    beyond = len(native) if native is not None else 0
    if not others and not beyond:
        return
    _forks_said += 1
    record(Ev.FORK_WITH_THREADS, forking=getattr(me, "name", ""), native_beyond=beyond,
           threads=[{"name": t.name, "daemon": t.daemon, "started_at": getattr(t, "_kit_started_at", "")}
                    for t in others])


_stack_fd: int | None = None  # where this process writes its stacks; None: not armed
_stack_signal = 0


def _stacks_on_signal() -> None:
    """On ``KIT_STACK_SIGNAL`` (the kit sends it at a timeout, before the kill), write every
    thread's Python stack to ``<pid>.stacks`` in the events folder: where a hung run was stuck.

    ``faulthandler`` writes from the C signal handler, so a process blocked in ``join()``, a
    lock or a pipe still answers.  Armed here (a fresh interpreter: the main process, a spawn
    child, the forkserver) and as a multiprocessing child bootstraps (``_wrap_bootstrap``: a fork
    child, a forkserver's worker); a child of a bare fork is disarmed (``register_at_fork``:
    one C call, so a fork loop pays nothing more) and never asked.  The kit asks only processes
    whose file exists.  Nothing is registered where the kit gave no signal (not Linux) or
    faulthandler cannot.  faulthandler keeps the file's descriptor number: a script that closes
    every descriptor and opens a file on that number would get the stacks written into it, at a
    timeout only, as the run is about to be killed."""
    global _stack_signal
    signum = os.environ.get(env.STACK_SIGNAL, "")
    if not signum.isdigit() or not os.environ.get(env.EVENTS):
        return
    import faulthandler

    if not hasattr(faulthandler, "register"):  # pragma: no cover - Windows: no signal to send
        return
    _stack_signal = int(signum)
    _arm_stacks()


def _arm_stacks() -> None:
    global _stack_fd
    folder = os.environ.get(env.EVENTS)
    if not _stack_signal or not folder or _stack_fd is not None:
        return
    import faulthandler

    fh: Any = faulthandler  # register and unregister exist off Windows only, as the signal does
    path = os.path.join(folder, f"{os.getpid()}.stacks")  # noqa: PTH118 - no pathlib here
    try:
        _stack_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        fh.register(_stack_signal, file=_stack_fd, all_threads=True, chain=False)
    except (OSError, ValueError, RuntimeError):  # no folder any more, an odd signal: no stacks, nothing broken
        _stack_fd = None


def _disarm_stacks() -> None:
    """In a fork child (``_forked``): the inherited registration would write into the parent's file."""
    global _stack_fd
    if _stack_fd is None:
        return
    import faulthandler

    fh: Any = faulthandler  # off Windows only, as the signal
    fh.unregister(_stack_signal)
    os.close(_stack_fd)
    _stack_fd = None


_threads_said = False


def _wrap_thread_start() -> None:
    """Say once per process that it started a Python thread (a Queue's feeder, a Pool's handlers,
    a Manager's server): the kernel's peak of tasks then counts threads, not only processes."""
    import threading

    original = threading.Thread.start

    @functools.wraps(original)
    def start(self: Any) -> None:
        global _threads_said
        if not _threads_said:
            _threads_said = True
            record(Ev.THREAD_STARTED, name=self.name)
        try:  # noqa: SIM105 - contextlib is one import more in every process of the run
            self._kit_started_at = _started_at()
        except Exception:  # noqa: BLE001 - a thread without its site is still started
            pass
        original(self)
        if self.native_id is not None:  # known once start() returns: the thread has begun
            _python_tids.add(self.native_id)

    threading.Thread.start = start  # type: ignore[method-assign]


def _started_at() -> str:
    """Where the thread being started was started: the first frame outside ``threading``, and,
    when that is the standard library's (a Queue's feeder), the first of the user's code that led
    there."""
    import sys

    frame: Any = sys._getframe(2)
    stdlib = os.path.dirname(os.__file__)  # noqa: PTH120 - no pathlib here
    site = user = ""
    while frame is not None:
        name = frame.f_code.co_filename
        if not site and not name.endswith("threading.py"):
            site = f"{_short(name, stdlib)}:{frame.f_lineno} in {frame.f_code.co_name}"
            if not name.startswith(stdlib):
                return site
        elif site and not name.startswith((stdlib, _KIT_DIR)):
            user = f"{name}:{frame.f_lineno}"
            break
        frame = frame.f_back
    return f"{site}, from {user}" if user else site


_KIT_DIR = os.path.dirname(os.path.abspath(__file__))  # noqa: PTH100, PTH120 - no pathlib here


def _short(path: str, stdlib: str) -> str:
    return path[len(stdlib) + 1:] if path.startswith(stdlib + os.sep) else path


_TRACKER = "multiprocessing.resource_tracker"


def _on_import(name: str, then: Callable[[Any], None]) -> None:
    """``then(module)`` once ``name`` is imported: now if it is, else as its import ends.

    The resource tracker's module is imported only by a run that makes a semaphore or shared
    memory (0.5 ms): a finder at the head of ``sys.meta_path`` waits for it, so that every
    other process pays one string comparison per import."""
    import sys

    if name in sys.modules:
        then(sys.modules[name])
        return

    class _Finder:
        @staticmethod
        def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
            if fullname != name:
                return None
            sys.meta_path.remove(_Finder)
            import importlib.util

            spec = importlib.util.find_spec(fullname)
            loader = getattr(spec, "loader", None)
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            original = loader.exec_module

            def exec_module(module: Any) -> None:
                original(module)
                then(module)

            loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Finder)


def _wrap_tracker(module: Any) -> None:
    """Record what the script hands to the resource tracker and takes back (by name).

    ``register`` is recorded before the tracker hears of it: a process killed in between leaves
    a name the kit finds already gone, never a block the kit does not know of."""
    original_register = getattr(module, "register", None)
    original_unregister = getattr(module, "unregister", None)
    if original_register is None or original_unregister is None:
        return

    @functools.wraps(original_register)
    def register(name: Any, rtype: Any, *args: Any, **kwargs: Any) -> Any:
        record(Ev.RESOURCE_REGISTERED, name=str(name), rtype=str(rtype))
        return original_register(name, rtype, *args, **kwargs)

    @functools.wraps(original_unregister)
    def unregister(name: Any, rtype: Any, *args: Any, **kwargs: Any) -> Any:
        out = original_unregister(name, rtype, *args, **kwargs)
        record(Ev.RESOURCE_UNREGISTERED, name=str(name), rtype=str(rtype))
        return out

    module.register = register
    module.unregister = unregister


_HELPERS = (("multiprocessing.resource_tracker", "resource_tracker"),
            ("multiprocessing.semaphore_tracker", "resource_tracker"),
            ("multiprocessing.forkserver", "forkserver"))


def _say_if_helper() -> None:
    """multiprocessing's helpers run as ``python -c "from multiprocessing.X import main..."``:
    say which one this is (psutil may read a command line during exec, when it is empty)."""
    import sys

    command = " ".join(getattr(sys, "orig_argv", ()))  # 3.10+; before, the observer's reading stands
    for marker, role in _HELPERS:
        if marker in command:
            record(Ev.HELPER, role=role, argv=list(getattr(sys, "orig_argv", ())))
            return


def _wrap_start(cls: Any) -> None:
    original = cls.start

    @functools.wraps(original)
    def start(self: Any) -> None:
        original(self)
        popen = getattr(self, "_popen", None)
        method = _POPEN_METHOD.get(type(popen).__module__, type(popen).__module__.rsplit("popen_", 1)[-1])
        record(Ev.PROCESS_STARTED, child=self.pid, daemon=bool(self.daemon), name=self.name, method=method)

    cls.start = start


def _wrap_exitcode(cls: Any) -> None:
    """Record a child that a signal ended without being asked to (``terminate()``/``kill()`` mark
    the ones asked): a Pool worker killed by the OOM killer or a stray SIGKILL leaves no traceback,
    only its exit code, which its parent reads here (a Pool's handler reads every worker's)."""
    exitcode = cls.exitcode
    join = cls.join

    def said(self: Any, code: Any) -> Any:
        if isinstance(code, int) and code < 0 and not getattr(self, "_kit_said", False):
            self._kit_said = True
            if not getattr(self, "_kit_asked", False) and not _terminated_at_exit(code):
                import signal

                try:
                    how = signal.Signals(-code).name
                except ValueError:
                    how = f"signal {-code}"
                record(Ev.CHILD_KILLED, child=self.pid, name=self.name, exitcode=code, signal=how)
        return code

    def read(self: Any) -> Any:
        return said(self, exitcode.fget(self))

    def joined(self: Any, timeout: Any = None) -> None:
        join(self, timeout)
        if self._popen is not None:
            said(self, self._popen.returncode)

    for name in ("terminate", "kill"):
        original = getattr(cls, name, None)
        if original is not None:
            setattr(cls, name, _asking(original))
    cls.exitcode = property(read)
    cls.join = functools.wraps(join)(joined)


def _terminated_at_exit(code: int) -> bool:
    """SIGTERM sent by multiprocessing's own exit handler to the daemons still running (it calls
    the popen's ``terminate()``, not the process's)."""
    import signal
    import sys

    util = sys.modules.get("multiprocessing.util")
    return bool(getattr(util, "_exiting", False)) and code == -int(signal.SIGTERM)


def _asking(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def ask(self: Any) -> None:
        self._kit_asked = True
        original(self)

    return ask


def _wrap_bootstrap(cls: Any) -> None:
    original = cls._bootstrap

    @functools.wraps(original)
    def _bootstrap(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = self.run  # bound: a subclass's own run() included

        def run_recorded() -> Any:
            try:
                return run()
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    record(Ev.CHILD_ERROR, name=self.name, error=f"SystemExit: {exc.code}", exitcode=exc.code)
                raise
            except BaseException as exc:
                record(Ev.CHILD_ERROR, name=self.name, error=error_line(exc), exitcode=1)
                raise

        self.run = run_recorded
        _arm_stacks()  # a fork child or a forkserver's worker (disarmed as it forked); armed already otherwise
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.run

    cls._bootstrap = _bootstrap


def _wrap_spawn_main(spawn: Any) -> None:
    original = spawn._main

    @functools.wraps(original)
    def _main(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except BaseException as exc:
            if not (isinstance(exc, SystemExit) and exc.code in (None, 0)):
                record(Ev.CHILD_DIED, error=error_line(exc))
            raise

    spawn._main = _main


def _wrap_set_start_method(cls: Any) -> None:
    original = cls.set_start_method

    @functools.wraps(original)
    def set_start_method(self: Any, method: Any, force: bool = False) -> None:
        try:
            original(self, method, force)
        except BaseException as exc:
            record(Ev.SET_START_METHOD, method=method, force=force, ok=False, error=error_line(exc))
            raise
        record(Ev.SET_START_METHOD, method=method, force=force, ok=True)

    cls.set_start_method = set_start_method
    import multiprocessing

    # multiprocessing bound the default context's methods into its namespace at import time
    multiprocessing.set_start_method = multiprocessing.context._default_context.set_start_method


def _top_level(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(target: Any, *args: Any, **kwargs: Any) -> Any:
        run_name = kwargs.get("run_name", args[1] if len(args) > 1 else None)
        if run_name not in _MAIN_RUN_NAMES:
            return original(target, *args, **kwargs)
        import multiprocessing

        record(Ev.TOP_LEVEL, run_name=run_name, target=str(target), process=multiprocessing.current_process().name)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            return original(target, *args, **kwargs)
        finally:
            record(Ev.TOP_LEVEL_DONE, run_name=run_name,
                   wall_s=round(time.perf_counter() - wall0, 4), cpu_s=round(time.process_time() - cpu0, 4))

    return run
