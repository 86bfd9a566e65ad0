"""``record()``: one timestamped event, appended by a process of a run to its own file.

Apart from ``kit.events`` (which reads them back) because every Python process of a run
imports it at start-up (``kit.probe``): it must cost next to nothing to import.
"""
from __future__ import annotations

import json
import os
import time

from kit import env

TYPE_CHECKING = False  # typing is not imported at start-up of every process (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

ENV_DIR = env.EVENTS


def record(kind: str, **data: Any) -> None:
    """Append one event; a no-op when the script runs outside the kit."""
    folder = os.environ.get(ENV_DIR)
    if not folder:
        return
    pid = os.getpid()
    line = json.dumps({"t": time.perf_counter_ns(), "pid": pid, "kind": kind, "data": data})
    fd = os.open(os.path.join(folder, f"{pid}.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


