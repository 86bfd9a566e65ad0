"""What every process of a run pays for the kit: the probe (imported by the run's
``sitecustomize`` in every interpreter) and the launcher (every run's main process) import
nothing the user's script would not: no ``typing``, ``dataclasses`` or ``pathlib``.

Each is a few ms per fresh interpreter; a host matrix starts about 300 processes, and its
CPU-bound floor is what sets how fast the matrix can be (BENCHMARKS.md (a)).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("typing", "dataclasses", "pathlib")
PROBE = (
    "import sys; sys.path.insert(0, {root!r}); import {module}; "
    "import json; print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
)


def heavy_imports(module: str) -> list[str]:
    """Which of ``HEAVY`` importing ``module`` loads, in an interpreter without site (``-S``:
    no .pth file of this environment, an editable install's finder included, pulls any in)."""
    code = PROBE.format(root=str(ROOT), module=module, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=30, check=True)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("module", ["kit.probe", "kit._record", "kit.launcher"])
def test_what_every_process_of_a_run_imports_stays_light(module: str) -> None:
    assert heavy_imports(module) == []


def test_the_check_sees_a_heavy_import() -> None:
    """The broken variant: the events reader (dataclasses, pathlib) is what the launcher used to import."""
    assert set(heavy_imports("kit.events")) >= {"dataclasses"}
