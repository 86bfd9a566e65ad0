"""benchmarks/run.py's arithmetic: what BENCHMARKS.md says each layer costs.

The bench itself takes minutes and wants a quiet machine (``nox -s bench``); what it concludes
from its rounds is pure and checked here, each rule against the figures that broke it.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """benchmarks/run.py, loaded by path (the repository root is not on the tests' path), with
    ``sys.path`` as it was: the script puts the root first when run as one."""
    path = list(sys.path)
    spec = importlib.util.spec_from_file_location("_kit_benchmarks_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path
    yield module
    sys.modules.pop(spec.name, None)


# One run of `nox -s bench` on a noisy host (2026-12-07): the kit's own runs unobserved against the
# bare schedule.  Difference of the medians: +1.8 CPU s; no round but one measured that much.
OVERLAP = [15.78, 17.93, 15.30, 16.68, 20.56]
PROBED = [16.41, 19.06, 15.66, 18.49, 21.01]


def _rows(**over: list[float]) -> dict[str, list[float]]:
    rows = {"plain": [20.0, 20.0, 20.0], "overlap": [8.0, 8.0, 8.0], "probed": [9.0, 9.0, 9.0],
            "jobs1": [30.0, 30.0, 30.0], "jobsN": [10.0, 10.0, 10.0]}
    rows.update(over)
    return rows


def test_a_difference_is_the_median_of_each_rounds_own(bench: Any) -> None:
    assert bench.paired(PROBED, OVERLAP) == pytest.approx(0.63)
    assert sorted(PROBED)[2] - sorted(OVERLAP)[2] == pytest.approx(1.81)  # what the medians' difference said


def test_rounds_that_cannot_be_paired_are_refused(bench: Any) -> None:
    with pytest.raises(ValueError, match="rounds to pair: 2 and 3"):
        bench.paired([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        bench.paired([], [])


def test_the_cost_paragraphs_pair_the_rounds(bench: Any) -> None:
    busy = _rows(overlap=OVERLAP, probed=PROBED, plain=[16.3, 17.3, 16.1, 17.0, 18.0],
                 jobs1=[21.5, 20.1, 19.0, 21.6, 20.8], jobsN=[20.2, 20.1, 18.6, 21.1, 18.6])
    rounds = _rows(plain=[19.9, 20.8, 20.9, 21.3, 21.8], overlap=[8.2, 9.3, 8.1, 8.6, 10.6],
                   probed=[8.5, 9.8, 8.2, 9.6, 10.8], jobs1=[32.4, 30.9, 30.0, 32.1, 32.0],
                   jobsN=[10.7, 10.6, 9.8, 11.1, 9.8])
    text = "\n".join(bench.cost_lines(rounds, busy, 2))
    assert "0.6 CPU s more; the kit's observation" in text
    assert "1.8 CPU s" not in text


@pytest.mark.parametrize(("overlap", "says", "never"), [
    ([16.0, 16.5, 17.0], "the same cells cost 0.4 CPU s less than one after the other", "more"),
    ([17.0, 17.5, 18.0], "the same cells cost 0.6 CPU s more than one after the other", "less"),
    ([16.42, 16.98, 17.41], "the same cells cost the same CPU time as one after the other (within 0.05 s)", "CPU s"),
])
def test_a_difference_is_worded_by_its_sign(bench: Any, overlap: list[float], says: str, never: str) -> None:
    """The schedule's CPU against the plain loop's: it was said to be more ("cores that share the
    machine run each other slower") whatever the figure, -0.4 included."""
    busy = _rows(plain=[16.4, 17.0, 17.4], overlap=overlap, probed=[17.0, 17.0, 17.0],
                 jobs1=[20.0, 20.0, 20.0], jobsN=[20.0, 20.0, 20.0])
    text = "\n".join(bench.cost_lines(_rows(), busy, 2))
    assert says in text
    sentence = text.split("(side by side, ")[1].split("What observing")[0]
    assert says.split("cost ")[1] in sentence and never not in sentence


def test_a_free_kit_process_is_each_rounds_matrix_less_its_own_cpu(bench: Any) -> None:
    """Round by round: a quick matrix with a costly kit process is not set against a slow one's."""
    rounds = _rows(plain=[20.0, 24.0, 20.0], jobsN=[10.0, 14.0, 9.0])
    m = bench.MatrixRounds(rounds, _rows(), {}, 72, own=[2.0, 0.5, 1.0])
    line = bench.free_kit_lines(m, 2)[1]
    # rounds: 9.0/20 = 0.45, 13.75/24 = 0.573, 8.5/20 = 0.425 -> median 9.0 s and 0.45x
    assert "would end the matrix in about 9.0 s = 0.45x the plain loop" in line
    # medians instead: 10.0 - 1.0/2 = 9.5 s, against 20: 0.475x
    assert "0.47x" not in line and "9.5 s" not in line


def test_a_round_whose_kit_did_not_say_is_left_out_not_shifted(bench: Any) -> None:
    """The second round's kit said nothing: the third round's own CPU stays with the third matrix."""
    rounds = _rows(plain=[20.0, 20.0, 16.0], jobsN=[10.0, 30.0, 9.0])
    m = bench.MatrixRounds(rounds, _rows(), {}, 72, own=[1.0, None, 2.0])
    line = bench.free_kit_lines(m, 2)[1]
    # rounds 1 and 3: 9.5/20 = 0.475, 8.0/16 = 0.5 -> medians 8.75 s, 0.49x; own median 1.5
    assert "1.50 CPU s a matrix (rounds 1.00, unknown, 2.00)" in line
    assert "about 8.8 s = 0.49x" in line
    assert bench.free_kit_lines(bench.MatrixRounds(rounds, _rows(), {}, 72, own=[None, None, None]), 2) == []


def test_the_floor_is_said_for_each_round_against_its_own_plain_loop(bench: Any) -> None:
    """The floor moves with the host as the ratios do: each round's work over the cores, against
    the plain loop of that round (not the median plain loop)."""
    rounds = _rows(plain=[20.0, 25.0, 16.0])
    busy = _rows(plain=[16.0, 20.0, 16.0], jobsN=[20.0, 20.0, 20.0])
    text = "\n".join(bench.cost_lines(rounds, busy, 2))
    assert "less than 8.0 s = 0.40x the plain loop (each round's: 0.40x, 0.40x, 0.50x)" in text
    assert "its own floor is 10.0 s = 0.50x (0.50x, 0.40x, 0.62x)." in text
