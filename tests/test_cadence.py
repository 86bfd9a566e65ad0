"""The kit looks at a run often while its processes change, seldom while they do not (``kit.cadence``).

Pure: the interval doubles after looks that found nothing new, up to the slowest, and is the
fastest again after a change; without kernel-kept membership it never grows.  The watch loop:
an event written by the run wakes the kit (but not sooner than the fastest interval after the
last look, however much the run writes).  A real run: a child a Python process starts after a
quiet second, living less than the slowest interval, is still seen and named.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from support import run_bounded

from kit import cadence, events, runner
from kit._platform import Woke
from kit.cadence import EVENTS_S, FAST_S, READ_S, SLOW_S, Cadence
from kit.outcomes import Ev, Role, Status
from kit.runner import script_subject


def test_the_interval_grows_while_nothing_changes_and_falls_back_at_once() -> None:
    c = Cadence(adaptive=True)
    seen = [c.after(False) for _ in range(6)]
    assert seen[0] == 2 * FAST_S and seen == sorted(seen) and seen[-1] == SLOW_S
    assert c.after(True) == FAST_S
    assert c.after(False) == 2 * FAST_S


def test_without_kernel_kept_membership_the_interval_never_grows() -> None:
    """Sampling the process table: a process living less than an interval would be missed entirely."""
    c = Cadence(adaptive=False)
    assert {c.after(False) for _ in range(10)} == {FAST_S}


def test_processes_and_events_are_read_at_the_first_look_then_spaced() -> None:
    c = Cadence(adaptive=True)
    t = 10**9
    assert c.read_due(t) and c.events_due(t)
    assert not c.read_due(t + int(READ_S * 1e9) - 1) and not c.events_due(t + int(EVENTS_S * 1e9) - 1)
    assert c.read_due(t + int(READ_S * 1e9)) and c.events_due(t + int(EVENTS_S * 1e9))


NEWS = "news"
"""A scripted answer: a file created (heard unless the wait hears nothing of the folder)."""


class _Waiter:
    """An ExitWaiter that answers from a script of ``Woke`` flags and ``NEWS``: (seconds asked,
    writes heard, new files heard) are noted.  What a wait does not hear stays pending, as with
    poll(): the next wait that hears it returns at once."""

    def __init__(self, answers: list[Woke | str]) -> None:
        self.answers, self.asked = answers, []  # type: ignore[var-annotated]

    def wait(self, seconds: float, written: bool = True, news: bool | None = None) -> Woke:
        news = written if news is None else news
        self.asked.append((seconds, written, news))
        answer = self.answers[0] if self.answers else Woke.NOTHING
        if answer == NEWS:
            heard = Woke.WRITTEN if news else Woke.NOTHING
        else:
            assert isinstance(answer, Woke)
            heard = answer if written else answer & Woke.ENDED
        if heard:
            self.answers.pop(0)
        else:
            time.sleep(seconds)  # as poll() does when nothing happens
        return heard

    def close(self) -> None:
        pass


class _Written:
    def __init__(self) -> None:
        self.names: set[str] | None = set()
        self.later: list[set[str]] = []  # what the next wake-ups find, in turn

    def changed(self) -> set[str] | None:
        out, self.names = self.names, (self.later.pop(0) if self.later else set())
        return out

    def fileno(self) -> int:
        return -1

    def news_fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def _watch(waiter: _Waiter, written: _Written, folder: str) -> Any:
    reader = runner._Events(events.Reader(folder), written)  # noqa: SLF001 - the loop's parts under test
    observer: Any = type("O", (), {"kernel_kept": True})()
    return runner._Watch(None, observer, reader, None, None, waiter)  # type: ignore[arg-type]  # noqa: SLF001


def test_a_new_process_wakes_the_kit_but_never_sooner_than_the_fastest_interval() -> None:
    """A file written for the first time (a new process) wakes the wait; the rest of the fastest
    interval is slept woken by the end only."""
    with tempfile.TemporaryDirectory() as folder:
        written = _Written()
        written.names = {"7.stacks"}
        waiter = _Waiter([NEWS])
        watch = _watch(waiter, written, folder)
        assert watch._sleep(SLOW_S, time.perf_counter_ns() + 10**10) is False  # noqa: SLF001
        assert waiter.asked[0] == (pytest.approx(SLOW_S, abs=0.002), False, True)  # new files only
        assert len(waiter.asked) == 2 and waiter.asked[1][1:] == (False, False) and 0 < waiter.asked[1][0] <= FAST_S
        assert watch.reader._pending == {"7.stacks"}  # noqa: SLF001 - read at the next events look


def test_a_known_process_writing_never_wakes_the_kit() -> None:
    """Chatter of processes already known: not listened to at all (a look would learn nothing from
    it; what it says is read at the next events look), so a run that writes without pause costs
    no wake-up.  Broken variant (the former loop): woken by the first write of every sleep, then
    deaf to writes: two waits a sleep."""
    with tempfile.TemporaryDirectory() as folder:
        written = _Written()
        written.names = {"7.jsonl"}
        waiter = _Waiter([Woke.WRITTEN, Woke.WRITTEN])
        watch = _watch(waiter, written, folder)
        watch.reader.drain()  # 7.jsonl was seen before
        written.names = {"7.jsonl"}
        t0 = time.perf_counter()
        assert watch._sleep(0.05, time.perf_counter_ns() + 10**10) is False  # noqa: SLF001
        assert time.perf_counter() - t0 >= 0.045  # slept to the end of the interval
        assert [(w, n) for _, w, n in waiter.asked] == [(False, True)]  # one wait, deaf to writes


def test_a_new_process_is_heard_while_the_kit_is_deaf_to_known_writes() -> None:
    """A known process writes (its parent says it started a child), then the child creates its
    first file: the kit, deaf to the parent's writes, hears the new file and looks, rather than
    sleeping out the interval (a 50 ms child would be missed).  Broken variant: deaf to
    everything for the rest of the sleep."""
    with tempfile.TemporaryDirectory() as folder:
        written = _Written()
        written.names = {"7.jsonl"}
        waiter = _Waiter([])
        watch = _watch(waiter, written, folder)
        watch.reader.drain()  # 7.jsonl was seen before
        written.names = {"7.jsonl", "8.stacks"}
        waiter.answers = [NEWS]
        t0 = time.perf_counter()
        assert watch._sleep(SLOW_S, time.perf_counter_ns() + 10**10) is False  # noqa: SLF001
        assert time.perf_counter() - t0 < SLOW_S / 2  # looked early, not at the end of the interval
        assert [(w, n) for _, w, n in waiter.asked][:1] == [(False, True)]
        assert watch.reader._pending == {"7.jsonl", "8.stacks"}  # noqa: SLF001 - the child was heard


def test_a_process_that_announced_itself_does_not_hasten_the_next_look() -> None:
    """A new Python process of the run creates its file as it starts, and that wakes the kit: a look
    that found only such processes new lets the interval grow.  A process that ended, one that
    started without a file (a bare fork's exec, a subprocess), or a file whose process no look has
    listed yet: the next look comes at the fastest interval.  Broken variant (the former rule, any
    change): the announced start hastens the look too."""
    with tempfile.TemporaryDirectory() as folder:
        written = _Written()
        written.names = {"7.stacks", "8.stacks", "8.jsonl"}
        watch = _watch(_Waiter([]), written, folder)
        watch.reader.drain()
        watch.observer.seen = {1: None, 7: None, 8: None}
        assert watch.reader.announced == {7, 8}
        assert watch._changed({1}, {1}) is False  # noqa: SLF001
        assert watch._changed({1}, {1, 7, 8}) is False  # noqa: SLF001 - both announced themselves
        assert watch._changed({1, 7}, {1}) is True  # noqa: SLF001 - an end
        assert watch._changed({1}, {1, 9}) is True  # noqa: SLF001 - no file: nothing will wake the kit for it
        watch.observer.seen[9] = None  # the look that listed 9 admitted it
        written.names = {"9.stacks"}  # its file came after the last drain: drained now, and it counts
        assert watch._changed({1}, {1, 9}) is False  # noqa: SLF001
        watch.observer.seen[11] = None
        written.names = {"10.stacks", "11.stacks"}  # 10: a process the look did not list: look again soon
        assert watch._changed({1}, {1, 11}) is True  # noqa: SLF001
        assert 10 in watch.reader.announced


def test_the_events_are_read_while_the_run_goes_on_once_a_process_ended() -> None:
    """What the events say while the run goes on stops a crash loop or a stalled Pool, and both begin
    with a process ending: until a look finds one, the events wait for the end of the run; after
    it, and at every turn once a death is counted, they are read.  Without kernel-kept membership,
    always.  Broken variants: read at every turn (the former loop), never after an end (then
    test_diagnose's Pool whose initializer raises is no longer stopped early: it waits out its timeout)."""
    with tempfile.TemporaryDirectory() as folder:
        watch = _watch(_Waiter([]), _Written(), folder)
        watch.observer.seen = {1: None, 7: None}
        assert watch._events_wanted() is False  # noqa: SLF001 - nothing ended yet
        watch._changed({1}, {1, 7})  # noqa: SLF001 - a start only
        assert watch._events_wanted() is False  # noqa: SLF001
        watch._changed({1, 7}, {1})  # noqa: SLF001 - an end
        assert watch._events_wanted() is True  # noqa: SLF001
        assert watch._read_events(time.perf_counter_ns()) is None  # noqa: SLF001
        assert watch._events_wanted() is False  # noqa: SLF001 - read since
        watch.deaths["RuntimeError: no database"] += 1
        assert watch._events_wanted() is True  # noqa: SLF001 - a death counted: every turn
        watch.deaths.clear()
        watch.observer.kernel_kept = False
        assert watch._events_wanted() is True  # noqa: SLF001


def test_the_end_wakes_the_kit_at_once() -> None:
    with tempfile.TemporaryDirectory() as folder:
        waiter = _Waiter([Woke.ENDED | Woke.WRITTEN])
        watch = _watch(waiter, _Written(), folder)
        assert watch._sleep(SLOW_S, time.perf_counter_ns() + 10**10) is True  # noqa: SLF001
        assert len(waiter.asked) == 1


def test_the_sleep_never_passes_the_deadline() -> None:
    with tempfile.TemporaryDirectory() as folder:
        waiter = _Waiter([])
        watch = _watch(waiter, _Written(), folder)
        watch._sleep(SLOW_S, time.perf_counter_ns() + int(0.005 * 1e9))  # noqa: SLF001
        assert waiter.asked[0][0] <= 0.005


def test_events_noted_while_waking_are_read_once() -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "7.jsonl").write_text('{"t": 1, "pid": 7, "kind": "top_level", "data": {}}\n')
        written = _Written()
        written.names = {"7.jsonl"}
        reader = runner._Events(events.Reader(folder), written)  # noqa: SLF001
        assert reader.drain()
        assert [e.kind for e in reader.poll()] == [Ev.TOP_LEVEL]
        assert reader.poll() == []
        written.names = None  # the watch lost track (its queue overflowed): every file is read
        assert reader.drain() and reader.poll() == []


LATE_CHILD = """\
import multiprocessing, time

def short():
    time.sleep(0.05)

if __name__ == "__main__":
    time.sleep(1.0)  # the kit's looks slow down meanwhile
    p = multiprocessing.Process(target=short, name="late-child")
    p.start()
    print(p.pid, flush=True)
    p.join()
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the kit is woken by the run's writes on Linux (inotify)")
def test_a_short_child_started_after_a_quiet_second_is_seen_and_named(tmp_path: Path) -> None:
    """The slowest interval is longer than the child lives: the probe's process_started event wakes
    the kit, which looks within the fastest interval (three runs, every one must see it)."""
    script = tmp_path / "late.py"
    script.write_text(LATE_CHILD)
    for _ in range(3):
        r = run_bounded(script_subject(str(script)), "fork")
        assert r.status is Status.PASS, r.reason
        child = int(r.stdout.split()[0])
        seen = {p.pid: p for p in r.processes}
        if r.evidence == "psutil":
            pytest.skip("no kernel-kept run group here: the kit looks every 20 ms anyway")
        assert child in seen, f"the late child {child} was never seen: {sorted(seen)}"
        assert seen[child].role is Role.WORKER
    assert cadence.SLOW_S > 0.05
