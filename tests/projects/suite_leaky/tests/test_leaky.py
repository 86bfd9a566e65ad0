"""Tests that leave processes behind: a daemon Process never joined (ended by multiprocessing's exit
handler when pytest exits), a `sleep` in a session of its own never waited for (an orphan: still
running after pytest exits), and the same `sleep` started by the test's child (a grandchild of
the test). A project for tests/test_pytest_command.py."""
from __future__ import annotations

import multiprocessing
import subprocess
import time


def test_leaves_a_daemon() -> None:
    p = multiprocessing.Process(target=time.sleep, args=(60,), daemon=True)
    p.start()
    assert p.is_alive()


def test_leaves_an_orphan() -> None:
    subprocess.Popen(["sleep", "30"], start_new_session=True)  # never waited for, on purpose
    time.sleep(0.5)  # long enough for the kit's observer to see it while the test runs


def start_a_sleep() -> None:
    subprocess.Popen(["sleep", "30"], start_new_session=True)
    time.sleep(0.5)  # its parent is seen as this process, not the kit it re-parents to


def test_leaves_a_grandchild() -> None:
    p = multiprocessing.Process(target=start_a_sleep)
    p.start()
    p.join()


def test_clean() -> None:
    p = multiprocessing.Process(target=time.sleep, args=(0,))
    p.start()
    p.join()
