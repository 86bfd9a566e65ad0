"""A run's stdout and stderr, read from pipes as they come and kept bounded.

A run may print without end (3 s of ``print`` in a loop is about a gigabyte): each stream
keeps its first and last ``CAP_BYTES // 2`` bytes and counts what it dropped between, so the
kit's memory stays flat and everything done with the text afterwards is linear in a bounded
size.  Pipes, not files, so nothing fills the disk either; an orphan that inherited a pipe
keeps it open, so readers are joined with a deadline after the run's processes are killed.
"""
from __future__ import annotations

import os
import threading

from kit.observation import Output
import contextlib

CAP_BYTES = 10 * 1024 * 1024
_CHUNK = 1 << 16


class Capture:
    """Drain one pipe in a thread, keeping its head and tail."""

    def __init__(self, fd: int, cap: int = CAP_BYTES) -> None:
        self.fd = fd
        self.half = max(1, cap // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._drain, name=f"kit-capture-{fd}", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, _CHUNK)
                if not chunk:
                    return
                self.total += len(chunk)
                room = self.half - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self.tail += chunk
                    if len(self.tail) > 2 * self.half:  # trim in bulk: amortised linear
                        del self.tail[: len(self.tail) - self.half]
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def finish(self, timeout: float = 2.0) -> Output:
        """Wait (bounded) for end-of-file; what arrived so far is the stream."""
        self._thread.join(timeout)
        tail = bytes(self.tail[-self.half:]) if len(self.tail) > self.half else bytes(self.tail)
        kept = len(self.head) + len(tail)
        dropped = max(0, self.total - kept)
        text = self.head.decode("utf-8", "replace")
        if dropped:
            text += f"\n[kit: {dropped:,} bytes dropped here; {self.total:,} in all]\n"
        text += tail.decode("utf-8", "replace")
        return Output(text=text, total_bytes=self.total, dropped_bytes=dropped)
