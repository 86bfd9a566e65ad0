"""The leak fixture (``conftest.no_leftover_processes``, ``support.leftovers``): a process a test
leaves running is caught; a child that has only ended (a zombie re-parented to pytest) is not."""
from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
from support import leftovers, our_processes


@pytest.mark.slow
def test_a_process_left_running_is_caught_and_one_that_ended_is_not() -> None:
    before = set(our_processes())
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(ended.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.01)
        left = {p.pid for p in leftovers(before).values()}
        assert running.pid in left  # the broken variant (every listed process dropped) misses it
        assert ended.pid not in left  # collected: it ended
    finally:
        running.kill()
        running.wait()
        ended.returncode = 0  # collected above: Popen must not wait for it again
