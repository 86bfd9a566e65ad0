"""The article's examples, one module each, run as ``__main__`` by the launcher.

Never import these modules to run them: ``guard`` and ``queue`` do their work
at import time, exactly as in the article.  Every example process (and every spawn child,
which imports its example again) imports this package: it imports nothing itself.
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported (mypy knows the name)
if TYPE_CHECKING:
    from pathlib import Path


def path_of(name: str) -> Path:
    from pathlib import Path

    return Path(__file__).resolve().parent / f"{name}.py"
