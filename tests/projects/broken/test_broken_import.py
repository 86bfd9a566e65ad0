"""A test file that cannot be collected: it imports a module nobody installed."""
from __future__ import annotations

import kit_no_such_module  # type: ignore[import-not-found]  # noqa: F401


def test_never_collected() -> None:
    pass
