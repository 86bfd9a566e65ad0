"""The observer's cheaper tick (issue 24) reads the same evidence as the readings it replaces.

Linux: each reader is checked against what it stands for (psutil, a fresh open of the cgroup
file, a folder listed anew), and with a broken variant that shows why it is built so: a v1 list
read again through one descriptor is stale, a membership taken from the process list only when
the thread list changed misses nothing, a pid reused by another process reads as gone.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import reap_zombie_children

if sys.platform != "linux":
    pytest.skip("the cheaper readers are Linux's", allow_module_level=True)

from kit._platform import _common, _linux  # noqa: E402 - after the platform skip
from kit._platform._cgroup import RunCgroup, available  # noqa: E402

pytestmark = pytest.mark.slow
PY = sys.executable


def _wait(cond: object, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def group() -> Iterator[RunCgroup]:
    ok, why = available()
    if not ok:
        pytest.skip(f"no run group here: {why}")
    grp = RunCgroup.create("tick")
    try:
        yield grp
    finally:
        grp.close()
        reap_zombie_children()


def _start(group: RunCgroup, code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PY, "-c", code], preexec_fn=group.preexec)


def test_quick_membership_follows_every_start_and_end(group: RunCgroup) -> None:
    """procs(every=False) lists again only when the threads changed: every start and every end shows."""
    first = _start(group, "import time; time.sleep(30)")
    try:
        assert _wait(lambda: group.procs(False) == {first.pid})
        assert group.procs(False) == {first.pid}  # unchanged: served from the last listing
        second = _start(group, "import time; time.sleep(30)")
        assert _wait(lambda: group.procs(False) == {first.pid, second.pid})
        second.kill()
        second.wait()
        assert _wait(lambda: group.procs(False) == {first.pid})
        assert group.procs(False) == group.procs(True)
    finally:
        first.kill()
        first.wait()


def test_a_tick_reads_the_threads_again_only_when_the_looks_reading_changed(group: RunCgroup,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The look's membership reading has just read the run's threads: a tick that finds them and the
    processes as at the last tick reads nothing more; a thread started since is still counted.
    Broken variants: a tick that reads the threads every time (a reading at each quiet tick), one
    that trusts the processes alone (the new thread missed)."""
    from kit.runner import _Tally
    proc = subprocess.Popen([PY, "-c", "import sys, threading, time\nsys.stdin.readline()\n"
                             "threading.Thread(target=time.sleep, args=(30,)).start()\ntime.sleep(30)"],
                            stdin=subprocess.PIPE, preexec_fn=group.preexec)
    try:
        assert _wait(lambda: group.procs(False) == {proc.pid})
        if group.quick_threads() is None:
            pytest.skip("no v2 group first here: a tick reads the threads itself")
        reads: list[int] = []
        real = group.threads

        def counted() -> set[int] | None:
            reads.append(1)
            return real()

        monkeypatch.setattr(group, "threads", counted)
        tally = _Tally(group)
        tally.tick(group.procs(False), read=False)
        assert reads and tally.extra_threads == 0
        reads.clear()
        for _ in range(3):
            tally.tick(group.procs(False), read=False)
        assert reads == []  # nothing changed: nothing read
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()

        def counted_thread() -> bool:
            tally.tick(group.procs(False), read=False)
            return tally.extra_threads == 1

        assert _wait(counted_thread)
    finally:
        proc.kill()
        proc.wait()


def test_a_process_moved_into_a_nested_group_stays_a_member(group: RunCgroup) -> None:
    """The run may make groups of its own: a process moved there, and its children, are still listed."""
    proc = _start(group, "import time; time.sleep(30)")
    try:
        assert _wait(lambda: proc.pid in group.procs(False))
        nested = Path(group.paths()[0]) / "nested"
        nested.mkdir()
        (nested / "cgroup.procs").write_text(str(proc.pid))
        assert proc.pid in group.procs(False) and proc.pid in group.procs(True)
        with (nested / "cgroup.procs").open("w") as fh:
            child = subprocess.Popen([PY, "-c", "import time; time.sleep(30)"])
            fh.write(str(child.pid))
        try:
            assert _wait(lambda: child.pid in group.procs(False))
        finally:
            child.kill()
            child.wait()
        assert _wait(lambda: child.pid not in group.procs(False))
    finally:
        proc.kill()
        proc.wait()


