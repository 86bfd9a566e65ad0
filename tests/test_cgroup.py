"""kit._platform._cgroup against real process trees (Linux, where run groups can be made).

Each check comes with a broken variant that shows what it guards against: a tree not
placed in the group is not counted, a kill by pid snapshot misses a pid-hopper, psutil
calls a live process a zombie, rmdir of a populated group fails, and so on.
"""
from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from support import reap_zombie_children

if sys.platform != "linux":
    pytest.skip("cgroups are Linux only", allow_module_level=True)

from kit._platform import _cgroup, _procfs  # noqa: E402 - after the platform skip
from kit._platform._cgroup import RunCgroup, available, cleanup_stale  # noqa: E402
import contextlib

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_cgroup.__file__))))

#: 20 children, each ~5 ms of CPU; all alive at once (they wait on a pipe) so pids.peak sees 21.
FORKER = """
import os, time
r, w = os.pipe()
kids = []
for i in range(20):
    pid = os.fork()
    if pid == 0:
        os.close(w)
        end = time.thread_time() + 0.005
        while time.thread_time() < end:
            pass
        os.read(r, 1)
        os._exit(0)
    kids.append(pid)
os.close(w)
for pid in kids:
    os.waitpid(pid, 0)
"""

#: Double fork + setsid: prints the escapee's pid; leader and middle exit at once.
ESCAPEE = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        time.sleep(60)
    os._exit(0)
os.wait()
"""

#: Forks and exits every ~2 ms: a new pid all the time, never more than two at once.
HOPPER = """
import os, time
print(os.getpid(), flush=True)
while True:
    time.sleep(0.002)
    if os.fork():
        os._exit(0)
