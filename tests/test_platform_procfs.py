"""kit._platform._procfs: the one /proc/PID/stat parser and the one cgroup finder."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit._platform import _procfs
from kit._platform._cpus import cgroup_cpu_limit
from kit._platform._procfs import hierarchies, parse_stat, read_stat

# proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
#          cutime cstime priority nice num_threads itrealvalue starttime vsize rss ...
TAIL = b" S 1 12 12 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 7 0 99 123456 42 18446744073709551615"


def _old_ppid(data: bytes) -> int:
    """A broken variant: split at the first ')', as a naive reader would."""
    return int(data[data.find(b")") + 2:].split(None, 2)[1])


def test_stat_fields() -> None:
    st = parse_stat(b"12 (python3)" + TAIL + b"\n")
    assert st == _procfs.ProcStat(pid=12, comm="python3", state="S", ppid=1, pgrp=12, utime=3, stime=4,
                                  num_threads=7, starttime=99, rss=42, processor=None)
    full = parse_stat(b"12 (python3)" + TAIL + b" 0" * 13 + b" 1 0 0\n")  # field 39: the CPU it last ran on
    assert (full.rss, full.processor) == (42, 1)


@pytest.mark.parametrize("comm", [b"a b", b"a) b (c", b") S 999 999", b"(", b""])
def test_stat_comm_with_spaces_and_parentheses(comm: bytes) -> None:
    data = b"12 (" + comm + b")" + TAIL
    st = parse_stat(data)
    assert (st.pid, st.comm, st.state, st.ppid, st.starttime) == (12, comm.decode(), "S", 1, 99)


def test_the_first_parenthesis_is_the_wrong_one() -> None:
    """The broken variant: a reader that splits at the first ')' reads a command name's bytes as the ppid."""
    data = b"12 (x) S 999 1)" + TAIL
    assert parse_stat(data).ppid == 1
    assert _old_ppid(data) == 999


@pytest.mark.parametrize("data", [b"", b"12 python S 1", b"12 (x) S 1 2", b"12 )x( S" + TAIL])
def test_stat_not_a_line(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_stat(data)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="no /proc here")
def test_read_stat_of_a_live_a_gone_and_a_threaded_process() -> None:
    me = read_stat(os.getpid())
    assert me is not None and me.pid == os.getpid() and me.ppid == os.getppid() and me.state == "R"
    assert read_stat(os.getpid(), os.getpid()) is not None  # the main thread's own stat
    code = "import threading, time; [threading.Thread(target=time.sleep, args=(5,), daemon=True).start() " \
           "for _ in range(3)]; print(1, flush=True); time.sleep(5)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline()
        st = read_stat(proc.pid)
        assert st is not None and st.num_threads == 4 and st.ppid == os.getpid() and st.comm.startswith("python")
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.01)
    assert read_stat(proc.pid) is None  # reaped: gone


