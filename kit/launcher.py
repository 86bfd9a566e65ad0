"""The main process of a run: set the start method, then run the script as ``__main__``.

Setting the method here (not inside the script) is what lets an unguarded
script behave exactly as it would on a platform whose default is that method:
spawn children re-import the script by path, as ``__mp_main__``.

The launcher also records, for the observer, which processes the script
started and whether they were daemons (``Process.start`` is wrapped).

Usage: ``python -m kit.launcher METHOD TARGET [ARGS...]`` where TARGET is a
script path (run like ``python script.py``: its folder goes first on
``sys.path``) or ``-m`` and a module name (run like ``python -m module``; the
examples run this way, so that ``kit/examples/queue.py`` never shadows the
standard library's ``queue``).
"""
from __future__ import annotations

import multiprocessing
import os
import multiprocessing.process
import runpy
import sys
from typing import Any

from kit.events import record


# The script's globals live until the interpreter exits, as they would under
# ``python script.py``: a Lock that only a global holds must not be collected
# (and its semaphore unlinked) while spawn children are still unpickling it.
_globals: dict[str, Any] = {}


def _record_starts() -> None:
    original = multiprocessing.process.BaseProcess.start

    def start(self: Any) -> None:
        original(self)
        record("process_started", child=self.pid, daemon=bool(self.daemon), name=self.name)

    multiprocessing.process.BaseProcess.start = start  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    method, target, *args = argv
    multiprocessing.set_start_method(method)
    _record_starts()
    record("script_start", method=method)
    try:
        if target == "-m":
            module, *args = args
            sys.argv = [module, *args]
            _globals.update(runpy.run_module(module, run_name="__main__", alter_sys=True))
        else:
            sys.argv = [target, *args]
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            _globals.update(runpy.run_path(target, run_name="__main__"))
    finally:
        # Which children are still alive as the script body ends, before the
        # atexit hook terminates daemons: the observer sees what happens next.
        alive = [p.pid for p in multiprocessing.active_children()]
        record("script_done", alive=alive)


if __name__ == "__main__":
    main(sys.argv[1:])