"""

#: The main thread exits (pthread_exit) while another thread sleeps: the leader shows Z, the process lives.
ZOMBIE_LEADER = """
import ctypes, threading, time
threading.Thread(target=time.sleep, args=(60,)).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)
"""


def _require() -> None:
    ok, why = available()
    if not ok:
        pytest.skip(f"no run cgroups here: {why}")


@pytest.fixture
def group() -> Iterator[RunCgroup]:
    _require()
    grp = RunCgroup.create("test")
    try:
        yield grp
    finally:
        grp.close()
        reap_zombie_children()
        assert not [p for p in grp.paths() if os.path.exists(p)]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start(code: str, preexec: Callable[[], None] | None) -> subprocess.Popen[str]:
    return subprocess.Popen([PY, "-c", code], preexec_fn=preexec, stdout=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Kill and wait the direct child (it may be outside any group)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def _alive(pid: int) -> bool:
    return _procfs.lives(pid)


def _wait(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def _run_forker(preexec: Callable[[], None] | None) -> float:
    """Run FORKER to the end; its CPU (and its 20 children's) from RUSAGE_CHILDREN."""
    before = _children_cpu_s()
    proc = _start(FORKER, preexec)
    try:
        assert proc.wait(timeout=20) == 0
    finally:
        _stop(proc)
    return _children_cpu_s() - before


# -- counting -----------------------------------------------------------------------------
@pytest.mark.slow
def test_short_lived_children_counted_in_peak_and_cpu(group: RunCgroup) -> None:
    """20 children of ~5 ms each: pids.peak >= 21 and cpu.stat equals what the kernel gave the waiter."""
    bare = _run_forker(None)
    rusage = _run_forker(group.preexec)
    cpu = group.cpu_s()
    assert cpu is not None, group.describe()
    # the same run seen two ways; only the child's moments before preexec differ
    assert abs(cpu - rusage) <= 0.05 * rusage, \
        f"cgroup {cpu:.4f} s, RUSAGE_CHILDREN {rusage:.4f} s (bare run {bare:.4f} s)"
    assert cpu >= 20 * 0.005, cpu
    peak = group.peak()
    if peak is None:
        assert "pids.peak" in group.describe()  # says why it is unknown
    else:
        assert peak >= 21, group.describe()
    assert not group.populated() and group.procs() == set()


def _emptied_after(group: RunCgroup, lives_s: float, wait_s: float) -> float:
    """Seconds one ``wait_emptied(wait_s)`` took while a process of the run lives ``lives_s`` more
    (a wait, not a loop: it takes next to no CPU)."""
    proc = _start(f"import time; time.sleep({lives_s})", group.preexec)
    try:
        assert _wait(group.populated)  # read through the kept descriptor: the wait is armed
        t0, cpu0 = time.monotonic(), time.thread_time()
        group.wait_emptied(wait_s)
        assert time.thread_time() - cpu0 < 0.05
        return time.monotonic() - t0
    finally:
        _stop(proc)


@pytest.mark.slow
def test_waiting_for_a_run_to_empty_ends_as_its_last_process_does(group: RunCgroup) -> None:
    """The grace after the main process ends as the last helper does, not a sample later; and
    the wait does not end early while the run lives (broken variants: a sleep; a poll for POLLIN,
    which a kernfs file always answers)."""
    if not any(os.path.exists(os.path.join(p, "cgroup.events")) for p in group.paths()):
        pytest.skip("no cgroup v2 group: the wait is a sleep")
    assert _emptied_after(group, 0.3, 5.0) < 2.0
    assert not group.populated()
    assert _emptied_after(group, 3.0, 0.5) >= 0.45


@pytest.mark.slow
def test_tree_not_placed_in_the_group_is_not_counted(group: RunCgroup) -> None:
    """Broken variant: the numbers come from placement, not from watching the machine."""
    rusage = _run_forker(None)
    assert rusage > 0.1
    assert (group.cpu_s() or 0.0) < 0.002
    assert group.peak() in (0, None)
    proc = _start("import time; time.sleep(30)", None)
    try:
        assert _wait(lambda: _alive(proc.pid))
        assert proc.pid not in group.procs() and not group.populated()
        group.add(proc.pid)  # ...until it is put in
        assert group.procs() == {proc.pid} and group.populated()
        assert group.kill() == [proc.pid]
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        _stop(proc)


# -- escaping ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_group_its_run_left_is_stopped_without_a_write(group: RunCgroup, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run is stopped as it ends, most of them already empty: the kill then only looks (no
    ``pids.max`` set to 0 and back, no ``cgroup.kill``), and still kills what a group holds.
    Broken variant (the whole kill every time): writes to an empty group."""
    writes: list[str] = []
    real = _cgroup._write

    def counted(path: str, value: str) -> None:
        writes.append(os.path.basename(path))
        real(path, value)

    monkeypatch.setattr(_cgroup, "_write", counted)
    proc = _start("import time; time.sleep(30)", group.preexec)
    try:
        assert _wait(lambda: group.procs() == {proc.pid})
        assert group.kill() == [proc.pid] and writes  # a live run: stopped, with writes
        proc.wait(timeout=5)
        writes.clear()
        assert group.kill() == [] and writes == []
    finally:
        _stop(proc)


@pytest.mark.slow
def test_double_forked_setsid_escapee_is_in_procs_and_killed(group: RunCgroup) -> None:
    proc = _start(ESCAPEE, group.preexec)
    try:
        assert proc.stdout is not None
        escapee = int(proc.stdout.readline())
        assert proc.wait(timeout=5) == 0
        # broken variant: a walk of the run's tree from its leader finds nothing any more
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(proc.pid).children(recursive=True)
        assert os.getsid(escapee) != os.getsid(0) and psutil.Process(escapee).ppid() != proc.pid
        assert group.procs() == {escapee} and group.populated()
        assert escapee in group.kill()
        assert not _alive(escapee) and not group.populated() and group.procs() == set()
    finally:
        group.kill()
        _stop(proc)


@pytest.mark.slow
def test_pid_hopper_is_killed_and_nothing_is_left(group: RunCgroup) -> None:
    proc = _start(HOPPER, group.preexec)
    try:
        assert proc.stdout is not None
        first = int(proc.stdout.readline())
        assert _wait(lambda: first not in group.procs())  # it has hopped
        # broken variant: kill what a 20 ms sample saw -> the hopper has moved on
        snapshot = group.procs()
        time.sleep(0.02)
        for pid in snapshot:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
        assert group.populated() and group.procs() - snapshot, "the hopper should survive a snapshot kill"
        killed = group.kill()
        assert killed
        assert not group.populated() and group.procs() == set()
        time.sleep(0.05)  # a survivor would fork again meanwhile
        assert not group.populated() and group.procs() == set()
    finally:
        group.kill()
        _stop(proc)


@pytest.mark.slow
def test_zombie_leader_with_a_live_thread_is_in_the_run(group: RunCgroup) -> None:
    proc = _start(ZOMBIE_LEADER, group.preexec)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        # broken variant: psutil (and /proc/PID/stat) call the leader a zombie...
        assert _wait(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE)
        assert proc.poll() is None  # ...yet it is alive: waitpid has nothing to collect
        assert _alive(proc.pid)
        assert proc.pid in group.procs() and group.populated()
        time.sleep(0.05)
        assert group.populated()
        assert proc.pid in group.kill()
        assert proc.wait(timeout=5) == -signal.SIGKILL
        assert not group.populated()
    finally:
        group.kill()
        _stop(proc)


# -- removing ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_close_leaves_no_directory_and_is_idempotent() -> None:
    _require()
    grp = RunCgroup.create("close")
    paths = grp.paths()
    proc = _start("import time; time.sleep(30)", grp.preexec)
    try:
        assert all(os.path.isdir(p) for p in paths)
        assert _wait(lambda: proc.pid in grp.procs())
        # broken variant: a populated group cannot simply be removed
        with pytest.raises(OSError) as info:
            os.rmdir(paths[0])
        assert info.value.errno == errno.EBUSY
        with grp:
            pass  # __exit__ closes
        assert grp.closed and proc.wait(timeout=5) == -signal.SIGKILL
        assert not [p for p in paths if os.path.exists(p)]
        grp.close()  # idempotent
    finally:
        grp.close()
        _stop(proc)


def _fake_run(owner_pid: int, start: int, tag: str) -> list[str]:
    """Directories of a run named for another owner, where RunCgroup.create would put them."""
    places, _ = _cgroup._read_places()
    name = f"run-{owner_pid}-{start}-{_cgroup._pidns()}-1-{tag}"
    made = []
    for place in places:
        if place.version == 2 or "pids" in place.controllers:
            parent = os.path.join(place.own, _cgroup.PARENT)
            os.makedirs(parent, exist_ok=True)
            os.mkdir(os.path.join(parent, name))
            made.append(os.path.join(parent, name))
    return made


def _dead_pid() -> tuple[int, int]:
    """(pid, start ticks) of a process that has just exited."""
    proc = subprocess.Popen(["sleep", "0.2"])
    start = _cgroup._start_ticks(proc.pid)
    assert start is not None
    proc.wait()
    return proc.pid, start


@pytest.mark.slow
def test_cleanup_stale_removes_a_dead_owners_group_and_kills_its_processes() -> None:
    _require()
    pid, start = _dead_pid()
    me, my_start = os.getpid(), _cgroup._start_ticks(os.getpid())
    assert my_start is not None
    dead = _fake_run(pid, start, "stale")
    reused = _fake_run(me, my_start + 1, "reused")  # our pid, another start: a reused pid, not the owner
    mine = _fake_run(me, my_start, "mine")  # a live owner: must stay
    paths = dead + reused + mine

    def preexec() -> None:
        for path in dead:
            with open(os.path.join(path, "cgroup.procs"), "w") as fh:
                fh.write("0")

    proc = subprocess.Popen(["sleep", "30"], preexec_fn=preexec)
    try:
        assert _wait(lambda: proc.pid in _cgroup._ints(os.path.join(dead[0], "cgroup.procs")))
        removed = cleanup_stale()
        assert removed >= 2
        assert proc.wait(timeout=5) == -signal.SIGKILL
        assert not [p for p in dead + reused if os.path.exists(p)]
        assert all(os.path.isdir(p) for p in mine)  # broken variant: a live owner's group is kept
    finally:
        _stop_plain(proc)
        left = [p for p in paths if os.path.isdir(p)]
        if left:  # "mine" always; the others only if the test failed
            RunCgroup([_cgroup._Dir(p, 2 if os.path.exists(os.path.join(p, "cgroup.events")) else 1, frozenset())
                       for p in left]).close()


@pytest.mark.slow
def test_a_kit_process_removes_dead_kits_groups_before_its_first_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-per-process work of a first run group (the hierarchies parsed, dead kits' groups
    removed) is done by ``warm_up``, before the first run's clock: the run group made afterwards
    does none of it.  Broken variant: a warm-up that leaves it to the first group (the stale group
    is still there after it)."""
    _require()
    monkeypatch.setattr(_cgroup, "_stale_checked", False)
    pid, start = _dead_pid()
    dead = _fake_run(pid, start, "warm")
    real_places = _cgroup._read_places
    try:
        _cgroup.warm_up()
        assert not [p for p in dead if os.path.exists(p)]
        def read_again() -> Any:
            raise AssertionError("a second warm-up read the hierarchies again")

        monkeypatch.setattr(_cgroup, "_read_places", read_again)
        _cgroup.warm_up()  # every run calls it: the next ones read nothing
        monkeypatch.setattr(_cgroup, "_read_places", real_places)
        cleaned: list[object] = []

        def cleanup(places: object = None) -> int:
            cleaned.append(places)
            return 0

        monkeypatch.setattr(_cgroup, "cleanup_stale", cleanup)
        with RunCgroup.create("after-warm-up"):
            pass
        assert cleaned == []  # done once, before
    finally:
        left = [p for p in dead if os.path.isdir(p)]
        if left:
            RunCgroup([_cgroup._Dir(p, 2 if os.path.exists(os.path.join(p, "cgroup.events")) else 1, frozenset())
                       for p in left]).close()


