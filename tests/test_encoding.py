"""The article's Chinese messages on consoles that are not UTF-8 (Windows' cp1252, say)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.runner import example_subject, run

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = "我是一个进程"

pytestmark = pytest.mark.slow  # every test starts Python processes


def test_a_cp1252_child_cannot_print_the_article_by_itself() -> None:
    """The failure the kit must prevent: without forcing UTF-8, printing the message crashes."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-c", f"print({MESSAGE!r})"], capture_output=True, env=env)
    assert done.returncode == 1
    assert b"UnicodeEncodeError" in done.stderr


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_children_print_the_article_intact_under_a_cp1252_environment(
        monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """The kit forces UTF-8 on the run's processes, whatever the caller's encoding."""
    if method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    monkeypatch.setenv("PYTHONIOENCODING", "cp1252")
    monkeypatch.setenv("PYTHONUTF8", "0")
    r = run(example_subject("hello"), method)
    assert r.status == "pass", r.reason
    assert MESSAGE in r.stdout
    assert "UnicodeEncodeError" not in r.stderr


def test_the_cli_escapes_instead_of_crashing_on_a_cp1252_console() -> None:
    """``kit list`` names the message; on a cp1252 stdout it is escaped, not a traceback."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-m", "kit", "list"], capture_output=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert MESSAGE.encode("ascii", "backslashreplace") in done.stdout