def test_broken_variant_a_v1_list_read_again_through_one_descriptor_is_stale(group: RunCgroup) -> None:
    """Why v1 lists are opened at each reading: a second read of one descriptor gives the list its
    first read made (the kernel keeps it about a second, or until someone opens the file again)."""
    v1 = [p for p, d in zip(group.paths(), group._dirs) if d.version == 1]  # noqa: SLF001 - the layout under test
    if not v1:
        pytest.skip("no v1 hierarchy in this run's group")
    fd = os.open(Path(v1[0]) / "cgroup.procs", os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 0) == b""
        proc = _start(group, "import time; time.sleep(30)")
        try:
            time.sleep(0.2)
            assert os.pread(fd, 4096, 0) == b""  # the kept descriptor does not see it
            assert proc.pid in group.procs(True)  # a fresh open does
        finally:
            proc.kill()
            proc.wait()
    finally:
        os.close(fd)


def test_the_oom_counter_and_populated_read_through_kept_descriptors_change(group: RunCgroup) -> None:
    assert not group.populated()
    proc = _start(group, "import time; time.sleep(30)")
    try:
        assert _wait(group.populated)
    finally:
        proc.kill()
        proc.wait()
    assert _wait(lambda: not group.populated())
    if not group.memory_kept:
        return
    group.limit_memory(40 * 2**20)
    assert group.oom_kills() == 0
    hog = _start(group, "x = bytearray(400 * 2**20)")
    hog.wait()
    assert _wait(lambda: group.oom_kills() == 1)


def test_a_process_sampled_from_its_stat_line_reads_as_psutil_does() -> None:
    proc = subprocess.Popen([PY, "-c", "import time\nend = time.time() + 0.3\nwhile time.time() < end: pass\n"
                             "time.sleep(30)"])
    reader = _linux.StatReader()
    try:
        p = psutil.Process(proc.pid)
        first = reader.sample(p)
        assert first is not None and not first.zombie and first.started is not None
        time.sleep(0.4)
        got, want = reader.sample(p, first.started), _common.sample_proc(p)
        assert got is not None and want is not None
        assert got.cpu_s > first.cpu_s  # the kept descriptor reads the line anew
        assert abs(got.cpu_s - want.cpu_s) < 0.02 and abs(got.rss - want.rss) < 1 << 20
        assert reader.sample(p, first.started + 1) is None  # another process's start time: not ours
        assert reader.identify(p) == _common.identify(p)
        assert not reader.cmdline_changed(p)  # identify read it first
        assert reader.created(p) == pytest.approx(psutil.Process(proc.pid).create_time(), abs=1.0)
        misses = _linux._boot_time.cache_info().misses  # noqa: SLF001
        assert reader.created(p) == reader.created(p)
        assert _linux._boot_time.cache_info().misses == misses  # noqa: SLF001 - /proc/stat read once per kit
    finally:
        proc.kill()
        proc.wait()
    assert reader.sample(p) is None  # reaped: gone
    reader.close()


def test_a_kept_descriptor_never_reads_a_reused_pid() -> None:
    """A descriptor of /proc/PID/stat belongs to its process: once it is gone, ESRCH, whoever holds the pid."""
    proc = subprocess.Popen([PY, "-c", "import time; time.sleep(30)"])
    fd = os.open(f"/proc/{proc.pid}/stat", os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 0).startswith(str(proc.pid).encode())
        proc.kill()
        proc.wait()
        with pytest.raises(ProcessLookupError):
            os.pread(fd, 4096, 0)
    finally:
        os.close(fd)


