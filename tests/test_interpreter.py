"""kit.interpreter: which Python runs the user's code, asked once; refused with a remedy when it cannot.

Real interpreters: this Python, a venv made from it (with and without pytest), Debian's
``/usr/bin/python3`` and pyenv's older Pythons where the machine has them.
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from kit import errors, interpreter
from kit.interpreter import InterpreterNotFound, InterpreterNotRunnable, InterpreterTooOld


pytestmark = pytest.mark.slow  # runs interpreters, git or pip


def older_python(prefix: str) -> str | None:
    found = [p for p in (Path("/usr/bin") / f"python{prefix}",) if p.exists()]
    found += sorted((Path.home() / ".pyenv" / "versions").glob(f"{prefix}.*/bin/python{prefix}"))
    return str(found[-1]) if found else None


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("interp") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return folder


def test_this_python_is_described() -> None:
    found = interpreter.query(sys.executable)
    assert found.version == tuple(sys.version_info[:3]) and found.implementation == "CPython"
    assert found.executable == sys.executable and found.cache_tag == sys.implementation.cache_tag
    assert found.pytest_version == pytest.__version__ and found.pytest_error is None
    assert found.describe() == f"{sys.executable} (CPython {found.version_text})"
    assert found.to_json()["version"] == ".".join(map(str, sys.version_info[:3]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.path = "/elsewhere"  # type: ignore[misc]


def test_a_venv_is_kept_as_given_and_lacks_what_the_kit_has(venv: Path) -> None:
    python = venv / "bin" / "python"
    assert python.is_symlink()
    found = interpreter.find(str(python))
    assert found.path == str(python) and found.executable == str(python) and found.source == "--python"
    assert found.pytest_version is None and found.pytest_error == "ModuleNotFoundError: No module named 'pytest'"
    assert not interpreter.can_import(found, "psutil") and not interpreter.can_import(found, "pytest")
    assert interpreter.can_import(sys.executable, "psutil") and interpreter.can_import(found, "json")
    assert not interpreter.can_import(found, "no_such.sub") and not interpreter.can_import("/no/python", "json")


def test_debians_python() -> None:
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3")
    found = interpreter.query("/usr/bin/python3")
    assert found.version >= (3, 9) and found.path == "/usr/bin/python3"


def test_the_choice(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    assert interpreter.choose(python, {"VIRTUAL_ENV": "/x"}) == (python, "--python")  # --python first
    assert interpreter.choose(None, {"VIRTUAL_ENV": str(venv), "PATH": ""}) == (python, "VIRTUAL_ENV")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    assert interpreter.choose(None, {"PATH": str(bin_dir)}) == (str(bin_dir / "python3"), "PATH")  # not resolved
    with pytest.raises(InterpreterNotFound) as stale:
        interpreter.choose(None, {"VIRTUAL_ENV": str(tmp_path / "gone"), "PATH": str(bin_dir)})
    assert "VIRTUAL_ENV=" in str(stale.value) and "--python PATH" in str(stale.value)
    with pytest.raises(InterpreterNotFound):
        interpreter.choose(None, {"PATH": str(tmp_path / "empty")})
    with pytest.raises(InterpreterNotFound) as missing:
        interpreter.choose(str(tmp_path / "nope"))
    assert missing.value.exit_code == errors.USAGE and isinstance(missing.value, errors.UsageError)
    assert str(missing.value).endswith(InterpreterNotFound.remedy)


@pytest.mark.parametrize("prefix", ["3.8", "2.7"])
def test_an_older_python_is_refused(prefix: str) -> None:
    old = older_python(prefix)
    if old is None:
        pytest.skip(f"no Python {prefix} on this machine")
    with pytest.raises(InterpreterTooOld) as refused:
        interpreter.query(old)
    assert f"is Python {prefix}." in str(refused.value) and "3.9 and newer" in str(refused.value)
    assert refused.value.exit_code == errors.USAGE


def test_what_is_not_a_python_is_refused(tmp_path: Path) -> None:
    liar = tmp_path / "python"
    liar.write_text("#!/bin/sh\necho 'Python 3.12.0'\n")
    liar.chmod(0o755)
    with pytest.raises(InterpreterNotRunnable, match="exit status 0"):
        interpreter.query(str(liar))
    crash = tmp_path / "crash"
    crash.write_text("#!/bin/sh\necho 'libpython3.12.so: cannot open shared object file' >&2\nexit 127\n")
    crash.chmod(0o755)
    with pytest.raises(InterpreterNotRunnable, match="exit status 127: libpython3.12.so: cannot open"):
        interpreter.query(str(crash))
    plain = tmp_path / "plain"
    plain.write_text("not a program")
    with pytest.raises(InterpreterNotRunnable, match="cannot run"):
        interpreter.query(str(plain))
    with pytest.raises(InterpreterNotFound):
        interpreter.query(str(tmp_path / "missing"))


def test_noise_before_the_answer_is_ignored(tmp_path: Path) -> None:
    """A sitecustomize (or a wrapper) that prints first: the answer is still read."""
    noisy = tmp_path / "noisy"
    noisy.write_text(f"#!/bin/sh\necho 'welcome to this machine'\nexec {sys.executable} \"$@\"\n")
    noisy.chmod(0o755)
    assert interpreter.query(str(noisy)).version == tuple(sys.version_info[:3])
