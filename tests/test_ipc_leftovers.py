"""A killed run leaves nothing in /dev/shm: its named semaphores and shared memory are unlinked.

multiprocessing's resource tracker unlinks what a script left as the script's processes end;
a run the kit kills (here at its timeout) loses its tracker too, and each name would stay in
/dev/shm until reboot (60 of them after one run of this test suite before the kit did this).
``kit.probe`` records what is handed to the tracker; ``kit.runner.unlink_left`` unlinks what
is left once the run is over.  Linux only (/dev/shm is where the names can be looked for).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import explain, run_bounded, variant

from kit import _platform
from kit.catalogue import script_subject

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/dev/shm").is_dir(),
                                reason="named semaphores are looked for in /dev/shm (Linux)")


def _names(stdout: str) -> dict[str, str]:
    """kind -> name printed by the script (the semaphore's is None under fork)."""
    out = {}
    for line in stdout.splitlines():
        kind, _, name = line.partition(" ")
        if kind in ("semaphore", "shared_memory") and name != "None":
            out[kind] = name
    return out


def _path(kind: str, name: str) -> Path:
    return Path("/dev/shm") / (("sem." if kind == "semaphore" else "") + name.lstrip("/"))


def test_a_killed_run_leaves_no_semaphore_and_no_shared_memory(method: str) -> None:
    r = run_bounded(script_subject(variant("ipc_held")), method, timeout=3.0)
    assert r.status == "timeout", explain(r)
    names = _names(r.stdout)
    assert "shared_memory" in names and ("semaphore" in names) == (method != "fork"), r.stdout
    assert [k for k, n in names.items() if _path(k, n).exists()] == []
    kit_said = [w for w in r.warnings if w.startswith("kit: ")]
    assert len(kit_said) == 1 and all(n in kit_said[0] for n in names.values()), r.warnings


@pytest.mark.slow
def test_the_check_catches_a_kit_that_leaves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken variant: the kit unlinks nothing; the names stay and the test above would fail."""
    monkeypatch.setattr(_platform, "unlink_left", lambda rtype, name: False)
    r = run_bounded(script_subject(variant("ipc_held")), "spawn", timeout=3.0)
    names = _names(r.stdout)
    left = [(k, n) for k, n in names.items() if _path(k, n).exists()]
    for k, n in left:  # clean up after the broken kit
        monkeypatch.undo()
        _platform.unlink_left(k, n)
    assert sorted(k for k, _ in left) == ["semaphore", "shared_memory"], (names, r.warnings)
    assert not [w for w in r.warnings if w.startswith("kit: ")]


def test_a_tidy_run_gets_no_word_and_nothing_is_unlinked_twice(method: str) -> None:
    r = run_bounded(script_subject(variant("ipc_held"), args=("--clean",)), method)
    assert r.status == "pass", explain(r)
    assert not [w for w in r.warnings if w.startswith("kit: ")], r.warnings
    assert [k for k, n in _names(r.stdout).items() if _path(k, n).exists()] == []


def test_a_name_the_script_made_up_never_ends_the_kit() -> None:
    """The names come from the run (a script may register anything): unknown, absent, malformed,
    or of a kind whose cleanup takes no name -- nothing unlinked, nothing raised."""
    assert _platform.unlink_left("semaphore", "/mp-never-made") is False
    assert _platform.unlink_left("semaphore", "/x\0y") is False  # sem_unlink raises ValueError
    assert _platform.unlink_left("noop", "/x") is False
    assert _platform.unlink_left("no such kind", "/x") is False
