"""Every example of the catalogue under every start method must pass its own checks.

One test body, parametrized over ``EXAMPLES`` x start methods (the way
CPython's ``install_tests_in_module_dict`` installs one test class per start
method); methods the platform lacks are skipped.
"""
from __future__ import annotations

import pytest
from conftest import FOREIGN_CORES_MAX, ForeignLoad, explain, run_bounded

from kit.catalogue import EXAMPLES
from kit.runner import example_target


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_passes(name: str, method: str) -> None:
    """The article's example shows what the article says, under this start method."""
    with ForeignLoad() as load:
        result = run_bounded(example_target(name), method, timeout=30)
    if name == "cpu" and result.status == "fail":
        failing = {v["check"] for v in result.checks if not v["ok"]}
        others = load.cores(result)
        if failing == {"real parallelism"} and others > FOREIGN_CORES_MAX:
            # The kit's own cores check stays as strict as it is; it just cannot
            # be judged while other processes take the CPUs it measures.
            pytest.skip(f"machine busy: other processes used {others:.2f} cores during the run "
                        f"({result.reason})")
    assert result.status == "pass", explain(result)
