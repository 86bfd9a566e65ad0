"""A test that passes under fork only (a local function as a Process target: spawn and forkserver
pickle the target), one that fails under every method, and one that passes everywhere.
A project for tests/test_pytest_command.py, not a test module of the kit."""
from __future__ import annotations

import multiprocessing
from typing import Any


def put_one(q: Any) -> None:
    q.put(1)


def test_local_target() -> None:
    def work(q: Any) -> None:
        q.put(1)

    q: Any = multiprocessing.Queue()
    p = multiprocessing.Process(target=work, args=(q,))
    p.start()
    assert q.get(timeout=30) == 1
    p.join()


def test_fails_everywhere() -> None:
    assert 1 + 1 == 3, "arithmetic is broken under every method"


def test_top_level_target() -> None:
    q: Any = multiprocessing.Queue()
    p = multiprocessing.Process(target=put_one, args=(q,))
    p.start()
    assert q.get(timeout=30) == 1
    p.join()
