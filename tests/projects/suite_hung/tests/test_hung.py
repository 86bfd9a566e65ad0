"""A Pool worker killed by SIGKILL while it holds a task: the Pool replaces the worker but never
learns that the task is lost, so get() waits forever. The test after it never runs.
A project for tests/test_pytest_command.py."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

started: Any = None


def remember(q: Any) -> None:
    global started
    started = q


def nap(x: int) -> int:
    started.put(os.getpid())  # this worker holds a task now
    time.sleep(5)
    return x


def test_a_pool_worker_killed() -> None:
    q: Any = multiprocessing.Queue()
    with multiprocessing.Pool(2, initializer=remember, initargs=(q,)) as pool:
        r = pool.map_async(nap, range(4), chunksize=1)
        os.kill(q.get(timeout=60), signal.SIGKILL)
        r.get()


def test_never_runs() -> None:
    pass
