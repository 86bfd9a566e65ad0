"""Golden tables: ``kit matrix`` and ``kit report`` write exactly what they wrote before.

Real results (host and four containers, trimmed: tests/data/tables/*.json) and copies of them
with every status a cell can have, relabelled as other platforms, a cell missing, a result
without a platform, a reason holding control characters, are rendered as the matrix table
(text and Markdown), the merged report (text and Markdown) and one run's cells and summaries
(colour on and off); each output must equal its file in tests/data/tables byte for byte.  The
text tables are written at 80 and 120 columns (``*.80.txt``, ``*.120.txt``): no line of them may
be wider.  No process is started.

After an intended change of a table, rewrite the files and review the diff:
``KIT_UPDATE_GOLDEN=1 python -m pytest tests/test_tables.py``.
"""
from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import pytest
from support import as_platform

from kit import render, report, results
from kit.outcomes import MemorySource, Role, Status
from kit.results import ProcRef, RunResult

DATA = Path(__file__).resolve().parent / "data" / "tables"
UPDATE = os.environ.get("KIT_UPDATE_GOLDEN") == "1"


def load(name: str) -> list[RunResult]:
    return results.load((DATA / f"{name}.json").read_text(encoding="utf-8"))


def varied(rs: list[RunResult]) -> list[RunResult]:
    """Copies where every status occurs, some with orphans, daemons or warnings, one cell
    missing, one result without a platform, one script, peaks counted by the kernel or seen in samples."""
    out = copy.deepcopy(rs)
    statuses = [Status.FAIL, Status.TIMEOUT, Status.SKIPPED, Status.INCONCLUSIVE, Status.ERROR, Status.INTERRUPTED]
    for i, r in enumerate(out):
        if i % 5 == 1:
            s = statuses[(i // 5) % len(statuses)]
            r.status, r.reason = s, f"{s} here: \x1b[31mred\x1b[0m, 我是一个进程\tand a tab\r"
        if i % 7 == 2:
            r.orphans = [ProcRef(100 + i, "python", ["python", "-c", "x" * 150], Role.WORKER)]
        if i % 11 == 4:
            r.daemons_terminated = [ProcRef(200 + i, "python", ["python"], Role.WORKER)]
        if i % 13 == 6:
            r.warnings = [f"DeprecationWarning: number {i}", "a second one"]
        if i % 4 == 3:  # a peak seen in samples: a lower bound, with or without the kernel's count of tasks
            r.peak_exact, r.peak_tasks = False, (r.peak_processes + 4 if i % 8 == 3 else None)
        elif i % 4 == 0:
            r.peak_exact, r.peak_tasks = True, r.peak_processes
    del out[3]
    nowhere = copy.deepcopy(out[0])
    nowhere.platform, nowhere.subject = None, "no_platform"
    script = copy.deepcopy(out[1])
    script.subject, script.status, script.reason = "scripts/my script.py", Status.FAIL, "exit 1"
    return [*out, nowhere, script]


def with_memory(rs: list[RunResult]) -> list[RunResult]:
    """Copies with memory peaks: the host's from its cgroup, some sampled, a container's whole, one unknown."""
    out = copy.deepcopy(rs)
    sources = [MemorySource.CGROUP, MemorySource.CGROUP, MemorySource.SAMPLED, MemorySource.CONTAINER, None]
    for i, r in enumerate(out):
        source = sources[i % len(sources)] if r.place != "host" else sources[i % 3]
        if source is not None:
            r.memory_peak_bytes, r.memory_source = (9 + 7 * i) * 1024 * 1024 + i * 1000, source
    out[0].memory_peak_bytes = 1536 * 1024 * 1024  # a figure in G
    return out


def scenarios() -> dict[str, list[RunResult]]:
    everywhere, inconclusive = load("host_and_containers"), load("inconclusive")
    host = [r for r in everywhere if r.platform and r.platform.place == "host"]
    windows = as_platform(host, "Windows", "3.12.10", "spawn", available=("spawn",))
    mac = as_platform(host, "Darwin", "3.13.1", "spawn")
    odd = next(r for r in mac if r.subject == "hello" and r.method == "spawn")
    odd.status, odd.reason = Status.FAIL, "stdout lacks '我是一个进程'"
    return {
        "host": host,
        "host_and_containers": everywhere,
        "varied": varied(everywhere),
        "memory": with_memory([r for r in everywhere if r.place in ("host", "docker:3.14")]),
        # several files merged: a later file's cell replaces an earlier one (the inconclusive run)
        "files": [*host, *inconclusive, *windows, *mac, *varied(everywhere[15:45])],
    }


WIDTHS = (80, 120)


def outputs() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, rs in scenarios().items():
        merged = report.merge(rs)
        for width in WIDTHS:
            out[f"{name}.matrix.{width}.txt"] = render.text_table(rs, width)
            out[f"{name}.report.{width}.txt"] = report.text(merged, width)
        out[f"{name}.matrix.md"] = render.markdown_table(rs)
        out[f"{name}.report.md"] = report.markdown(merged)
    lines = []
    for r in [*scenarios()["varied"][::9], *scenarios()["memory"][:4]]:
        lines += [render.cell(r), render.cell(r, compact=True)]
        for colour in (False, True):
            lines.append(render.paint(render.cell(r), r.status, colour))
            lines += [render.run_summary(r, colour, verbosity, width) for verbosity in (-1, 0, 1) for width in WIDTHS]
    out["cells.txt"] = "\n".join(lines)
    return out


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "300")  # every width is given: the environment's must not matter
        return outputs()


SCENARIOS = ("host", "host_and_containers", "varied", "memory", "files")
NAMES = [f"{s}.{kind}" for s in SCENARIOS
         for kind in ("matrix.md", "report.md", *(f"{t}.{w}.txt" for t in ("matrix", "report") for w in WIDTHS))]
NAMES += ["cells.txt"]


def test_every_output_has_its_file(rendered: dict[str, str]) -> None:
    assert sorted(rendered) == sorted(NAMES)
    if UPDATE:
        return
    assert sorted(p.name for p in DATA.iterdir() if p.suffix in (".txt", ".md")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_output_is_unchanged(rendered: dict[str, str], name: str) -> None:
    path = DATA / name
    if UPDATE:
        path.write_bytes(rendered[name].encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    got = rendered[name]
    if got != expected:  # the first differing line, not a wall of text
        got_lines, want_lines = got.splitlines(keepends=True), expected.splitlines(keepends=True)
        line = next((i for i, (g, w) in enumerate(zip(got_lines, want_lines)) if g != w),
                    min(len(got_lines), len(want_lines)))
        g, w = (got_lines[line:line + 1] or ["(end)"])[0], (want_lines[line:line + 1] or ["(end)"])[0]
        pytest.fail(f"{name} differs from {path} (rewrite with KIT_UPDATE_GOLDEN=1 if intended); "
                    f"first at line {line + 1}:\n got: {g!r}\nwant: {w!r}")


def test_the_scenarios_cover_every_status_and_several_places() -> None:
    """The golden files are worth something only if the inputs vary."""
    rs = scenarios()
    assert {r.status for r in rs["varied"]} == set(Status)
    assert {r.status for r in rs["files"]} >= {"pass", "fail", "skipped", "inconclusive", "timeout", "error"}
    assert len({r.platform.place for r in rs["host_and_containers"] if r.platform}) == 5
    assert {c.place for c in report.merge(rs["files"]).columns} >= {"Linux", "Windows", "macOS", "Linux docker"}
    assert report.merge(rs["files"]).duplicates >= 2  # the inconclusive run and the copies replace cells
    assert any(r.platform is None for r in rs["varied"])


def test_a_report_of_one_platform_claims_nothing_across_platforms() -> None:
    """One platform: no "everywhere", no "across platforms", one line per example (its observed
    line, not also the checks' one); a failing method is said once, not as if seen everywhere."""
    host = scenarios()["host"]
    broken = copy.deepcopy(host)
    for r in broken:
        if r.subject == "hello" and r.method == "fork":
            r.status, r.reason = Status.FAIL, "exit 1"
    for rs in (host, broken):
        merged = report.merge(rs)
        lines = report.differences(merged)
        assert not [line for line in lines if "everywhere" in line], lines
        assert "across platforms" not in report.text(merged) and "across start methods on Linux" in report.text(merged)
        firsts = [line.split(":")[0].split(" ")[0] for line in lines if not line.startswith("pass under")]
        assert len(firsts) == len(set(firsts)), lines
    assert "hello: pass except Linux py3.11 fork (fail: exit 1)" in report.differences(report.merge(broken))
    several = report.differences(report.merge(scenarios()["host_and_containers"]))
    assert any("everywhere" in line for line in several)  # where there is more than one platform, it is said


def test_a_difference_by_python_is_not_called_a_difference_by_method() -> None:
    """fork_threads warns under fork on 3.13+ only: its checks differ within fork, so no "behaves
    differently by start method" line (it grouped 3.11's fork with spawn); guard's do not."""
    lines = report.differences(report.merge(scenarios()["host_and_containers"]))
    by_method = [line.split(" ")[0] for line in lines if "behaves differently by start method" in line]
    assert "guard" in by_method and "fork_threads" not in by_method, lines


def too_wide(text: str, width: int) -> list[str]:
    return [line for line in text.splitlines() if render.columns(line) > width]


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("0.txt")])
def test_no_line_is_wider_than_its_width(rendered: dict[str, str], name: str) -> None:
    """The golden text at 80 and 120 columns fits: wide characters count two, colour codes none."""
    width = int(name.rsplit(".", 2)[-2])
    assert not too_wide(rendered[name], width), too_wide(rendered[name], width)


def test_the_width_check_catches_a_table_that_ignores_the_width() -> None:
    """The broken variant: the several places side by side at any width (the layout before) is caught."""
    rs = scenarios()["host_and_containers"]
    assert too_wide(render.text_table(rs, 400), 120), "the check must see a 230-column table"
    assert not too_wide(render.text_table(rs, 120), 120)
    with pytest.MonkeyPatch.context() as mp:  # a fitted_grid that ignores its width: every place side by side
        mp.setattr(render, "columns", lambda text: 0)
        wide = render.text_table(rs, 80)
    assert too_wide(wide, 80), "with the width ignored the table no longer fits"


def test_the_width_comes_from_the_option_then_columns_then_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            raise OSError("no descriptor")

    monkeypatch.delenv("COLUMNS", raising=False)
    assert render.terminal_width(None, io.StringIO()) == render.DEFAULT_WIDTH  # a pipe, a file: 100
    monkeypatch.setattr(render.shutil, "get_terminal_size", lambda fallback: os.terminal_size((132, 40)))
    assert render.terminal_width(None, Tty()) == 132
    monkeypatch.setenv("COLUMNS", "90")
    assert render.terminal_width(None, Tty()) == 90
    assert render.terminal_width(72, Tty()) == 72
    assert render.terminal_width(5, Tty()) == render.MIN_WIDTH


def test_the_host_table_fits_80_columns_with_every_example_and_memory() -> None:
    """Twenty-three examples (names up to 20 characters), memory, orphans and sampled peaks: the
    richest cells that fit are chosen, and the legend says what was left out."""
    from kit.catalogue import EXAMPLES

    host = with_memory(scenarios()["host"])
    many = []
    for i, name in enumerate(EXAMPLES):
        for r in host[:3]:
            c = copy.deepcopy(r)
            c.subject = name
            if i % 4 == 1:
                c.peak_exact = False
            many.append(c)
    table = render.text_table(many, 80)
    assert not too_wide(table, 80), too_wide(table, 80)
    assert "fork_buffered_output" in table and "M" in table.split("fork_buffered_output")[1].splitlines()[0]
    assert "Left out to fit 80 columns: wall seconds (" in " ".join(table.split())
    assert "Left out" not in render.text_table(many, 200)


def test_markdown_keeps_every_figure() -> None:
    rs = scenarios()["memory"]
    md = render.markdown_table(rs)
    for r in rs:
        assert render.cell(r) in md
    assert "Left out" not in md


def test_a_word_wider_than_the_line_breaks_after_a_separator_not_mid_name() -> None:
    """A test's node id is one word: it is broken after '::' or '_' near the end of the room, every
    line still within the width (the broken variant cut it at the last column: 'then_it_d' / 'oes_not')."""
    nodeid = "tests/test_x.py::InstallHandlersTest::test_when_a_logger_is_passed_then_it_does_not_change_the_root"
    lines = render.fit("  " + nodeid, 60).splitlines()
    assert all(len(line) <= 60 for line in lines), lines
    assert "".join(line.strip() for line in lines) == nodeid
    assert all(line.rstrip().endswith(("::", "_", "/", ".", "-")) for line in lines[:-1]), lines
    assert render.fit("  " + "x" * 80, 40).splitlines()[0] == "  " + "x" * 38  # nowhere to break: cut at the width
