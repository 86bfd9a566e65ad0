"""``record()``: one timestamped event, appended by a process of a run to its own file.

Apart from ``kit.events`` (which reads them back) because every Python process of a run
imports it at start-up (``kit.probe``): it must cost next to nothing to import.  The event
kinds (``Ev``, plain strings) are defined here for the same reason and re-exported by
``kit.outcomes`` with the other vocabularies, whose enums every process need not build.
"""
from __future__ import annotations

import json
import os
import time

from kit import env

TYPE_CHECKING = False  # typing is not imported at start-up of every process (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

ENV_DIR = env.EVENTS


class Ev:
    """Event kinds recorded inside a run (``kit.events``, ``kit.probe``, the launcher)."""

    SCRIPT_START = "script_start"  # the launcher is about to run the script
    SCRIPT_DONE = "script_done"  # the script's body ended; data: alive children
    SCRIPT_ERROR = "script_error"  # the main process's script raised; data: error
    PROCESS_STARTED = "process_started"  # Process.start() returned; data: child, daemon, name, method
    TOP_LEVEL = "top_level"  # this process began the script's top level; data: run_name, process
    TOP_LEVEL_DONE = "top_level_done"  # ... and finished it; data: run_name, wall_s, cpu_s
    CHILD_ERROR = "child_error"  # a child's run() raised (or sys.exit(N)); data: error, name, exitcode
    CHILD_DIED = "child_died"  # a spawn/forkserver child failed before run(); data: error
    SET_START_METHOD = "set_start_method"  # the script chose its own method; data: method, force, ok
    HELPER = "helper"  # this process is multiprocessing's resource tracker or forkserver; data: role
    THREAD_STARTED = "thread_started"  # this process started its first Python thread (once per process)


def record(kind: str, **data: Any) -> None:
    """Append one event; a no-op when the script runs outside the kit."""
    folder = os.environ.get(ENV_DIR)
    if not folder:
        return
    pid = os.getpid()
    line = json.dumps({"t": time.perf_counter_ns(), "pid": pid, "kind": kind, "data": data})
    try:
        fd = os.open(os.path.join(folder, f"{pid}.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:  # the run's folder is gone (a process that outlived its run): never break the script
        return
    try:
        os.write(fd, (line + "\n").encode())
    except OSError:  # a full disk: the event is lost, the script goes on
        pass
    finally:
        os.close(fd)