def test_run_groups_after_the_first_read_no_hierarchy_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run makes a group: the hierarchies (``/proc/self/mountinfo``, ``/proc/self/cgroup``), the
    owner's name and a controller our cgroup lacks are found once per kit process.  Broken
    variant (read at each group): the second group reads the files again."""
    _require()
    monkeypatch.setattr(_cgroup, "_parsed", None)
    monkeypatch.setattr(_cgroup, "_unavailable", set())
    reads: list[str] = []
    real_files, real_read = _cgroup.read_cgroup_files, _cgroup._read

    def counted_files(*args: Any) -> tuple[str, str]:
        reads.append("mountinfo")
        return real_files(*args)

    def counted_read(path: str) -> str | None:
        reads.append(path)
        return real_read(path)

    monkeypatch.setattr(_cgroup, "read_cgroup_files", counted_files)
    monkeypatch.setattr(_cgroup, "_read", counted_read)
    with RunCgroup.create("first") as first:
        described = re.sub(r"run-[^,]*-first", "RUN", first.describe())
    assert reads.count("mountinfo") == 1
    reads.clear()
    with RunCgroup.create("second") as second:
        assert re.sub(r"run-[^,]*-second", "RUN", second.describe()) == described  # the same evidence and notes
    assert "mountinfo" not in reads
    if _cgroup._unavailable:  # a controller our v2 cgroup lacks (here pids and memory, on v1): not asked again
        assert not [p for p in reads if p.endswith("cgroup.controllers")], reads


def _stop_plain(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


# -- our own cgroup holds processes (pure v2 layout) and nesting ----------------------------
NESTED = """
import json, subprocess, sys, time
from kit._platform._cgroup import RunCgroup
own = open("/proc/self/cgroup").read()
with RunCgroup.create("inner") as g:
    p = subprocess.Popen(["sleep", "30"], preexec_fn=g.preexec)
    time.sleep(0.05)
    out = {"own": own, "paths": g.paths(), "procs": sorted(g.procs()), "sleep": p.pid}
    g.kill()
    p.wait()
