"""``kit report``: many runs' JSON merged into one table, from files only."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import as_platform

from kit import report, results
from kit.outcomes import Method, Status
from kit.results import RunResult
from kit.runner import example_subject, run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def host_results() -> list[RunResult]:
    """Real results of this host: guard (method-dependent behaviour) and hello, every method."""
    return [run(example_subject(e), m) for e in ("hello", "guard") for m in ("fork", "spawn", "forkserver")]


def write(tmp_path: Path, name: str, rs: list[RunResult]) -> str:
    path = tmp_path / name
    path.write_text(results.dump(rs), encoding="utf-8")
    return str(path)


def kit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, cwd=ROOT,
                          encoding="utf-8", timeout=60)


@pytest.mark.slow
def test_host_and_container_files_merge_into_one_table(tmp_path: Path, host_results: list[RunResult]) -> None:
    assert all(r.status == "pass" for r in host_results), [r.reason for r in host_results]
    host = write(tmp_path, "host.json", host_results)
    c314 = write(tmp_path, "c314.json", as_platform(host_results, "Linux", "3.14.8", "forkserver", "docker:3.14"))
    md = tmp_path / "merged.md"
    r = kit("report", host, c314, "--markdown", str(md), "--json", str(tmp_path / "merged.json"))
    assert r.returncode == 0, r.stderr
    merged = report.merge(report.load_files([host, c314]))
    assert len(merged.columns) == 6  # (Linux, host py), (Linux docker, 3.14) x 3 methods
    assert {c.place for c in merged.columns} == {"Linux", "Linux docker"}
    assert "What differs across platforms:" in r.stdout
    assert "fork on Linux" in r.stdout and "forkserver on Linux docker 3.14" in r.stdout
    assert "guard behaves differently by start method" in r.stdout
    text = md.read_text(encoding="utf-8")
    assert "| example | Linux<br>py" in text and "Linux docker<br>py3.14<br>forkserver*" in text
    assert len(json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))) == 12


@pytest.mark.slow
def test_windows_skips_and_an_odd_cell_stand_out(tmp_path: Path, host_results: list[RunResult]) -> None:
    """Skipped methods are summarised per platform; a cell unlike its platform's default method's cell
    (macOS's spawn) is marked, with its reason."""
    win = as_platform(host_results, "Windows", "3.12.10", "spawn", available=("spawn",))
    mac = as_platform(host_results, "Darwin", "3.12.10", "spawn", available=("fork", "spawn", "forkserver"))
    odd = next(r for r in mac if r.subject == "hello" and r.method == "fork")
    odd.status, odd.reason = Status.FAIL, "stdout lacks '我是一个进程'"
    files = [write(tmp_path, "win.json", win), write(tmp_path, "mac.json", mac),
             write(tmp_path, "host.json", host_results)]
    r = kit("report", *files, "--markdown", str(tmp_path / "m.md"))
    assert r.returncode == 1  # a cell failed
    assert "fork is unavailable on Windows" in r.stdout
    assert "forkserver is unavailable on Windows" in r.stdout
    assert "hello: pass except macOS py3.12 fork (fail: stdout lacks '我是一个进程')" in r.stdout
    assert "!fail [" in r.stdout
    md = (tmp_path / "m.md").read_text(encoding="utf-8")
    assert "**fail [" in md and "hello on macOS py3.12 fork: fail: stdout lacks" in md


@pytest.mark.slow
def test_the_majority_marker_marks_nothing_when_all_agree(host_results: list[RunResult]) -> None:
    """The marker is not on everything: identical rows have no '!' and no 'except' line."""
    merged = report.merge(host_results + as_platform(host_results, "Darwin", "3.13.1", "spawn"))
    out = report.text(merged)
    assert "!" not in out.split("! = differs")[0]
    assert "except" not in out


@pytest.mark.slow
@pytest.mark.parametrize("content, says", [
    ("[{\"example\": \"hello\", \"method\": \"fork\", \"sta", "not valid JSON"),
    ("{\"results\": []}", "expected a JSON array"),
    ("[{\"name\": \"something else\"}]", "missing keys"),
    ("[{\"example\": \"x\", \"method\": \"fork\", \"status\": \"great\", \"reason\": \"\"}]", "unknown status"),
    ("[{\"example\": \"x\", \"method\": \"fork\", \"status\": \"pass\", \"reason\": \"\", \"wall_s\": \"1\"}]",
     "record 0: field 'wall_s' should be a finite number"),
    ("[{\"example\": \"x\", \"method\": \"fork\", \"status\": \"pass\", \"reason\": \"\", \"orphans\": [7]}]",
     "field 'orphans[0]' should be an object"),
    ("[{\"example\": \"x\", \"method\": \"fork\", \"status\": \"pass\", \"reason\": \"\", "
     "\"platform\": {\"os\": 3}}]", "field 'platform.os' should be a string"),
    ("[" * 50000 + "]" * 50000, "nested too deeply"),
])
def test_a_bad_file_gets_one_line_naming_it(tmp_path: Path, content: str, says: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    r = kit("report", str(bad))
    assert r.returncode == 2
    line, = r.stderr.strip().splitlines()
    assert str(bad) in line and says in line, line


@pytest.mark.slow
def test_a_truncated_real_file_is_refused(tmp_path: Path, host_results: list[RunResult]) -> None:
    whole = results.dump(host_results[:2])
    cut = tmp_path / "cut.json"
    cut.write_text(whole[: len(whole) // 2], encoding="utf-8")
    r = kit("report", write(tmp_path, "ok.json", host_results), str(cut))
    assert r.returncode == 2
    assert r.stderr.startswith(f"kit: error: {cut}: not valid JSON")


def test_a_reason_cannot_forge_the_report_on_a_terminal() -> None:
    """Escape codes and carriage returns in a reason (a script's own error line) come out escaped
    in the notes of the text and Markdown reports; unescaped, the check below sees them."""
    from kit.results import PlatformInfo

    forged = "boom\r\x1b[32mPASS\x1b[0m"
    here = PlatformInfo.here()
    rs = [RunResult("hello", Method.FORK, Status.PASS, "ok", platform=here),
          RunResult("hello", Method.SPAWN, Status.FAIL, forged, platform=here)]
    merged = report.merge(rs)
    for text in (report.text(merged), report.markdown(merged)):
        assert "\x1b" not in text and "\r" not in text, text
        assert "\\x1b[32mPASS" in text
    assert "\x1b" in f"[1] {forged}"  # what an unescaped note would carry


def script_runs(default: str, statuses: dict[str, Status]) -> list[RunResult]:
    """A script's cells on one platform whose default start method is ``default``."""
    from kit.outcomes import Code
    from kit.results import Diagnosis, PlatformInfo

    here = PlatformInfo("Linux", "3.14.8", "CPython", default, ["fork", "spawn", "forkserver"], 2, "x86_64")
    out = []
    for method, status in statuses.items():
        r = RunResult("state.py", Method(method), status, "ok" if status is Status.PASS else "main process exited 1, "
                      "expected 0", platform=here)
        if status is not Status.PASS:
            r.error = "KeyError: 'config'"
            r.diagnoses = [Diagnosis(Code.OUTPUT_DIFFERS, f"stdout differs from fork's: 'n=0' for 'n=3' under {method}",
                                     "Pass the state to the child explicitly (as an argument)")]
        out.append(r)
    return out


def test_the_mark_is_on_the_cells_unlike_the_default_methods_cell_not_on_the_lone_pass() -> None:
    """fork (the default here) passes, spawn and forkserver fail: the failures are marked, not the pass
    (the broken variant, the row's most common status, marked the one passing cell '!pass')."""
    merged = report.merge(script_runs("fork", {"fork": Status.PASS, "spawn": Status.FAIL,
                                               "forkserver": Status.FAIL}))
    row = next(line for line in report.text(merged).splitlines() if line.startswith("state.py"))
    assert row.split()[1:] == ["pass", "!fail", "[1]", "!fail", "[2]"], row
    assert report.majority(merged.rows["state.py"]) is Status.FAIL  # what the old mark compared with
    md = report.markdown(merged)
    assert "| state.py | pass | **fail [1]** | **fail [2]** |" in md
    # where the default method is the failing one, the cell unlike it is the passing fork
    other = report.merge(script_runs("forkserver", {"fork": Status.PASS, "spawn": Status.FAIL,
                                                    "forkserver": Status.FAIL}))
    row = next(line for line in report.text(other).splitlines() if line.startswith("state.py"))
    assert row.split()[1:] == ["!pass", "fail", "[1]", "fail", "[2]"], row


def test_a_failed_cells_note_carries_the_error_line_and_each_diagnosis_with_its_fix() -> None:
    merged = report.merge(script_runs("fork", {"fork": Status.PASS, "spawn": Status.FAIL}))
    text = report.text(merged).splitlines()
    at = text.index("[1] state.py on Linux py3.14 spawn: fail: main process exited 1, expected 0")
    assert text[at + 1:at + 4] == ["    error: KeyError: 'config'",
                                   "    output_differs: stdout differs from fork's: 'n=0' for 'n=3' under spawn",
                                   "    fix: Pass the state to the child explicitly (as an argument)"]
    assert ("1. state.py on Linux py3.14 spawn: fail: main process exited 1, expected 0<br>error: KeyError: "
            "'config'<br>output_differs: stdout differs") in report.markdown(merged)


def test_a_passing_cell_whose_output_differs_is_marked_and_noted() -> None:
    """kit run's state.py: every cell passes but spawn's and forkserver's output differ from fork's
    (kit run exits 1). The report marks and notes them, and does not call the row the same
    everywhere; the broken variant (statuses only) said "pass under every start method"."""
    from kit.outcomes import Code
    from kit.results import Diagnosis

    rs = script_runs("fork", {"fork": Status.PASS, "spawn": Status.PASS, "forkserver": Status.PASS})
    for r in rs[1:]:
        r.diagnoses = [Diagnosis(Code.OUTPUT_DIFFERS, f"stdout differs from fork on host (-n=3 | +n=0) under "
                                 f"{r.method}", "Pass the value to the child as an argument")]
    merged = report.merge(rs)
    text = report.text(merged)
    row = next(line for line in text.splitlines() if line.startswith("state.py"))
    assert row.split()[1:] == ["pass", "!pass", "[1]", "!pass", "[2]"], row
    assert "    output_differs: stdout differs from fork on host (-n=3 | +n=0) under spawn" in text
    assert "pass under every start method it can run" not in text
    assert "state.py: the run found a difference (output or tests) on Linux py3.14 spawn, Linux py3.14 forkserver" \
        in " ".join(text.split())


def runner_file(tmp_path: Path, name: str, machine: str = "x86_64", spawn: Status = Status.PASS) -> str:
    """A Linux runner's results (CPython 3.12, hello under fork and spawn) as a JSON file."""
    from kit.results import PlatformInfo

    here = PlatformInfo("Linux", "3.12.3", "CPython", "fork", ["fork", "spawn", "forkserver"], 4, machine)
    rs = [RunResult("hello", Method.FORK, Status.PASS, "ok", platform=here),
          RunResult("hello", Method.SPAWN, spawn, "ok" if spawn is Status.PASS else "exit 1", platform=here)]
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    return write(tmp_path, name, rs)


@pytest.mark.slow
def test_two_runners_of_one_platform_and_python_keep_their_own_columns(tmp_path: Path) -> None:
    """Two Linux runners, both CPython 3.12, whose files differ only in the machine, or only in the
    file (the reusable workflow's artifacts, each a kit.json): each keeps its columns, named by what
    differs, and neither's failure is lost.  The broken variant (one column per OS and Python) let
    the second file overwrite the first's cells: a failing runner could vanish from the table."""
    arm = report.read_files([runner_file(tmp_path, "x86.json", spawn=Status.FAIL),
                             runner_file(tmp_path, "arm.json", machine="aarch64")])
    merged = report.merge_files(arm)
    assert [c.place for c in merged.columns] == ["Linux (aarch64)"] * 2 + ["Linux (x86_64)"] * 2
    assert merged.rows["hello"][report.Column("Linux (x86_64)", "3.12", "spawn")].status is Status.FAIL
    assert report.merge(report.load_files(list(arm))).rows["hello"][report.Column("Linux", "3.12", "spawn")].status \
        is Status.PASS  # the broken variant: the failure overwritten, silently

    same = [runner_file(tmp_path, "ubuntu-22.04/kit.json", spawn=Status.FAIL),
            runner_file(tmp_path, "ubuntu-24.04/kit.json")]
    merged = report.merge_files(report.read_files(same))
    assert {c.place for c in merged.columns} == {"Linux (ubuntu-22.04/kit.json)", "Linux (ubuntu-24.04/kit.json)"}
    assert len(merged.results) == 4 and merged.duplicates == 0
    text = report.text(merged, 120)
    assert "Linux (ubuntu-22.04/kit.json)" in text and "!fail" in text, text
    assert "hello on Linux (ubuntu-22.04/kit.json) py3.12 spawn: fail: exit 1" in text

    r = kit("report", *same, "--json", str(tmp_path / "merged.json"))  # the command line reads files the same way
    assert r.returncode == 1 and "Linux (ubuntu-24.04/kit.json)" in r.stdout, r.stdout + r.stderr
    assert len(json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))) == 4


def test_files_of_one_runner_with_different_cells_share_its_columns(tmp_path: Path) -> None:
    """A run completed by another on the same platform (other examples) is not a collision: one
    column per method, no file names in the header; the same file given twice neither."""
    first = runner_file(tmp_path, "a.json")
    other = tmp_path / "b.json"
    other.write_text(Path(first).read_text(encoding="utf-8").replace('"hello"', '"join"'), encoding="utf-8")
    merged = report.merge_files(report.read_files([first, str(other), first]))
    assert [c.place for c in merged.columns] == ["Linux", "Linux"] and set(merged.rows) == {"hello", "join"}
