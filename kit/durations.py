"""How long each host cell of a matrix took last time, so that the next matrix starts its long cells early.

A matrix's shared phase ends when its last cell ends.  In catalogue order the cells started last
are whatever the catalogue lists last; when those last long (``copy_on_write``'s wait does not
shrink with the scale) the phase ends in a tail where a few cells wait and the cores idle.  The
durations of the last matrix on this machine say which cells are long, and ``kit.schedule``
starts those early, spread among the others.  A hint only, as CTest's cost data or
pytest-split's durations file: without one (a first matrix, a new cell) the catalogue's order
stands, and the results come back in the catalogue's order whatever the order of the runs.

A cell's duration is the whole run as its worker holds it: the main process, then the grace for
what it left (the phase waits for both).  Kept in the user's cache (``durations.json`` beside the
kit's downloads), written whole (another kit reads it complete or not at all), per scale (a
cell's time scales with it), for host cells only (a container's cells are one unit).  A cache
that cannot be read or written costs the hint, never the matrix.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from kit import debug
from kit.container.images import cache_dir, keep

Durations = Mapping[tuple[str, str], float]
"""Seconds per (subject name, start method)."""

MAX_CELLS = 5000
"""Cells kept across every scale; past it only the scale just measured is kept."""


def path() -> Path:
    return cache_dir() / "durations.json"


def _scales(where: Path) -> dict[str, dict[str, dict[str, float]]]:
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # unreadable or damaged: the hint is lost, the matrix goes on
        debug.log(f"durations: {where} unusable", exc)
        return {}
    scales = data.get("scales") if isinstance(data, dict) else None
    return scales if isinstance(scales, dict) else {}


def load(scale: float, where: Path | None = None) -> dict[tuple[str, str], float]:
    """The durations measured at ``scale`` by the last matrices on this machine (empty if none)."""
    cells = _scales(where or path()).get(repr(scale))
    if not isinstance(cells, dict):
        return {}
    return {(name, method): float(s) for name, methods in cells.items() if isinstance(methods, dict)
            for method, s in methods.items() if isinstance(s, (int, float)) and s >= 0}


def save(scale: float, measured: Durations, where: Path | None = None) -> None:
    """Add ``measured`` to what is kept for ``scale`` (a cell measured again replaces its old time)."""
    if not measured:
        return
    where = where or path()
    scales = _scales(where)
    cells = scales.setdefault(repr(scale), {})
    if not isinstance(cells, dict):
        cells = scales[repr(scale)] = {}
    for (name, method), seconds in measured.items():
        cells.setdefault(name, {})[method] = round(seconds, 3)
    if sum(len(m) for c in scales.values() if isinstance(c, dict) for m in c.values() if isinstance(m, dict)) \
            > MAX_CELLS:
        scales = {repr(scale): cells}
    try:
        keep(json.dumps({"scales": scales}, indent=0, sort_keys=True).encode(), where)
    except OSError as exc:
        debug.log(f"durations: cannot write {where}", exc)
