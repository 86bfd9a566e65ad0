"""The main process of a run: make a start method the default, then run the script as ``__main__``.

The launcher changes what the platform's *default* start method is, without "setting" it:
the script runs exactly as ``python script.py`` would on a platform with that default.  A
script that calls ``set_start_method()`` itself still works (``multiprocessing.set_start_method``
in a launcher would make it fail with "context has already been set"); an unguarded script
behaves as it would there (spawn children re-import it by path, as ``__mp_main__``).

What happens inside is recorded by ``kit.probe``, installed in this process and every child
by the run's ``sitecustomize`` (``kit/_hook``).

Usage: ``python -m kit.launcher METHOD TARGET [ARGS...]`` where TARGET is a script path (run
like ``python script.py``: its folder goes first on ``sys.path``, the current folder does not)
or ``-m`` and a module name (run like ``python -m module``; the examples run this way, so that ``kit/examples/queue.py``
never shadows the standard library's ``queue``).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import runpy
import sys

from kit import probe
from kit._record import Ev, record  # not kit.events (the reader: dataclasses, pathlib): every run's main imports this

TYPE_CHECKING = False  # typing is not imported by every run's main process (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

# The script's globals live until the interpreter exits, as they would under
# ``python script.py``: a Lock that only a global holds must not be collected
# (and its semaphore unlinked) while spawn children are still unpickling it.
_globals: dict[str, Any] = {}


def script_path(target: str) -> None:
    """``sys.path`` as ``python script.py`` makes it: the script's real folder first, in place of the
    current folder that ``python -m kit.launcher`` put there (``-m`` keeps it, as ``python -m`` does).
    Under ``-I`` or ``-P`` (``PYTHONSAFEPATH``) Python adds neither: nothing is added."""
    if sys.flags.isolated or getattr(sys.flags, "safe_path", False):
        return
    folder = os.path.dirname(os.path.realpath(target))  # as python does: symlinks resolved
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)


def drop_staged_runtime() -> None:
    """Take the staged runtime's folder (``kit.runtime``: it holds only the kit) off ``sys.path``: the
    script sees the path it would see bare.  The kit's modules stay importable (the ``kit`` package
    is imported already).  A kit imported from its own install is left alone."""
    import kit

    if getattr(kit, "STAGED", False):
        lib = os.path.dirname(os.path.dirname(os.path.abspath(kit.__file__ or "")))
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != lib]


def main(argv: list[str]) -> None:
    method, target, *args = argv
    probe.install()  # normally done by sitecustomize already (the method made the default there); harmless twice
    drop_staged_runtime()
    platform_default = probe.shipped_default()  # what this Python ships, read before the run's was made the default
    probe.make_default(method)
    record(Ev.SCRIPT_START, method=method, main=os.getpid(), platform_default=platform_default)
    try:
        if target == "-m":
            module, *args = args
            sys.argv = [module, *args]
            _globals.update(runpy.run_module(module, run_name="__main__", alter_sys=True))
        else:
            sys.argv = [target, *args]
            script_path(target)
            _globals.update(runpy.run_path(target, run_name="__main__"))
    except SystemExit as exc:
        if exc.code not in (None, 0):
            record(Ev.SCRIPT_ERROR, error=f"SystemExit: {exc.code}")
        raise
    except BaseException as exc:
        record(Ev.SCRIPT_ERROR, error=probe.error_line(exc))
        raise
    finally:
        # Which children are still alive as the script body ends, before the
        # atexit hook terminates daemons: the observer sees what happens next.
        alive = [p.pid for p in multiprocessing.active_children()]
        record(Ev.SCRIPT_DONE, alive=alive)


if __name__ == "__main__":
    main(sys.argv[1:])
