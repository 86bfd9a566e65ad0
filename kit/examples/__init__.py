"""The article's examples, one module each, run as ``__main__`` by the launcher.

Never import these modules to run them: ``guard`` and ``queue`` do their work
at import time, exactly as in the article.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def path_of(name: str) -> Path:
    return HERE / f"{name}.py"
