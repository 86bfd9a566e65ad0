"""The files the kit writes for CI: JUnit XML (read back by a JUnit parser) and the step summary."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kit import junit
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
