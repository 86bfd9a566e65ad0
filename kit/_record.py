"""``record()``: one timestamped event, appended by a process of a run to its own file.

Apart from ``kit.events`` (which reads them back) because every Python process of a run
imports it at start-up (``kit.probe``): it must cost next to nothing to import.  The event
kinds (``Ev``, plain strings) are defined here for the same reason and re-exported by
``kit.outcomes`` with the other vocabularies, whose enums every process need not build.
"""
from __future__ import annotations

import os
import time

from kit import env

TYPE_CHECKING = False  # typing is not imported at start-up of every process (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

ENV_DIR = env.EVENTS

_quote: Callable[[str], str] | None
try:  # CPython's own JSON string escaping, in C: importing ``json`` (its regexes) would cost
    from _json import encode_basestring_ascii as _quote  # every fresh interpreter of a run
except ImportError:  # pragma: no cover - another implementation
    _quote = None


class Ev:
    """Event kinds recorded inside a run (``kit.events``, ``kit.probe``, the launcher)."""

    SCRIPT_START = "script_start"  # the launcher is about to run the script
    SCRIPT_DONE = "script_done"  # the script's body ended; data: alive children
    SCRIPT_ERROR = "script_error"  # the main process's script raised; data: error
    PROCESS_STARTED = "process_started"  # Process.start() returned; data: child, daemon, name, method
    TOP_LEVEL = "top_level"  # this process began the script's top level; data: run_name, process
    TOP_LEVEL_DONE = "top_level_done"  # ... and finished it; data: run_name, wall_s, cpu_s
    CHILD_ERROR = "child_error"  # a child's run() raised (or sys.exit(N)); data: error, name, exitcode
    CHILD_KILLED = "child_killed"  # a parent saw its child ended by a signal nobody asked for; data: child, name,
    # exitcode, signal
    CHILD_DIED = "child_died"  # a spawn/forkserver child failed before run(); data: error
    SET_START_METHOD = "set_start_method"  # the script chose its own method; data: method, force, ok
    HELPER = "helper"  # this process is multiprocessing's resource tracker or forkserver; data: role
    THREAD_STARTED = "thread_started"  # this process started its first Python thread (once per process)
    FORK_WITH_THREADS = "fork_with_threads"  # this process forked while other threads ran; data: forking, threads
    # (name, daemon, started_at), native_beyond (threads Python did not start)
    RESOURCE_REGISTERED = "resource_registered"  # a named semaphore / shared memory given to the resource
    # tracker (resource_tracker.register); data: name, rtype
    RESOURCE_UNREGISTERED = "resource_unregistered"  # ... and taken back (unlinked by its owner); data: name, rtype
    # recorded by kit._pytest_plugin (``kit pytest``); ``worker``: the pytest-xdist worker's id, else None
    TEST_START = "test_start"  # this process begins a test's setup; data: nodeid, worker
    TEST_END = "test_end"  # ... and its teardown reported; data: nodeid, outcome, duration_s, message, worker, alive
    COLLECT_ERROR = "collect_error"  # a file or folder could not be collected; data: nodeid, message
    SESSION_END = "session_end"  # pytest is done; data: exitstatus, collected, deselected, collect_errors, counts


def record(kind: str, **data: Any) -> None:
    """Append one event; a no-op when the script runs outside the kit."""
    folder = os.environ.get(ENV_DIR)
    if not folder:
        return
    pid = os.getpid()
    line = dumps({"t": time.perf_counter_ns(), "pid": pid, "kind": kind, "data": data})
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


def dumps(obj: object) -> str:
    """``json.dumps(obj)``, the same text, without importing ``json`` for what events hold: str
    keys; str, int, float, bool, None, lists, tuples and such dicts.  Anything else (another
    key type, an object ``json`` would refuse) goes to ``json.dumps`` itself: its text, its error."""
    parts: list[str] = []
    if _quote is None or not _encode(obj, parts):
        import json

        return json.dumps(obj)
    return "".join(parts)


def _encode(obj: object, out: list[str], depth: int = 0) -> bool:
    """Append ``obj`` as ``json.dumps`` writes it; False for what only ``json`` should handle
    (a structure nested deeper than events are: a circular one is ``json``'s ValueError)."""
    assert _quote is not None
    if depth > 32:
        return False
    if isinstance(obj, str):
        out.append(_quote(obj))
    elif obj is None or obj is True or obj is False:
        out.append("null" if obj is None else "true" if obj else "false")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            return False  # NaN and the infinities: json's own spelling
        out.append(float.__repr__(obj))
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(", ")
            if not _encode(item, out, depth + 1):
                return False
        out.append("]")
    elif isinstance(obj, dict):
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if not isinstance(key, str):
                return False
            out.append(", " if i else "")
            out.append(_quote(key))
            out.append(": ")
            if not _encode(value, out, depth + 1):
                return False
        out.append("}")
    else:
        return False
    return True
