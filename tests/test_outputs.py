"""The files the kit writes for CI: JUnit XML (read back by a JUnit parser) and the step summary; and how
an output path is tried before a run and kept elsewhere when it fails after (``kit.result_files``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kit import junit, result_files
from kit.errors import ResultsElsewhere, UsageError
from kit.outcomes import Code, Role, Status
from kit.results import PlatformInfo, RunResult

ROOT = Path(__file__).resolve().parent.parent


def result(example: str, method: str, status: Status, target: str = "host", **kw: object) -> RunResult:
    info = PlatformInfo("Linux", "3.11.7", "CPython", "fork", ["fork", "spawn", "forkserver"], 2, "x86_64", target)
    return RunResult(example, method, status, f"because {status}", platform=info, wall_s=0.5, **kw)  # type: ignore[arg-type]


def test_one_case_per_cell_and_failures_marked() -> None:
    rs = [result("hello", "fork", Status.PASS, stdout="hi\x1b[2J\n"), result("hello", "spawn", Status.FAIL),
          result("lock", "spawn", Status.TIMEOUT, target="docker:3.14"), result("guard", "fork", Status.ERROR),
          result("cpu", "fork", Status.INCONCLUSIVE)]
    root = ET.fromstring(junit.to_xml(rs).split("?>", 1)[1])
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == ["host/hello[fork]", "host/hello[spawn]", "host/guard[fork]", "host/cpu[fork]",
                           "docker:3.14/lock[spawn]"]
    assert cases["host/hello[fork]"].find("failure") is None
    assert cases["host/hello[spawn]"].find("failure").get("message") == "fail: because fail"  # type: ignore[union-attr]
    assert cases["docker:3.14/lock[spawn]"].find("failure") is not None
    assert cases["host/guard[fork]"].find("error") is not None
    assert cases["host/cpu[fork]"].find("skipped") is not None
    assert cases["host/hello[fork]"].findtext("system-out") == "hi[2J\n"  # control characters dropped
    host = next(s for s in root.iter("testsuite") if s.get("name") == "host")
    assert (host.get("tests"), host.get("failures"), host.get("errors"), host.get("skipped")) == ("4", "1", "1", "1")


def test_a_hung_cells_failure_carries_its_diagnosis_and_stacks() -> None:
    from kit.results import Diagnosis, ProcRecord

    stack = 'Current thread 0x1 (most recent call first):\n  File "/w/deadlock.py", line 8 in <module>\n'
    proc = ProcRecord(7, 1, "python", ["python"], 0.0, Role.MAIN, 0.0, 1.0, None, 0.1, stack=stack)
    quiet = ProcRecord(8, 7, "python", ["python"], 0.0, Role.WORKER, 0.0, 1.0, None, 0.1)
    hung = result("mine.py", "spawn", Status.TIMEOUT, processes=[proc, quiet],
                  diagnoses=[Diagnosis(Code.HANG, "still running after 3 s", "get before join")])
    root = ET.fromstring(junit.to_xml([hung]).split("?>", 1)[1])
    text = next(root.iter("failure")).text or ""
    assert text.startswith("hang: still running after 3 s\nfix: get before join\n")
    assert 'stacks of main (pid 7):\nCurrent thread 0x1' in text and "line 8 in <module>" in text
    assert "pid 8" not in text  # a process without a stack adds nothing


def test_a_junit_parser_reads_the_file(tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    path = tmp_path / "out.xml"
    path.write_text(junit.to_xml([result("hello", "fork", Status.PASS), result("hello", "spawn", Status.FAIL)]),
                    encoding="utf-8")
    xml = junitparser.JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    assert [c.name for c in cases] == ["host/hello[fork]", "host/hello[spawn]"]
    assert [c.is_passed for c in cases] == [True, False]


def test_the_step_summary_is_appended_only_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(junit.STEP_SUMMARY, raising=False)
    assert junit.append_step_summary("| a |") is None
    path = tmp_path / "summary.md"
    path.write_text("before\n", encoding="utf-8")
    monkeypatch.setenv(junit.STEP_SUMMARY, str(path))
    assert junit.append_step_summary("| a |") == str(path)
    assert path.read_text(encoding="utf-8") == "before\n| a |\n\n"


@pytest.mark.slow
def test_matrix_writes_junit_and_the_summary(tmp_path: Path) -> None:
    out, summary = tmp_path / "m.xml", tmp_path / "summary.md"
    env = {**__import__("os").environ, junit.STEP_SUMMARY: str(summary)}
    r = subprocess.run([sys.executable, "-m", "kit", "matrix", "--targets", "host", "--examples", "hello",
                        "--methods", "fork", "--junit-xml", str(out), "--json", "-"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120, env=env, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 1
    assert [c.get("name") for c in ET.parse(out).getroot().iter("testcase")] == ["host/hello[fork]"]
    assert "| hello | pass" in summary.read_text(encoding="utf-8")


# -- output paths: tried before the run, kept elsewhere after (kit.result_files) ----------------------
def test_trying_a_path_leaves_nothing_behind(tmp_path: Path) -> None:
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    old.write_text("before\n", encoding="utf-8")
    os.utime(old, (1_000_000, 1_000_000))
    result_files.check(str(new), "--json")
    result_files.check(str(old), "--json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]  # no test file, no scratch file left
    assert old.read_text(encoding="utf-8") == "before\n" and old.stat().st_mtime == 1_000_000


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_device_that_refuses_writes_is_refused_though_permissions_allow_it() -> None:
    """The broken variant, a permission check (the kit's former os.access), lets /dev/full through."""
    assert os.access("/dev/full", os.W_OK)
    with pytest.raises(UsageError, match=r"^--json /dev/full: cannot write to it \(No space left on device\)$"):
        result_files.check("/dev/full", "--json")
    result_files.check(os.devnull, "--json")  # a device that takes writes is fine


def test_a_full_disk_is_refused_before_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (ENOSPC on the test byte) is refused for a new file and, by a scratch file beside it,
    for an existing one; a folder that merely refuses new files does not refuse a writable existing file."""
    def full(fd: int, data: bytes) -> int:
        if data:
            raise OSError(28, "No space left on device")
        return 0

    existing = tmp_path / "old.json"
    existing.write_text("before\n", encoding="utf-8")
    monkeypatch.setattr(result_files.os, "write", full)
    for path in (tmp_path / "new.json", existing):
        with pytest.raises(UsageError, match="No space left on device"):
            result_files.check(str(path), "--json")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]

    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(result_files.tempfile, "mkstemp", denied)
    result_files.check(str(existing), "--json")


def test_the_kept_file_is_named_by_the_kit_and_never_replaces_another(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = result_files.fallback_path("/dev/full", "--json", stamp="T")
    second = result_files.fallback_path("out/x.md", "--markdown", stamp="T")
    third = result_files.fallback_path("/dev/full", "--json", stamp="T")
    assert (first.name, second.name, third.name) == ("kit-results-T.json", "kit-results-T.md", "kit-results-T-1.json")
    assert first.parent == tmp_path
    monkeypatch.setattr(result_files.Path, "cwd", classmethod(lambda cls: tmp_path / "gone"))
    monkeypatch.setattr(result_files.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert result_files.fallback_path("r.json", stamp="T") == tmp_path / "tmp" / "kit-results-T.json"


def test_a_failed_write_is_kept_said_and_ends_the_command_with_its_status(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    files = result_files.ResultFiles({"--json": "out/r.json", "--markdown": "ok.md"})
    (tmp_path / "out").rmdir()
    files.write("out/r.json", "[]")
    files.write("ok.md", "| a |")
    assert (tmp_path / "ok.md").read_text(encoding="utf-8") == "| a |\n"
    with pytest.raises(ResultsElsewhere) as caught:
        files.finish()
    (kept,) = tmp_path.glob("kit-results-*.json")
    assert kept.read_text(encoding="utf-8") == "[]\n"
    assert str(caught.value).endswith(f"written to {kept} instead") and caught.value.exit_code == 4
    files.finish()  # said once

    said: list[str] = []
    files.write("out/r.json", "[1]")
    files.tell(said.append)  # interrupted: said, and the interrupt's status stands
    assert len(said) == 1 and said[0].startswith("kit: --json out/r.json: cannot write")
    files.finish()


def test_a_step_summary_that_cannot_be_written_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(junit.STEP_SUMMARY, str(tmp_path / "gone" / "summary"))
    files = result_files.ResultFiles({})
    files.step_summary("| a |")
    with pytest.raises(ResultsElsewhere, match=r"^\$GITHUB_STEP_SUMMARY .*: cannot write"):
        files.finish()
    (kept,) = tmp_path.glob("kit-results-*.txt")
    assert kept.read_text(encoding="utf-8").startswith("| a |")


@pytest.mark.parametrize("command", [["matrix", "--targets", "host", "--examples", "hello", "--methods", "fork"],
                                     ["run", "hello", "--method", "fork"]])
@pytest.mark.slow
def test_a_reader_that_went_away_costs_the_table_not_the_files(tmp_path: Path, command: list[str]) -> None:
    """``kit matrix --json out.json | head``: the table goes to a pipe nobody reads any more; the
    files are written all the same (broken variant, the former order: the table's broken pipe
    ended the command before its files, and out.json never appeared)."""
    out = tmp_path / "out.json"
    p = subprocess.Popen([sys.executable, "-m", "kit", *command, "--json", str(out), "-q"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=tmp_path)
    assert p.stdout is not None
    p.stdout.close()  # the reader is gone before the kit prints anything
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1, err  # a broken pipe, quietly
    assert [r["status"] for r in json.loads(out.read_text())] == ["pass"], err
