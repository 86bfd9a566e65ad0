"""Run many (example, start method) cells one after the other.

Cells run sequentially on purpose: the ``cpu`` example measures cores used,
and timings of one cell must not be distorted by its neighbours.
"""
from __future__ import annotations

import multiprocessing
from typing import Callable
from collections.abc import Iterable

from kit.catalogue import EXAMPLES
from kit.results import RunResult
from kit.runner import DEFAULT_SCALE, DEFAULT_TIMEOUT, example_target, run

ALL_METHODS = ("fork", "spawn", "forkserver")


def host_methods() -> list[str]:
    """Every start method, in a fixed order; those the host lacks come back as skipped."""
    return list(ALL_METHODS) + [m for m in multiprocessing.get_all_start_methods() if m not in ALL_METHODS]


def run_matrix(
    examples: Iterable[str] = tuple(EXAMPLES),
    methods: Iterable[str] = ALL_METHODS,
    scale: float = DEFAULT_SCALE,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[int, int, RunResult], None] | None = None,
) -> list[RunResult]:
    cells = [(e, m) for e in examples for m in methods]
    results = []
    for i, (example, method) in enumerate(cells, 1):
        result = run(example_target(example), method, scale=scale, timeout=timeout)
        results.append(result)
        if progress:
            progress(i, len(cells), result)
    return results
