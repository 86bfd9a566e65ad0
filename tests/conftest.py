"""Fixtures and hooks of the kit's tests; the helpers they share are in tests/support.py.

* ``no_leftover_processes`` (autouse): fails a test that leaves any process behind: a new
  descendant of pytest, or any process carrying this session's marker in its environment
  (a ``kit.launcher`` or an orphan that escaped the tree).
* ``method``: every known start method, skipping the ones the platform lacks.
* ``--run-docker``: the container tests are opt-in here, required in CI.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support import ALL_METHODS, describe, our_processes, reap_children, require_method

collect_ignore_glob = ["variants/*", "projects/*"]  # broken scripts and small projects to run, not test modules


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail the test that leaves a process behind (and clean up, so later tests start clean).

    Covers new descendants of pytest and every ``kit.launcher`` (or any other
    process) started by this session, wherever it re-parented.  A
    ``kit.launcher`` without this session's marker belongs to someone else on
    the machine (e.g. a containerised ``kit matrix``, visible in the host's
    process table) and is deliberately not this test's fault.
    """
    before = set(our_processes())
    yield
    left = {k: p for k, p in our_processes().items() if k not in before}
    if not left:
        return
    lines = [describe(p) for p in left.values()]
    reap_children(left.values())
    pytest.fail(f"{len(lines)} process(es) left behind by this test:\n  " + "\n  ".join(lines))


@pytest.fixture(params=ALL_METHODS)
def method(request: pytest.FixtureRequest) -> str:
    """Every known start method; skipped where the platform lacks it (also via indirect parametrize)."""
    require_method(request.param)
    return request.param


# -- container tests: opt-in here, required in CI --------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-docker", action="store_true", default=False,
                     help="run the tests marked docker (they build an image and start containers)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.docker`` tests unless ``--run-docker`` or ``KIT_REQUIRE_DOCKER=1`` (CI), where
    ``tests/test_container.py`` fails them when no daemon answers."""
    if config.getoption("--run-docker") or os.environ.get("KIT_REQUIRE_DOCKER") == "1":
        return
    skip = pytest.mark.skip(reason="needs Docker: add --run-docker (e.g. nox -s tests -- --run-docker)")
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.add_marker(skip)
