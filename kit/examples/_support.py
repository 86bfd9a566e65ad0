"""What the examples add to the article's code: events and scaled sleeps.

``KIT_SCALE`` multiplies every sleep, so the default matrix is fast and
``--scale 1`` reproduces the article's timings.
"""
from __future__ import annotations

import os
import time

from kit.events import record

__all__ = ["record", "pause", "scale"]


def scale() -> float:
    return float(os.environ.get("KIT_SCALE", "1"))


def pause(seconds: float) -> None:
    """``time.sleep`` of the article, scaled."""
    time.sleep(seconds * scale())
