"""The article's own code, where it differs from the kit's examples, and what it really does.

The article's Lock example starts ten processes and never joins them
(tests/variants/article_lock.py; kit/examples/lock.py adds the joins).
"""
from __future__ import annotations

import re

import pytest
from support import explain, run_bounded, variant

from kit.runner import script_subject


@pytest.mark.parametrize("method", ["spawn"], indirect=True)
def test_article_lock_without_join_kills_every_spawned_child(method: str) -> None:
    """Documented pitfall: main exits at once, its exit handler unlinks the Lock's semaphore, and each
    spawned child dies unpickling the Lock with FileNotFoundError; nothing is printed."""
    r = run_bounded(script_subject(variant("article_lock")), method)
    # The main process itself is fine: exit 0, no orphan -- the failure is only in the children,
    # and that fails the run (a script's children must exit cleanly), with the death diagnosed.
    assert r.status == "fail" and r.exitcode == 0, explain(r)
    assert "child process(es) died with an error" in r.reason, explain(r)
    (died,) = [d for d in r.diagnoses if d.code == "worker_died"]
    assert died.message.startswith("10 child process(es) died under spawn: FileNotFoundError"), died
    assert r.stdout.split() == [], f"a child got the lock:\n{explain(r)}"
    # Ten children wrote their tracebacks into one file at once, each piece a write of its own: the
    # lines interleave, and so may the pieces of a line ("FileNotFoundErrorFileNotFoundError: ...",
    # seen in CI), so the error names are found without word boundaries.
    assert r.stderr.count("Traceback (most recent call last)") == 10, r.stderr
    assert r.stderr.count("FileNotFoundError") == 10, r.stderr
    assert "SemLock._rebuild" in r.stderr
    assert set(re.findall(r"[A-Z][A-Za-z]*?Error", r.stderr)) == {"FileNotFoundError"}, r.stderr


@pytest.mark.parametrize("method", ["fork"], indirect=True)
def test_article_lock_without_join_works_under_fork(method: str) -> None:
    """Under fork the children inherit the semaphore instead of reopening it by name: 0..9 are printed."""
    r = run_bounded(script_subject(variant("article_lock")), method)
    assert r.status == "pass", explain(r)
    assert sorted(r.stdout.split(), key=int) == [str(i) for i in range(10)], explain(r)
    assert "Error" not in r.stderr, r.stderr
