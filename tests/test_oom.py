"""kit.oom on hand-made observations: who the OOM killer ended, what followed, and what is not its doing.

The real kills (a grower under ``--memory-limit``, a Pool worker) are in tests/test_memory.py."""
from __future__ import annotations

import dataclasses
from typing import Any

from test_judge import MAIN, START, done, ev, observation, proc

from kit import oom
from kit.diagnose import diagnose
from kit.judge import judge
from kit.observation import End, Observation, Output
from kit.outcomes import Code, Ev, Status

MiB = 2**20


def pool(size: int = 2) -> tuple[Any, ...]:
    """A Pool's workers starting, pids 1001... named SpawnPoolWorker-1..."""
    return tuple(ev(Ev.PROCESS_STARTED, 10 + i, child=1001 + i, name=f"SpawnPoolWorker-{i + 1}", daemon=True,
                    method="spawn") for i in range(size))


def killed(pid: int, name: str, ms: float = 500) -> Any:
    return ev(Ev.CHILD_KILLED, ms, child=pid, name=name, exitcode=-9, signal="SIGKILL")


def run(**changes: Any) -> Observation:
    base = observation(method="spawn", memory_limit_bytes=200 * MiB, memory_peak_bytes=200 * MiB,
                       memory_source="cgroup")
    return dataclasses.replace(base, **changes)


def the(obs: Observation) -> str:
    found = [d for d in diagnose(obs) if d.code is Code.OOM_KILLED]
    assert len(found) == 1, diagnose(obs)
    return found[0].message


def test_a_pool_worker_named_by_the_kernel_with_its_place_and_what_followed() -> None:
    rec = dataclasses.replace(proc(1002), rss_peak_bytes=190 * MiB)
    obs = run(end=End.OOM_STALLED, exitcode=None, stop_reason="...", oom_kills=1, oom_victims=((1002, "python3"),),
              events=(START, *pool(), killed(1002, "SpawnPoolWorker-2")), processes=(rec,))
    assert the(obs) == (
        "the kernel's OOM killer ended 1 process(es) under the run's 200 MiB limit (the run's peak: 200 MiB): "
        "SpawnPoolWorker-2 (Pool worker 2 of 2, pid 1002, 190 MiB resident when last seen). Then: the Pool went on "
        "waiting for the task the killed worker held (a Pool never gives a lost task back: map() and get() wait "
        "forever); the kit stopped the run.")
    assert [d.code for d in diagnose(obs)] == [Code.OOM_KILLED]  # not worker_died as well
    r = judge(obs, [])
    assert r.status is Status.FAIL and r.has(Code.OOM_KILLED)


def test_without_the_kernels_log_a_sigkill_death_is_named_when_it_is_the_only_one() -> None:
    obs = run(oom_kills=1, events=(START, *pool(), killed(1001, "SpawnPoolWorker-1"), done()))
    assert "SpawnPoolWorker-1 (Pool worker 1 of 2, pid 1001)" in the(obs)
    assert "one of" not in the(obs)
    r = judge(obs, [])
    assert r.status is Status.FAIL
    assert r.reason == "the kernel's OOM killer ended 1 process(es) of the run: SpawnPoolWorker-1 (pid 1001)"


def test_two_sigkill_deaths_for_one_kill_are_not_guessed() -> None:
    obs = run(oom_kills=1, events=(START, *pool(), killed(1001, "SpawnPoolWorker-1"),
                                   killed(1002, "SpawnPoolWorker-2", 600), done()))
    assert "one of SpawnPoolWorker-1" in the(obs) and "the kernel's log was not read" in the(obs)


def test_a_replacement_worker_is_said_to_be_one() -> None:
    events = (START, *pool(2), killed(1001, "SpawnPoolWorker-1", 300),
              ev(Ev.PROCESS_STARTED, 310, child=1003, name="SpawnPoolWorker-3", daemon=True, method="spawn"),
              killed(1003, "SpawnPoolWorker-3", 800), done())
    obs = run(oom_kills=2, oom_victims=((1001, "python3"), (1003, "python3")), events=events)
    assert "SpawnPoolWorker-1 (Pool worker 1 of 2, pid 1001)" in the(obs)
    assert "SpawnPoolWorker-3 (a replacement Pool worker, number 3, pid 1003)" in the(obs)


def test_the_main_process_killed_and_the_symptoms_named() -> None:
    obs = run(exitcode=-9, oom_kills=1, oom_victims=((MAIN, "python3"),),
              stderr=Output("UserWarning: resource_tracker: There appear to be 3 leaked semaphore objects to clean up "
                            "at shutdown\nconcurrent.futures.process.BrokenProcessPool: A process in the process pool "
                            "was terminated abruptly"))
    message = the(obs)
    assert "the main process (pid 1000)" in message
    assert "the ProcessPoolExecutor broke (BrokenProcessPool)" in message
    assert "the main process itself died" in message
    assert "\"leaked semaphore objects\" warning is a symptom of this kill" in message


def test_no_oom_kill_no_oom_diagnosis_even_for_a_sigkill() -> None:
    """The broken variant: a worker killed by SIGKILL (a kill from outside) while the kernel counted
    no OOM kill is worker_died, never oom_killed; and an unknown count (no memory group) says nothing."""
    for count in (0, None):
        obs = run(oom_kills=count, events=(START, *pool(), killed(1001, "SpawnPoolWorker-1"), done()))
        assert [d.code for d in diagnose(obs)] == [Code.WORKER_DIED]
        assert oom.victims(obs) == []
        assert judge(obs, []).status is not Status.FAIL or "OOM" not in judge(obs, []).reason


def test_a_kill_nobody_can_name_is_still_said() -> None:
    obs = run(oom_kills=1, events=(START, done()))
    assert "a process the kit could not name" in the(obs)


def test_the_kernels_log_lines() -> None:
    from kit._platform._kmsg import victims_in

    lines = ["Memory cgroup out of memory: Killed process 1234 (python3) total-vm:300000kB, anon-rss:200000kB",
             "oom_reaper: reaped process 1234 (python3), now anon-rss:0kB",
             "Out of memory: Killed process 77 (my worker) total-vm:1kB", "eth0: link up"]
    assert victims_in(lines) == [(1234, "python3"), (77, "my worker")]