print(json.dumps(out), flush=True)
if sys.argv[1:] == ["leave"]:
    g2 = RunCgroup.create("left")  # never closed: the outer close() must remove it
    subprocess.Popen(["sleep", "30"], preexec_fn=g2.preexec)
    print(json.dumps(g2.paths()), flush=True)
    time.sleep(30)
"""


@pytest.mark.slow
def test_run_group_inside_a_cgroup_that_holds_processes(group: RunCgroup) -> None:
    """The pure-v2 case: our own cgroup is not the root and holds us; also nesting under a run."""
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([PY, "-c", NESTED, "leave"], preexec_fn=group.preexec, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        out = json.loads(proc.stdout.readline())
        assert out["procs"] == [out["sleep"]]
        assert all(p.startswith(tuple(group.paths())) for p in out["paths"]), (out, group.paths())
        assert not [p for p in out["paths"] if os.path.exists(p)]  # the inner close() removed its own
        left = json.loads(proc.stdout.readline())
        assert all(os.path.isdir(p) for p in left)
        assert len(group.procs()) == 2  # the inner python and its sleep, one level down
        group.close()
        assert not [p for p in left + group.paths() if os.path.exists(p)]
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        group.kill()
        _stop(proc)


# -- why not ------------------------------------------------------------------------------------
def _as_root_with(*tools: str) -> None:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in tools) or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root, " + ", ".join(tools) + " and /usr/bin/python3")


PROBE = "import json; from kit._platform._cgroup import available; print(json.dumps(available()))"


@pytest.fixture
def readable_kit() -> Iterator[str]:
    """The kit package where any user can read it (a checkout under a private folder is not,
    nor is pytest's tmp_path)."""
    dest = Path(tempfile.mkdtemp(prefix="kit-readable-"))
    try:
        shutil.copytree(Path(REPO) / "kit", dest / "kit", ignore=shutil.ignore_patterns("__pycache__"))
        for path in [dest, *dest.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield str(dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


@pytest.mark.slow
def test_not_root_and_not_delegated_gives_an_actionable_reason(readable_kit: str) -> None:
    _as_root_with("setpriv")
    _require()
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                          PROBE], capture_output=True, text=True, timeout=20,
                         env={"PYTHONPATH": readable_kit},
                         cwd="/")
    assert out.returncode == 0, out.stderr
    ok, reason = json.loads(out.stdout)
    assert not ok and "systemd-run --user --scope -p Delegate=yes" in reason and "\n" not in reason, reason


@pytest.mark.slow
def test_read_only_cgroup_fs_gives_an_actionable_reason() -> None:
    _as_root_with("unshare", "mount")
    _require()
    places, _ = _cgroup._read_places()
    script = "".join(f"mount -o remount,bind,ro {p.mountpoint} && " for p in places)
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          script + f"exec /usr/bin/python3 -c '{PROBE}'"], capture_output=True, text=True, timeout=20,
                         env={"PYTHONPATH": REPO},
                         cwd="/")
    if out.returncode != 0:
        pytest.skip(f"cannot remount read-only here: {out.stderr.strip()}")
    ok, reason = json.loads(out.stdout)
    assert not ok and "read-only" in reason, reason


