"""Section (f) of the benchmarks: ``kit pytest`` against bare pytest, on real third-party suites.

Each suite is a project's own sdist from PyPI with its own tests, installed in a virtual
environment of its own (made here, once, under ``--suites-dir``).  Per start method, bare pytest
runs in that interpreter with the method made the default exactly as the kit makes it (the
default context's default, not set), and ``kit pytest --method M`` runs the same suite: the
outcomes must be the same test for test, and the kit's time per cell is compared with bare
pytest's.  Then ``kit pytest`` with every method at once (cells overlap) against the three bare
runs one after the other.  Rounds interleave bare and kit runs, so the machine's drift hits both.
"""
from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("fork", "spawn", "forkserver")
BARE = ("import multiprocessing, multiprocessing.context, sys\n"
        "multiprocessing.context._default_context._default_context = multiprocessing.get_context(sys.argv[1])\n"
        "import pytest\n"
        "sys.exit(pytest.main(sys.argv[2:]))\n")
"""Bare pytest under a method, as ``python -m pytest`` (``-c``: the current folder first on ``sys.path``)."""
VERBOSE = re.compile(r"^(\S.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
"""A ``-v`` line: the nodeid (spaces allowed: parametrized ids; a module skipped whole has no ``::``), its outcome."""
WORDS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped", "XFAIL": "xfailed",
         "XPASS": "xpassed"}


@dataclass(frozen=True)
class Suite:
    name: str  # on PyPI
    version: str
    extra: str  # what ``pip install -e .EXTRA`` installs beside it ("" or "[tests]")
    args: tuple[str, ...]  # pytest's arguments, the tests selected
    why: str


SUITES = (
    Suite("multiprocessing-logging", "0.4.0", "", ("tests",),
          "method-dependent: six of its eight tests pass only under fork"),
    Suite("portalocker", "4.4.2", "[tests]", ("--no-cov", "-p", "no:cacheprovider", "portalocker_tests"),
          "portable, 670 tests (locks across processes)"),
)


@dataclass
class Measured:
    """One suite: per method, bare and kit seconds per round and outcomes; the all-methods runs."""

    suite: Suite
    bare_s: dict[str, list[float]] = field(default_factory=dict)
    kit_s: dict[str, list[float]] = field(default_factory=dict)
    all_s: list[float] = field(default_factory=list)
    same: dict[str, bool] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    differing: dict[str, list[str]] = field(default_factory=dict)
    modules_skipped: dict[str, list[str]] = field(default_factory=dict)


def prepare(suite: Suite, where: Path) -> Path:
    """The suite's project folder with its ``.venv`` (sdist from PyPI, pytest, the project installed)."""
    folder = where / f"{suite.name}-{suite.version}"
    python = folder / ".venv" / "bin" / "python"
    if python.exists():
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", suite.name,
                        "-d", tmp, f"{suite.name}=={suite.version}"], check=True)
        (sdist,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(sdist) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(where, filter="data")
            else:  # pragma: no cover - a Python before the filters (3.11.4, 3.10.12)
                tar.extractall(where)
        unpacked = next(p for p in where.iterdir() if p.is_dir() and p.name.lower().replace("_", "-").startswith(
            f"{suite.name}-{suite.version}".lower()))
        if unpacked != folder:
            unpacked.rename(folder)
    subprocess.run([sys.executable, "-m", "venv", str(folder / ".venv")], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "pytest", "-e", f".{suite.extra}"], cwd=folder,
                   check=True)
    return folder


def outcomes(text: str) -> dict[str, str]:
    """nodeid -> outcome from pytest's ``-v`` lines."""
    out = {}
    for line in text.splitlines():
        m = VERBOSE.match(line)
        if m:
            out[m.group(1)] = WORDS[m.group(2)]
    return out


def bare(folder: Path, suite: Suite, method: str) -> tuple[float, dict[str, str]]:
    t0 = time.perf_counter()
    done = subprocess.run([str(folder / ".venv" / "bin" / "python"), "-c", BARE, method, "-v", "-p",
                           "no:randomly", *suite.args], cwd=folder, capture_output=True, text=True, timeout=900,
                          check=False)
    return time.perf_counter() - t0, outcomes(done.stdout)


