from __future__ import annotations


def test_fine() -> None:
    pass