# -- the cgroup finder and the CPU quota --------------------------------------------------------
# This machine's kind: cgroup v1 hierarchies under /sys/fs/cgroup/<controller>, v2 at /sys/fs/cgroup/unified.
HYBRID_MOUNTINFO = """\
23 1 0:21 / /sys rw,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/batch/job
0::/batch/job
"""
# GitHub's ubuntu runners and current distributions: cgroup v2 alone, under systemd.
V2_MOUNTINFO = ("24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
                "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                "rw,nsdelegate,memory_recursiveprot\n")
V2_CGROUP = "0::/system.slice/runner.service\n"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fake(root: Path, mountinfo: str, cgroup: str, files: dict[str, str]) -> str:
    _write(root, "proc/self/mountinfo", mountinfo)
    _write(root, "proc/self/cgroup", cgroup)
    for rel, text in files.items():
        _write(root, rel, text)
    return str(root)


def test_hierarchies_of_a_hybrid_machine(tmp_path: Path) -> None:
    found = hierarchies(HYBRID_MOUNTINFO, HYBRID_CGROUP, str(tmp_path))
    by = {(h.version, tuple(sorted(h.controllers))): h for h in found}
    assert len(found) == 6  # the tmpfs and sysfs are not cgroups
    assert by[(2, ())].own == f"{tmp_path}/sys/fs/cgroup/unified/batch/job"
    assert by[(1, ("cpu",))].own == f"{tmp_path}/sys/fs/cgroup/cpu/batch/job"
    assert by[(1, ("memory",))].own == f"{tmp_path}/sys/fs/cgroup/memory/process_api/abc"
    assert by[(1, ("name=systemd",))].own == f"{tmp_path}/sys/fs/cgroup/systemd"
    assert hierarchies(HYBRID_MOUNTINFO, HYBRID_CGROUP)[-1].own == "/sys/fs/cgroup/unified/batch/job"


def test_hierarchies_outside_the_mounted_tree() -> None:
    """A container that sees part of a tree: our cgroup is not in it (own None), yet named (path)."""
    mountinfo = V2_MOUNTINFO.replace(" / /sys/fs/cgroup", " /docker/abc /sys/fs/cgroup")
    [h] = hierarchies(mountinfo, V2_CGROUP)
    assert h.path == "/system.slice/runner.service" and h.own is None
    [h] = hierarchies(mountinfo, "0::/docker/abc/inner\n")
    assert h.own == "/sys/fs/cgroup/inner"


def test_v2_quota_on_a_hybrid_machine(tmp_path: Path) -> None:
    """cpu.max of our v2 cgroup under /sys/fs/cgroup/unified (where v2 sits on hybrid systems)."""
    root = _fake(tmp_path, HYBRID_MOUNTINFO, HYBRID_CGROUP, {
        "sys/fs/cgroup/unified/batch/job/cpu.max": "150000 100000\n",
        "sys/fs/cgroup/unified/batch/cpu.max": "max 100000\n"})
    assert cgroup_cpu_limit(root) == 1.5
    # broken variant: the old assumption (v2 at /sys/fs/cgroup, v1 cpu at its mount's root) misses it
    assert _old_cgroup_cpu_limit(tmp_path) is None


def test_v1_quota_of_our_own_cgroup(tmp_path: Path) -> None:
    """cpu.cfs_quota_us of our v1 cpu cgroup (and of its ancestors), not the hierarchy's root only."""
    root = _fake(tmp_path, HYBRID_MOUNTINFO, HYBRID_CGROUP, {
        "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
        "sys/fs/cgroup/cpu/batch/cpu.cfs_quota_us": "300000\n", "sys/fs/cgroup/cpu/batch/cpu.cfs_period_us": "100000\n",
        "sys/fs/cgroup/cpu/batch/job/cpu.cfs_quota_us": "50000\n",
        "sys/fs/cgroup/cpu/batch/job/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_limit(root) == 0.5
    assert _old_cgroup_cpu_limit(tmp_path) is None  # broken variant: the root of the cpu hierarchy has none


def test_v1_combined_cpu_cpuacct_mount(tmp_path: Path) -> None:
    """Distributions that mount cpu and cpuacct together (``/sys/fs/cgroup/cpu,cpuacct``)."""
    mountinfo = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    root = _fake(tmp_path, mountinfo, "3:cpu,cpuacct:/docker/abc\n", {
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n",
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_limit(root) == 2.0


def test_v2_quota_on_a_pure_v2_machine(tmp_path: Path) -> None:
    """GitHub's ubuntu runners: the tightest cpu.max of our cgroup and its ancestors."""
    root = _fake(tmp_path, V2_MOUNTINFO, V2_CGROUP, {
        "sys/fs/cgroup/system.slice/runner.service/cpu.max": "max 100000\n",
        "sys/fs/cgroup/system.slice/cpu.max": "100000 100000\n"})
    assert cgroup_cpu_limit(root) == 1.0
    assert _old_cgroup_cpu_limit(tmp_path) == 1.0  # where the old assumption held, the same answer


def test_no_quota_no_cgroup_no_proc(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(_fake(tmp_path / "a", V2_MOUNTINFO, V2_CGROUP, {})) is None
    assert cgroup_cpu_limit(_fake(tmp_path / "b", "", "", {})) is None
    assert cgroup_cpu_limit(str(tmp_path / "nothing")) is None  # no /proc (macOS, Windows)
    garbled = {"sys/fs/cgroup/system.slice/runner.service/cpu.max": "garbled\n",
               "sys/fs/cgroup/system.slice/cpu.max": "0 0\n"}
    assert cgroup_cpu_limit(_fake(tmp_path / "c", V2_MOUNTINFO, V2_CGROUP, garbled)) is None


def _old_cgroup_cpu_limit(root: Path) -> float | None:
    """The former reader, kept as the broken variant: v2 at /sys/fs/cgroup, v1 at /sys/fs/cgroup/cpu's root."""
    limits = []
    own = next((line[3:] for line in (root / "proc/self/cgroup").read_text().splitlines() if line.startswith("0::")),
               None)
    v2 = root / "sys/fs/cgroup"
    for folder in [v2 / own.lstrip("/")] if own else []:
        while True:
            try:
                quota, period = (folder / "cpu.max").read_text().split()[:2]
                if quota != "max":
                    limits.append(float(quota) / float(period))
            except OSError:
                pass
            if folder == v2:
                break
            folder = folder.parent
    try:
        quota_s = float((root / "sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_s = float((root / "sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota_s > 0:
            limits.append(quota_s / period_s)
    except OSError:
        pass
    return min(limits) if limits else None
