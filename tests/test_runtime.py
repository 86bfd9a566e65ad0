"""kit.runtime: the run-time modules staged for a foreign interpreter, and the launcher's ``sys.path``.

A venv made with ``--without-pip`` and no system packages cannot import psutil: the staged
runtime must work there, and a script run through the launcher must see exactly the ``sys.path``
that ``python script.py`` gives it, in the main process and in a child, under every method.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import require_method

from kit import interpreter, runtime
from kit.events import load

pytestmark = pytest.mark.slow  # runs interpreters and pytest


SHOW = """\
import json, multiprocessing as mp, sys
def child(q):
    q.put(sys.path)
if __name__ == "__main__":
    q = mp.Queue()
    p = mp.Process(target=child, args=(q,))
    p.start()
    print(json.dumps({"main": sys.path, "child": q.get(), "method": mp.get_start_method()}))
    p.join()
"""


def outside_imports(source: str, allowed_kit: set[str]) -> list[str]:
    """The modules ``source`` imports (anywhere in it) that are neither the standard library nor staged."""
    bad = []
    tree = ast.parse(source)
    for block in ast.walk(tree):  # what only mypy reads is not imported at run time
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "kit" else [])
        for name in names:
            top = name.split(".")[0]
            if top == "kit":
                if name != "kit" and name.split(".")[1] not in allowed_kit:
                    bad.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                bad.append(name)
    return bad


def test_staged_modules_use_the_standard_library_only() -> None:
    staged = {m[:-3] for m in runtime.MODULES}
    for name in (*runtime.MODULES, "_hook/sitecustomize.py"):
        assert outside_imports((runtime.PACKAGE / name).read_text(encoding="utf-8"), staged) == [], name
    # broken variants: a probe that imports psutil, or a kit module that is not staged
    assert outside_imports("def f():\n    import psutil\n", staged) == ["psutil"]
    assert outside_imports("if TYPE_CHECKING:\n    import pytest\nimport pytest\n", staged) == ["pytest"]
    assert outside_imports("from kit import events\nfrom kit.runner import run\n", staged) == [
        "kit.events", "kit.runner"]


def test_staging_is_keyed_by_contents_and_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results: list[runtime.Runtime] = []
    threads = [threading.Thread(target=lambda: results.append(runtime.stage(tmp_path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.root for r in results}) == 1
    rt = results[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [rt.root.name]  # no half-copies left
    assert sorted(str(p.relative_to(rt.root)) for p in rt.root.rglob("*.py")) == sorted(runtime.contents())
    init = (rt.lib_dir / "kit" / "__init__.py").read_text()
    assert "import" not in init.split('"""')[-1] and "STAGED = True" in init
    assert rt.pythonpath("/x") == os.pathsep.join([str(rt.hook_dir), str(rt.lib_dir), "/x"])
    (rt.lib_dir / "kit" / "probe.py").write_text("broken")  # a damaged copy is replaced, never trusted
    assert runtime.stage(tmp_path) == rt and runtime.holds(rt.root, runtime.contents())
    changed = dict(runtime.contents(), **{"lib/kit/env.py": b"EVENTS = 'X'\n"})
    monkeypatch.setattr(runtime, "contents", lambda: changed)
    assert runtime.stage(tmp_path).root != rt.root  # another kit's files: another folder
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert runtime.stage(blocked / "sub").root.parent == Path(runtime.tempfile.gettempdir(), "kit-runtime")


