"""The durations a matrix keeps for the next one's order: kept per scale, merged, written whole,
and never a reason for a matrix to fail."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit import durations, matrix
from kit.settings import DEFAULTS
import dataclasses


def test_measured_durations_come_back_for_their_scale_only(tmp_path: Path) -> None:
    where = tmp_path / "d.json"
    durations.save(0.1, {("hello", "fork"): 0.21234, ("event", "spawn"): 2.5}, where)
    durations.save(0.1, {("hello", "fork"): 0.3}, where)  # measured again: replaced; the others kept
    durations.save(1.0, {("hello", "fork"): 1.9}, where)
    assert durations.load(0.1, where) == {("hello", "fork"): 0.3, ("event", "spawn"): 2.5}
    assert durations.load(1.0, where) == {("hello", "fork"): 1.9}
    assert durations.load(0.5, where) == {}


@pytest.mark.parametrize("text", ["{not json", '["a list"]', '{"scales": {"0.1": {"hello": {"fork": "slow"}}}}'])
def test_a_damaged_file_is_no_hint_and_is_replaced_whole(tmp_path: Path, text: str) -> None:
    where = tmp_path / "d.json"
    where.write_text(text)
    assert durations.load(0.1, where) == {}
    durations.save(0.1, {("hello", "fork"): 0.2}, where)
    assert durations.load(0.1, where) == {("hello", "fork"): 0.2}
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]  # no half-written file left beside it


def test_an_unwritable_cache_costs_the_hint_not_the_matrix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    durations.save(0.1, {("hello", "fork"): 0.2}, blocker / "d.json")  # its folder cannot be made: no error
    assert durations.load(0.1, blocker / "d.json") == {}


def test_too_many_cells_keep_only_the_scale_just_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durations, "MAX_CELLS", 3)
    where = tmp_path / "d.json"
    durations.save(1.0, {("a", "fork"): 1.0, ("b", "fork"): 1.0}, where)
    durations.save(0.1, {("a", "fork"): 0.1, ("b", "fork"): 0.1}, where)
    assert durations.load(1.0, where) == {}
    assert durations.load(0.1, where) == {("a", "fork"): 0.1, ("b", "fork"): 0.1}


@pytest.mark.slow
def test_a_matrix_keeps_how_long_each_host_cell_took(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path))
    settings = dataclasses.replace(DEFAULTS, scale=0.1, jobs=2)
    rs = matrix.run_matrix(["hello", "join"], ["fork"], settings)
    assert [r.status.value for r in rs] == ["pass", "pass"]
    kept = durations.load(0.1, tmp_path / "durations.json")
    assert set(kept) == {("hello", "fork"), ("join", "fork")}
    assert all(0 < s < 30 for s in kept.values())
    assert json.loads((tmp_path / "durations.json").read_text())["scales"]["0.1"]["hello"]["fork"] == \
        round(kept[("hello", "fork")], 3)
