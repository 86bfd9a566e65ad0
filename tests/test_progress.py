"""Progress: one live line redrawn on a terminal, one short line per cell in a pipe, nothing with -q.

A fake terminal (a StringIO whose ``isatty`` says yes) receives what the kit would write to
stderr; no process is started.  The broken variants (a line per cell on a terminal, a live line
left on the screen before the table, a width ignored) are each caught.
"""
from __future__ import annotations

import copy
import io
import threading
import time

import pytest

from kit import progress, render
from kit.outcomes import Method, Status
from kit.progress import LINES, LIVE, QUIET, Progress, parse_cell_line
from kit.render import columns
from kit.results import PlatformInfo, RunResult


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def results(n: int, place: str = "host") -> list[RunResult]:
    info = PlatformInfo(os="Linux", machine="x86_64", implementation="CPython", python="3.14.0", cpu_count=2,
                        default_method="forkserver", methods=["fork", "spawn", "forkserver"],
                        place=place)
    out = []
    for i in range(n):
        r = RunResult(f"example_{i}", Method(["fork", "spawn", "forkserver"][i % 3]),
                      Status.FAIL if i == 2 else Status.PASS, "why", wall_s=0.3, peak_processes=2, cores_used=0.7)
        r.platform = copy.deepcopy(info)
        out.append(r)
    return out


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def no_ticker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "TICK_S", 3600.0)  # the clock's redraws would make the output depend on time
    monkeypatch.delenv("TERM", raising=False)


def feed(p: Progress, rs: list[RunResult]) -> None:
    for i, r in enumerate(rs, start=1):
        p.cell(r, len(rs) + 3, [f"example_{i + 1}/fork", "docker:3.14 (30 cells)"])


def test_a_terminal_gets_one_line_redrawn_in_place_not_a_line_per_cell() -> None:
    tty, clock = Tty(), Clock()
    p = Progress(tty, progress.mode_for(tty, 0), width=80, clock=clock)
    assert p.mode == LIVE
    rs = results(6)
    for r in rs:
        clock.now += 2
        p.cell(r, 9, ["example_9/fork"])
    out = tty.getvalue()
    assert out.count("\n") == 0, "a live line, never a line per cell"
    assert out.count("\r") >= len(rs)
    last = out.split("\r\x1b[K")[-1]
    assert last.startswith("[6/9] 12s, ~6s left, 1 failed; running: example_9/fork"), last
    p.close()
    assert tty.getvalue().endswith("\r\x1b[K"), "closed: the line is erased before the table"
    assert all(len(chunk) < 80 for chunk in out.split("\r\x1b[K")), "never wider than the terminal"


def test_a_message_clears_the_live_line_and_it_comes_back_under_it() -> None:
    tty = Tty()
    p = Progress(tty, LIVE, width=80)
    feed(p, results(2))
    p.say("kit: a warning")
    out = tty.getvalue()
    assert "\r\x1b[Kkit: a warning\n" in out  # erased first: the warning is not glued to the live line
    assert out.endswith(p.live_line())
    p.close()


def test_verbose_on_a_terminal_adds_a_line_per_cell_above_the_live_line() -> None:
    tty = Tty()
    p = Progress(tty, LIVE, width=80, verbose=True)
    feed(p, results(3))
    lines = [line.split("\r\x1b[K")[-1] for line in tty.getvalue().split("\n")[:-1]]
    assert len(lines) == 3 and lines[0].startswith("[1/6] example_0 fork pass 0.3s 2p 0.7c"), lines
    p.close()


def test_a_pipe_gets_one_short_line_per_cell() -> None:
    pipe = io.StringIO()
    p = Progress(pipe, progress.mode_for(pipe, 0), width=60)
    assert p.mode == LINES
    rs = results(12)
    rs[4].subject = "an_example_with_a_long_name_" + "x" * 60
    feed(p, rs)
    p.close()
    lines = pipe.getvalue().splitlines()
    assert len(lines) == 12 and "\r" not in pipe.getvalue() and "\x1b" not in pipe.getvalue()
    assert lines[0] == "[ 1/15] example_0 fork pass 0.3s 2p 0.7c"
    assert lines[2].startswith("[ 3/15] example_2 forkserver fail")
    assert max(len(line) for line in lines) <= 60, lines  # a long name is cut to the width
    assert parse_cell_line(lines[2]) == (None, "example_2", "forkserver", Status.FAIL, "fail 0.3s 2p 0.7c")


def test_quiet_shows_no_progress_but_still_what_a_user_must_know() -> None:
    for stream in (Tty(), io.StringIO()):
        p = Progress(stream, progress.mode_for(stream, -1), width=80)
        assert p.mode == QUIET
        feed(p, results(4))
        p.close()
        assert stream.getvalue() == ""
        p.say("containers skipped: no Docker")
        assert stream.getvalue() == "containers skipped: no Docker\n"


def test_a_dumb_terminal_gets_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert progress.mode_for(Tty(), 0) == LINES