def test_an_exec_after_admission_is_seen_in_the_records(group: RunCgroup) -> None:
    """A child forked with its parent's command line that execs soon after gets its new one."""
    from kit.observer import Observer

    code = ("import os, time\npid = os.fork()\nif pid == 0:\n    time.sleep(0.05)\n"
            "    os.execv('/bin/sleep', ['sleep', '7'])\nos.waitpid(pid, 0)\n")
    proc = _start(group, code)
    obs = Observer(proc.pid, time.perf_counter_ns(), members=group.procs)
    try:
        for tick in range(40):
            obs.sample(read=tick % 4 == 0)
            time.sleep(0.02)
        assert any(r.cmdline == ["sleep", "7"] and r.name == "sleep" for r in obs.records(set()))
    finally:
        obs.close()
        group.kill()
        proc.wait()


def test_only_the_files_written_are_named() -> None:
    with tempfile.TemporaryDirectory() as folder:
        watch = _linux.folder_watch(folder)
        assert watch is not None
        try:
            assert watch.changed() == set()
            (Path(folder) / "1.jsonl").write_text("x\n")
            assert watch.changed() == {"1.jsonl"}
            assert watch.changed() == set()
        finally:
            watch.close()


def test_the_exit_waiter_wakes_at_the_end() -> None:
    proc = subprocess.Popen([PY, "-c", "import time; time.sleep(0.3)"])
    waiter = _linux.exit_waiter(proc.pid)
    assert waiter is not None
    try:
        assert not waiter.wait(0.02)
        t0 = time.monotonic()
        assert waiter.wait(5.0)
        assert time.monotonic() - t0 < 1.0 and proc.wait() == 0
    finally:
        waiter.close()


def test_a_waiter_deaf_to_writes_still_hears_a_new_file(tmp_path: Path) -> None:
    """The kit stops listening to the chatter of files it knows, not to a process announcing
    itself: a write to a known file does not end a wait that hears only new files, a file
    created does.  Broken variant (one descriptor for both): the new file is not heard."""
    from kit._platform import Woke

    known = tmp_path / "1.jsonl"
    known.write_text("x\n")
    proc = subprocess.Popen([PY, "-c", "import time; time.sleep(30)"])
    watch = _linux.folder_watch(str(tmp_path))
    assert watch is not None
    waiter = _linux.exit_waiter(proc.pid, watch)
    assert waiter is not None
    try:
        with known.open("a") as f:
            f.write("y\n")
        assert waiter.wait(0.05, written=False, news=True) == Woke.NOTHING
        assert waiter.wait(0.05) == Woke.WRITTEN and watch.changed() == {"1.jsonl"}
        (tmp_path / "2.stacks").touch()
        assert waiter.wait(2.0, written=False, news=True) == Woke.WRITTEN
        assert watch.changed() == {"2.stacks"}
        assert waiter.wait(0.02, written=False, news=True) == Woke.NOTHING  # read: quiet again
        assert waiter.wait(0.02, written=False) == Woke.NOTHING
    finally:
        waiter.close()
        watch.close()
        proc.kill()
        proc.wait()


def test_the_stat_readers_keep_no_descriptor_after_close(group: RunCgroup) -> None:
    before = len(list(Path("/proc/self/fd").iterdir()))
    reader = _linux.StatReader()
    procs = [_start(group, "import time; time.sleep(30)") for _ in range(3)]
    try:
        for p in procs:
            reader.sample(psutil.Process(p.pid))
            reader.cmdline_changed(psutil.Process(p.pid))
        assert len(list(Path("/proc/self/fd").iterdir())) > before
    finally:
        for p in procs:
            p.kill()
            p.wait()
    reader.close()
    assert len(list(Path("/proc/self/fd").iterdir())) == before


def test_a_run_leaves_no_descriptor_open_in_the_kit() -> None:
    """Kept descriptors (cgroup lists, /proc lines, inotify, pidfds) all closed once a run is over."""
    from kit import runner
    from kit.catalogue import example_subject

    runner.run(example_subject("lock"), "fork")  # the first run starts the guardian and warms up
    before = sorted(p.name for p in Path("/proc/self/fd").iterdir())
    for method in ("fork", "spawn"):
        assert runner.run(example_subject("lock"), method).status.value == "pass"
    assert sorted(p.name for p in Path("/proc/self/fd").iterdir()) == before
