"""What every process of a run pays for the kit: the probe (imported by the run's
``sitecustomize`` in every interpreter), the launcher (every run's main process) and the
examples' support module (every example process, every spawn child re-importing one) import
nothing the user's script would not: no ``typing``, ``dataclasses``, ``pathlib`` or ``json`` (events
are written by ``kit._record.dumps``, json's own text from its C string escaping).

Nor does any of them compile the kit from source in every process: the runner compiles the kit's
own modules once (``runner.warm_bytecode``), so that ``PYTHONDONTWRITEBYTECODE`` (set in many
Dockerfiles and CI images) does not make each process of a run compile ``kit.probe`` again.

Each is a few ms per fresh interpreter; a host matrix starts about 300 processes, and its
CPU-bound floor is what sets how fast the matrix can be (BENCHMARKS.md (a)).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit import runner

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("typing", "dataclasses", "pathlib", "json")
PROBE = (
    "import sys; sys.path.insert(0, {root!r}); import {module}; "
    "print(' '.join(sorted(m for m in {heavy!r} if m in sys.modules)))"
)


def heavy_imports(module: str) -> list[str]:
    """Which of ``HEAVY`` importing ``module`` loads, in an interpreter without site (``-S``:
    no .pth file of this environment, an editable install's finder included, pulls any in)."""
    code = PROBE.format(root=str(ROOT), module=module, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.split()


@pytest.mark.slow
@pytest.mark.parametrize("module", ["kit.probe", "kit._record", "kit.launcher", "kit.examples._support"])
def test_what_every_process_of_a_run_imports_stays_light(module: str) -> None:
    assert heavy_imports(module) == []


@pytest.mark.slow
def test_the_check_sees_a_heavy_import() -> None:
    """The broken variant: the events reader (dataclasses, pathlib) is what the launcher used to import."""
    assert set(heavy_imports("kit.events")) >= {"dataclasses"}


def compiled_from_source(package: Path, tmp: Path) -> list[str]:
    """Modules of ``package`` that a run's process (the hook, the probe) compiles from source."""
    env = runner.child_env(str(tmp), 0.1) | {"PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(package / "_hook"), str(package.parent)])
    out = subprocess.run([sys.executable, "-v", "-c", "import multiprocessing"], env=env, capture_output=True,
                         text=True, timeout=30, check=True)
    return [line.rsplit("/", 1)[-1] for line in out.stderr.splitlines()
            if line.startswith("# code object from ") and str(package) in line and not line.endswith(".pyc'")]


def copy_of_kit(tmp: Path) -> Path:
    """The kit's package copied without any bytecode (what a fresh clone has)."""
    package = tmp / "src" / "kit"
    shutil.copytree(ROOT / "kit", package, ignore=shutil.ignore_patterns("__pycache__"))
    return package


@pytest.mark.slow
def test_every_process_of_a_run_loads_the_probe_from_bytecode(tmp_path: Path) -> None:
    package = copy_of_kit(tmp_path)
    assert runner.warm_bytecode(str(package)) is True
    assert compiled_from_source(package, tmp_path) == []


@pytest.mark.slow
def test_the_check_sees_a_probe_compiled_from_source(tmp_path: Path) -> None:
    """The broken variant: a fresh clone nobody compiled, with PYTHONDONTWRITEBYTECODE set."""
    package = copy_of_kit(tmp_path)
    assert {"sitecustomize.py", "probe.py", "_record.py"} <= set(compiled_from_source(package, tmp_path))


def test_a_folder_that_cannot_take_bytecode_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").write_text("a file where the folder would go")
    assert runner.warm_bytecode(str(tmp_path)) is False
    assert capsys.readouterr() == ("", "")


def test_recording_into_a_folder_that_is_gone_never_breaks_the_script(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that outlived its run (its events folder removed) still starts its threads; the
    broken variant, the same folder present, gets its event written."""
    from kit import _record

    monkeypatch.setenv(_record.ENV_DIR, str(tmp_path / "gone"))
    _record.record(_record.Ev.THREAD_STARTED, name="t")  # no exception
    monkeypatch.setenv(_record.ENV_DIR, str(tmp_path))
    _record.record(_record.Ev.THREAD_STARTED, name="t")
    assert (tmp_path / f"{os.getpid()}.jsonl").read_text().count("thread_started") == 1


EVENT_DATA = [
    {}, {"error": 'ValueError(\'a "quoted"\\n\tline\')', "name": "Process-1", "exitcode": -15},
    {"text": "我是一个进程 \u2028 \x00 \x1f \ud800", "emoji": "\U0001F600"},
    {"cpu_s": 0.1 + 0.2, "big": 2 ** 70, "neg": -0.0, "tiny": 5e-324, "huge": 1e308, "flag": True, "none": None},
    {"alive": [1, 2, 3], "pair": (4, "x"), "nested": {"a": [{"b": [None, False]}], "": ""}},
    {"nan": float("nan")}, {"inf": [float("inf"), float("-inf")]}, {"key": {1: "an int key"}},
    {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
]


@pytest.mark.parametrize("data", EVENT_DATA, ids=range(len(EVENT_DATA)))
def test_events_are_written_as_json_writes_them(data: object) -> None:
    from kit import _record

    assert _record.dumps(data) == json.dumps(data)


def test_what_json_would_refuse_is_refused_as_json_refuses_it() -> None:
    from kit import _record

    for bad in ({"o": object()}, {"s": {1, 2}}):
        with pytest.raises(TypeError):
            _record.dumps(bad)
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        _record.dumps({"loop": loop})


def test_the_check_sees_a_writer_that_does_not_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken variant: strings quoted without escaping (a quote, a newline, a non-ASCII character)."""
    from kit import _record

    monkeypatch.setattr(_record, "_quote", lambda s: '"' + s + '"')
    differ = [data for data in EVENT_DATA if _record.dumps(data) != json.dumps(data)]
    assert EVENT_DATA[1] in differ and EVENT_DATA[2] in differ


def test_runs_starting_together_compile_the_kit_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A matrix's workers all start a run at once: one compiles, the others use its answer (a cache
    filled after the lock let every worker compile the package again, one after the other, before
    its first run)."""
    import compileall
    import threading

    (tmp_path / "m.py").write_text("x = 1\n")
    calls: list[str] = []
    real = compileall.compile_dir

    def counted(folder: str, **kw: object) -> bool:
        calls.append(folder)
        time.sleep(0.05)  # long enough for every thread to be waiting
        return bool(real(folder, **kw))  # type: ignore[arg-type]

    monkeypatch.setattr(compileall, "compile_dir", counted)
    threads = [threading.Thread(target=runner.warm_bytecode, args=(str(tmp_path),)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [str(tmp_path)]