def test_a_kit_that_lost_the_race_uses_the_winners_copy_and_never_removes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another kit's complete copy lands between this kit's first look and its rename: it is used
    as it stands (same inode), not removed and replaced under the kit already using it.  Broken
    variant (removing whatever stands there before renaming): another kit's fresh copy is deleted
    while its runs import from it, and a third kit's rename then fails (CI saw it fall back to
    the temporary folder)."""
    won = runtime.stage(tmp_path)
    inode = won.root.stat().st_ino
    real_holds = runtime.holds
    looks: list[Path] = []

    def first_look_misses(folder: Path, files: dict[str, bytes]) -> bool:
        looks.append(folder)
        return len(looks) > 1 and real_holds(folder, files)

    monkeypatch.setattr(runtime, "holds", first_look_misses)
    assert runtime.stage(tmp_path) == won
    assert won.root.stat().st_ino == inode and real_holds(won.root, runtime.contents())
    assert sorted(p.name for p in tmp_path.iterdir()) == [won.root.name]  # its own copy removed


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv of this Python with nothing installed (psutil is in the kit's environment, not here)."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return str(folder / "bin" / "python")


def run_show(python: str, args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_script_sees_python_scripts_sys_path(method: str, bare_venv: str, tmp_path: Path) -> None:
    """Run from another folder: the script's folder first, no current folder, no kit: as ``python script.py``."""
    require_method(method)
    assert not interpreter.can_import(bare_venv, "psutil") and interpreter.can_import(sys.executable, "psutil")
    rt = runtime.stage(tmp_path / "cache")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "show.py").write_text(SHOW)
    (tmp_path / "elsewhere").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KIT_EVENTS")}
    bare = run_show(bare_venv, ["../project/show.py"], tmp_path / "elsewhere", env)
    events = tmp_path / "events"
    events.mkdir()
    kit_env = dict(env, PYTHONPATH=rt.pythonpath(), KIT_EVENTS=str(events))
    got = run_show(bare_venv, ["-m", "kit.launcher", method, "../project/show.py"], tmp_path / "elsewhere", kit_env)
    assert got["method"] == method
    assert got["main"] == bare["main"] and got["child"] == bare["main"]
    assert bare["main"][0] == str(tmp_path / "project")  # type: ignore[index]
    kinds = {e.kind for e in load(str(events))}
    assert {"script_start", "process_started", "top_level"} <= kinds  # the probe ran in that venv

    # broken variants, each caught by the same comparison: the launcher as it was (the current folder
    # kept) and a runtime the launcher does not take off sys.path (the kit's folder left there)
    old = tmp_path / "old"
    shutil.copytree(rt.root, old)
    launcher = old / "lib" / "kit" / "launcher.py"
    launcher.write_text(launcher.read_text().replace(
        "script_path(target)\n", "sys.path.insert(0, os.path.dirname(os.path.realpath(target)))\n", 1))
    old_env = dict(kit_env, PYTHONPATH=runtime.Runtime(old).pythonpath())
    was = run_show(bare_venv, ["-m", "kit.launcher", method, "../project/show.py"], tmp_path / "elsewhere", old_env)
    assert was["main"] == [str(tmp_path / "project"), str(tmp_path / "elsewhere"), *bare["main"][1:]]  # type: ignore[index]
    init = old / "lib" / "kit" / "__init__.py"
    init.write_text(init.read_text().replace("STAGED = True", ""))
    launcher.write_text((rt.lib_dir / "kit" / "launcher.py").read_text())
    left = run_show(bare_venv, ["-m", "kit.launcher", method, "../project/show.py"], tmp_path / "elsewhere", old_env)
    assert str(old / "lib") in left["main"] and left["main"] != bare["main"]  # type: ignore[operator]


def test_a_module_keeps_the_current_folder_as_python_m_does(bare_venv: str, tmp_path: Path) -> None:
    rt = runtime.stage(tmp_path / "cache")
    (tmp_path / "show_mod.py").write_text(SHOW)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KIT_EVENTS")}
    bare = run_show(bare_venv, ["-m", "show_mod"], tmp_path, env)
    got = run_show(bare_venv, ["-m", "kit.launcher", "spawn", "-m", "show_mod"], tmp_path,
                   dict(env, PYTHONPATH=rt.pythonpath()))
    assert got["main"] == bare["main"] and bare["main"][0] == str(tmp_path)  # type: ignore[index]


def test_a_script_that_imports_what_only_the_kit_has_fails_as_bare(bare_venv: str, tmp_path: Path) -> None:
    """The point of staging: psutil is the kit's, not the user's; under the kit too it is missing."""
    rt = runtime.stage(tmp_path / "cache")
    script = tmp_path / "uses_psutil.py"
    script.write_text("import psutil\n")
    env = dict({k: v for k, v in os.environ.items() if k != "KIT_EVENTS"}, PYTHONPATH=rt.pythonpath())
    done = subprocess.run([bare_venv, "-m", "kit.launcher", "fork", str(script)], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1 and "No module named 'psutil'" in done.stderr


@pytest.mark.slow
def test_bytecode_is_written_once_for_the_users_python(tmp_path: Path) -> None:
    rt = runtime.stage(tmp_path)
    tag = sys.implementation.cache_tag
    assert rt.compile_for(sys.executable, tag)
    assert (rt.lib_dir / "kit" / "__pycache__" / f"probe.{tag}.pyc").exists()
    assert not runtime.Runtime(tmp_path / "nowhere").compile_for("/no/such/python", None)