def test_places_from_a_pure_v2_systemd_machine() -> None:
    """Parsing only: GitHub's ubuntu runners and current distributions mount cgroup v2 alone."""
    mountinfo = ("24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
                 "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                 "rw,nsdelegate,memory_recursiveprot\n")
    cgroup = "0::/user.slice/user-1001.slice/session-3.scope\n"
    places, notes = _cgroup._places(mountinfo, cgroup)
    assert notes == [] and len(places) == 1
    assert places[0].version == 2
    assert places[0].own == "/sys/fs/cgroup/user.slice/user-1001.slice/session-3.scope"
    # broken variant: a container whose cgroup lies outside the mounted tree is refused, with a note
    places, notes = _cgroup._places(mountinfo.replace(" / /sys/fs/cgroup", " /docker/abc /sys/fs/cgroup"), cgroup)
    assert places == [] and "outside" in notes[0]


# -- memory files, as each kernel lays them out (pure: files in a temporary folder) ------------------
def fake_group(tmp_path: Path, version: int, files: dict[str, str]) -> RunCgroup:
    """A run group made of plain files; a limit file starts empty (a cgroup file is replaced by a
    write, a plain file only overwritten)."""
    for name, text in {"cgroup.procs": "", **files}.items():
        (tmp_path / name).write_text("" if "limit" in name or name.endswith(".max") else text)
    return RunCgroup([_cgroup._Dir(str(tmp_path), version, frozenset({"memory"} if version == 1 else ()))])


def test_memory_from_cgroup_v2(tmp_path: Path) -> None:
    """v2 (GitHub's runners, most distributions): memory.peak, memory.events, memory.max + swap.max 0."""
    g = fake_group(tmp_path, 2, {"memory.peak": "314572800\n", "memory.current": "1000\n", "memory.max": "max\n",
                                 "memory.swap.max": "max\n", "memory.events": "low 0\nhigh 0\nmax 4\noom 1\n"
                                 "oom_kill 1\noom_group_kill 0\n"})
    assert g.memory_kept and g.memory_peak() == 300 * 2**20 and g.oom_kills() == 1
    g.limit_memory(200 * 2**20)
    assert (tmp_path / "memory.max").read_text() == str(200 * 2**20)
    assert (tmp_path / "memory.swap.max").read_text() == "0"  # the limit holds swap too
    assert "memory from v2 memory.peak" in g.describe()


def test_memory_from_cgroup_v1_with_and_without_swap_accounting(tmp_path: Path) -> None:
    v1 = {"memory.max_usage_in_bytes": "2000\n", "memory.limit_in_bytes": "9223372036854771712\n",
          "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"}
    swap = {"memory.memsw.max_usage_in_bytes": "3000\n", "memory.memsw.limit_in_bytes": "9223372036854771712\n"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with_swap = fake_group(tmp_path / "a", 1, {**v1, **swap})
    assert with_swap.memory_peak() == 3000 and with_swap.oom_kills() == 2  # RAM and swap: what the limit holds
    with_swap.limit_memory(200 * 2**20)
    assert (tmp_path / "a" / "memory.limit_in_bytes").read_text() == str(200 * 2**20)
    assert (tmp_path / "a" / "memory.memsw.limit_in_bytes").read_text() == str(200 * 2**20)
    no_swap = fake_group(tmp_path / "b", 1, v1)
    assert no_swap.memory_peak() == 2000


def test_no_memory_files_no_limit(tmp_path: Path) -> None:
    """The broken variant: a group without memory files must refuse a limit, never ignore it."""
    g = fake_group(tmp_path, 2, {"cpu.stat": "usage_usec 1\n"})
    assert not g.memory_kept and g.memory_peak() is None and g.oom_kills() is None
    with pytest.raises(_cgroup.LimitUnavailable, match="memory controller is not available"):
        g.limit_memory(200 * 2**20)


def test_threads_are_read_now_not_kept_from_an_earlier_listing(tmp_path: Path) -> None:
    """A tick lists processes twice and threads once; at the next tick the threads must be the kernel's
    of now (the broken variant kept the threads an unchanged process listing had read and gave them to
    the next ``threads()``: a process that had exited then counted as a thread)."""
    g = fake_group(tmp_path, 2, {"cgroup.procs": "1\n", "cgroup.threads": "1\n", "cpu.stat": "usage_usec 1\n"})
    (tmp_path / "cgroup.procs").write_text("1\n")
    assert g.procs(every=False) == {1} and g.threads() == {1}
    assert g.procs(every=False) == {1}  # the tick's second listing: threads unchanged
    (tmp_path / "cgroup.procs").write_text("2\n")
    (tmp_path / "cgroup.threads").write_text("2\n")  # process 1 ended, 2 started
    assert g.threads() == {2}
    assert g.procs(every=False) == {2}


def test_pressure_stall_figures_are_read_from_cpu_pressure() -> None:
    text = "some avg10=1.00 avg60=0.50 avg300=0.10 total=1234567\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    assert _cgroup.some_stall_s(text) == pytest.approx(1.234567)
    assert _cgroup.some_stall_s("full avg10=0.00 total=5\n") is None  # no "some" line
    assert _cgroup.some_stall_s("") is None and _cgroup.some_stall_s(None) is None


@pytest.mark.slow
def test_a_run_group_says_how_long_its_processes_waited_for_a_cpu() -> None:
    """Three CPU-bound processes on the machine's CPUs plus one: some of them always waits."""
    _require()
    with RunCgroup.create("stall") as group:
        if group.cpu_stall_s() is None:
            pytest.skip("no cpu.pressure in the run's group (no cgroup v2 or no PSI here)")
        n = (os.cpu_count() or 1) + 1
        code = "import time\nend = time.monotonic() + 0.6\nwhile time.monotonic() < end: pass\n"
        procs = [subprocess.Popen([sys.executable, "-c", code], preexec_fn=group.preexec) for _ in range(n)]
        for p in procs:
            p.wait()
        stall = group.cpu_stall_s()
        assert stall is not None and stall > 0.1, stall