def kit_cells(folder: Path, suite: Suite, methods: tuple[str, ...]) -> tuple[float, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        t0 = time.perf_counter()
        python = str(folder / ".venv" / "bin" / "python")
        subprocess.run([sys.executable, "-m", "kit", "pytest", "-q", "--python", python,
                        *(a for m in methods for a in ("--method", m)), "--json", str(out), "--",
                        "-p", "no:randomly", *suite.args], cwd=folder, capture_output=True, text=True, timeout=1800,
                       check=False)
        took = time.perf_counter() - t0
        return took, json.loads(out.read_text()) if out.exists() else []


def measure(suite: Suite, folder: Path, rounds: int) -> Measured:
    m = Measured(suite)
    for _ in range(rounds):
        for method in METHODS:
            s, theirs = bare(folder, suite, method)
            m.bare_s.setdefault(method, []).append(s)
            s, results = kit_cells(folder, suite, (method,))
            m.kit_s.setdefault(method, []).append(s)
            ours = {str(t["nodeid"]): str(t["outcome"]) for r in results for t in r.get("tests") or []}
            # a module skipped whole (no "::") is a skipped line of the kit's, not one of pytest's -v: said apart
            modules = sorted(n for n in ours if "::" not in n and n not in theirs)
            m.modules_skipped[method] = modules
            differ = sorted(n for n in set(theirs) | set(ours) if n not in modules and theirs.get(n) != ours.get(n))
            m.same[method] = m.same.get(method, True) and not differ and bool(theirs)
            m.differing[method] = differ[:5]
            m.counts[method] = {o: list(ours.values()).count(o) for o in sorted(set(ours.values()))}
        s, _ = kit_cells(folder, suite, METHODS)
        m.all_s.append(s)
    return m


def section(where: Path, rounds: int) -> tuple[list[str], dict[str, object]]:
    """BENCHMARKS.md's lines of section (f) and its data."""
    lines = ["Per method: bare pytest in the project's own venv with the method made the default, then "
             "`kit pytest --method M` (one cell), interleaved, medians of "
             f"{rounds} round(s); outcomes compared test by test (pytest's `-v` lines against the kit's JSON). "
             "Then `kit pytest` with every method (cells overlap) against the three bare runs added up.", ""]
    data: dict[str, object] = {}
    for suite in SUITES:
        folder = prepare(suite, where)
        m = measure(suite, folder, rounds)
        med = {k: statistics.median(v) for k, v in m.bare_s.items()}
        kmed = {k: statistics.median(v) for k, v in m.kit_s.items()}
        three = sum(med.values())
        lines += [f"### {suite.name} {suite.version} ({suite.why})", "",
                  f"`pytest {' '.join(suite.args)}`", "",
                  "| method | outcomes (kit) | same as bare | bare s | kit s | kit / bare |",
                  "|---|---|---|---:|---:|---:|"]
        lines += [f"| {k} | {', '.join(f'{n} {o}' for o, n in m.counts[k].items())} | "
                  f"{'yes' if m.same[k] else 'NO: ' + ', '.join(m.differing[k])} | {med[k]:.1f} | {kmed[k]:.1f} | "
                  f"{kmed[k] / med[k]:.2f}x |" for k in METHODS]
        skipped_whole = sorted({n for ns in m.modules_skipped.values() for n in ns})
        if skipped_whole:
            lines += ["", f"Modules skipped whole at collection (`pytest.importorskip`), which pytest's `-v` lines do "
                          f"not list and the kit lists as skipped, as pytest's summary counts them: "
                          f"{', '.join(skipped_whole)}."]
        all_med = statistics.median(m.all_s)
        lines += ["", f"Every method at once: `kit pytest` {all_med:.1f} s against {three:.1f} s for the three bare "
                      f"runs one after the other = {all_med / three:.2f}x.", ""]
        data[suite.name] = {"bare_s": m.bare_s, "kit_s": m.kit_s, "all_s": m.all_s, "same": m.same,
                            "counts": m.counts}
    return lines, data
