"""One test per outcome the kit records (a project for tests/test_pytest_plugin.py, not a test module of the kit)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def broken_setup() -> None:
    raise RuntimeError("fixture could not be set up")


@pytest.fixture
def broken_teardown() -> Iterator[None]:
    yield
    raise RuntimeError("fixture could not be torn down")


def test_passes() -> None:
    assert 1 + 1 == 2


def test_fails() -> None:
    assert 1 + 1 == 3, "arithmetic is broken"


def test_raises() -> None:
    raise ValueError("a value\nover two lines")


def test_skipped() -> None:
    pytest.skip("not on this machine")


@pytest.mark.skip(reason="marked to skip")
def test_skip_marker() -> None:
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail() -> None:
    raise AssertionError("still broken")


def test_xfail_imperative() -> None:
    pytest.xfail("given up at run time")


@pytest.mark.xfail(reason="fixed already?")
def test_xpass() -> None:
    pass


@pytest.mark.xfail(reason="must fail", strict=True)
def test_xpass_strict() -> None:
    pass


def test_setup_error(broken_setup: None) -> None:
    pass


def test_teardown_error(broken_teardown: None) -> None:
    pass


def test_fails_and_teardown_error(broken_teardown: None) -> None:
    raise AssertionError("the call failed too")


@pytest.mark.parametrize("n", [1, 2])
def test_param(n: int) -> None:
    assert n == 1