def test_a_containers_streamed_cell_lines_count_once_and_its_table_is_not_repeated() -> None:
    """The kit in a container writes its own cell lines (it is piped); they move the count as
    they come, and the container's results at the batch's end do not count them again."""
    pipe = io.StringIO()
    inside = Progress(io.StringIO(), LINES, width=100)
    rs = results(3, place="docker:3.14")
    for r in rs:
        inside.cell(r, 3)
    streamed = inside.stream.getvalue().splitlines()  # type: ignore[attr-defined]
    p = Progress(pipe, LINES, width=100, total=6)
    for line in streamed:
        p.say(f"  docker:3.14 {line}")
    p.say("  docker:3.14 example   fork   spawn")  # the container kit's own table: not shown
    p.say("  docker:3.14 [ 2/69] hello              fork       pass 0.3s 2p 0.7c  (running: a/fork)")  # an older kit
    for r in rs:
        p.cell(r, 6)
    lines = pipe.getvalue().splitlines()
    assert lines == ["[1/6] docker:3.14 example_0 fork pass 0.3s 2p 0.7c",
                     "[2/6] docker:3.14 example_1 spawn pass 0.3s 2p 0.7c",
                     "[3/6] docker:3.14 example_2 forkserver fail 0.3s 2p 0.7c",
                     "[4/6] docker:3.14 hello fork pass 0.3s 2p 0.7c"], lines
    assert len(p.done) == 4 and sum(not s.ok for s in p.done.values()) == 1


def test_the_live_line_is_drawn_from_threads_without_tearing() -> None:
    tty = Tty()
    p = Progress(tty, LIVE, width=80)
    rs = results(200)
    def show(chunk: list[RunResult]) -> None:
        for r in chunk:
            p.cell(r, 200)

    threads = [threading.Thread(target=show, args=(rs[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p.close()
    chunks = [c for c in tty.getvalue().split("\r\x1b[K") if c]
    assert all(c.startswith("[") and "\n" not in c for c in chunks)
    assert chunks[-1].startswith("[200/200]")


def test_the_width_is_kept_and_a_broken_variant_is_caught() -> None:
    tty = Tty()
    p = Progress(tty, LIVE, width=40)
    p.cell(results(1)[0], 5, [f"example_{i}/forkserver" for i in range(20)])
    line = p.live_line()
    assert len(line) < 40 and line.endswith("...")
    p.width = 400  # a width ignored: the check above would see the running list whole
    assert len(p.live_line()) > 40
    p.close()


def test_the_ticker_redraws_the_clock_and_stops_on_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "TICK_S", 0.02)
    tty = Tty()
    p = Progress(tty, LIVE, width=80)
    p.cell(results(1)[0], 5, ["x/fork"])
    time.sleep(0.2)
    p.close()
    assert tty.getvalue().count("\r") > 3
    ended = tty.getvalue()
    time.sleep(0.1)
    assert tty.getvalue() == ended and ended.endswith("\r\x1b[K")
    assert p.ticker is not None and not p.ticker.is_alive()


def test_a_heartbeat_says_a_silent_step_still_works() -> None:
    said: list[str] = []
    with progress.heartbeat(said.append, "3.14: mmdebstrap", every=0.03):
        time.sleep(0.2)
    n = len(said)
    time.sleep(0.1)
    assert n >= 3 and len(said) == n, said  # beats while the step runs, none after
    assert said[0].startswith("3.14: mmdebstrap: still working (")


def test_durations_read_as_a_person_reads_them() -> None:
    assert [progress.duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


def test_a_total_not_known_yet_is_a_question_mark_never_the_count_so_far() -> None:
    """A container's streamed lines can come before any cell has ended on the host: the total is then
    the one ``kit matrix`` computed from --targets, or "?" (auto); the broken variant printed the
    count so far as the total ([1/1], [2/2] ... of 6 cells)."""
    inside = Progress(io.StringIO(), LINES, width=100)
    for r in results(2, place="docker:3.14"):
        inside.cell(r, 2)
    streamed = inside.stream.getvalue().splitlines()  # type: ignore[attr-defined]
    for total, want in ((0, "?"), (6, "6")):
        pipe = io.StringIO()
        p = Progress(pipe, LINES, width=100, total=total)
        for line in streamed:
            p.say(f"  docker:3.14 {line}")
        assert [line.split("]")[0] for line in pipe.getvalue().splitlines()] == [f"[1/{want}", f"[2/{want}"]


def test_wide_characters_are_cut_by_the_columns_they_take() -> None:
    """A running cell or a subject of CJK characters (two columns each) still fits the width, on the
    live line and on a cell's line; the broken variant, cut by characters, wrote twice the width."""
    tty = Tty()
    p = Progress(tty, LIVE, width=40)
    p.cell(results(1)[0], 5, ["例" * 50])
    line = p.live_line()
    assert line.endswith("...") and columns(line) <= 40 - 3, (line, columns(line))
    p.close()
    r = results(1)[0]
    r.subject = "例" * 50
    pipe = io.StringIO()
    p = Progress(pipe, LINES, width=40)
    p.cell(r, 1)
    (written,) = pipe.getvalue().splitlines()
    assert written.startswith("[1/1] 例例") and written.endswith("...") and columns(written) <= 40, written


def test_one_terminal_test_and_a_dumb_terminal_keeps_its_width_but_gets_no_control_codes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """TERM=dumb: a terminal for the width (and for fitting the kit's messages), not for colour or a
    live line; a closed stream is no terminal."""
    class Closed(io.StringIO):
        def isatty(self) -> bool:
            raise ValueError("I/O operation on closed file")

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert render.is_terminal(Tty()) and render.is_terminal(Tty(), controls=True) and render.colour_wanted(Tty())
    monkeypatch.setenv("TERM", "dumb")
    assert render.is_terminal(Tty()) and not render.is_terminal(Tty(), controls=True)
    assert not render.colour_wanted(Tty()) and progress.mode_for(Tty(), 0) == LINES
    assert not render.is_terminal(Closed()) and not render.colour_wanted(Closed())
    assert not render.is_terminal(io.StringIO())
