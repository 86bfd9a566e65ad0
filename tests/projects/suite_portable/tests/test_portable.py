"""A suite that passes under every start method: top-level targets, picklable arguments, every
process joined. A project for tests/test_pytest_command.py."""
from __future__ import annotations

import multiprocessing
from typing import Any


def square(x: int) -> int:
    return x * x


def put_square(q: Any, x: int) -> None:
    q.put(square(x))


def test_quick() -> None:
    assert square(3) == 9


def test_pool() -> None:
    with multiprocessing.Pool(2) as pool:
        assert pool.map(square, range(4)) == [0, 1, 4, 9]


def test_process_and_queue() -> None:
    q: Any = multiprocessing.Queue()
    p = multiprocessing.Process(target=put_square, args=(q, 4))
    p.start()
    assert q.get(timeout=30) == 16
    p.join()
