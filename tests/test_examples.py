"""Every example of the catalogue under every start method must pass its own checks.

One test body, parametrized over ``EXAMPLES`` x start methods (the way
CPython's ``install_tests_in_module_dict`` installs one test class per start
method); methods the platform lacks are skipped.
"""
from __future__ import annotations

import pytest
from support import explain, run_bounded

from kit.catalogue import select
from kit.runner import example_subject


@pytest.mark.parametrize("name", select(["article"]))
def test_example_passes(name: str, method: str) -> None:
    """The article's example shows what the article says, under this start method (the pitfalls
    have their own module).  A CPU check on a busy machine is inconclusive by the kit's own
    measure, never a failure; anything else must pass."""
    result = run_bounded(example_subject(name), method, timeout=30)
    if result.status == "inconclusive":
        assert name == "cpu" and "other processes used" in result.reason, explain(result)
        pytest.skip(f"machine busy: {result.reason}")
    assert result.status == "pass", explain(result)
