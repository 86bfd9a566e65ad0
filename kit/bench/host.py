"""Measuring on the host: one fresh interpreter per start method.

A start method, once used, leaves state behind (a forkserver, a resource tracker, imported
modules) that would make the next method look cheaper or dearer than it is: each method gets
an interpreter of its own, in its own process group, killed whole on a timeout or an
interruption (a forkserver or pool worker must not outlive it).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kit
from kit.bench.records import ERROR, MethodBench
from kit.bench.worker import last_line, parse_output, worker_command, worker_timeout


def measure_host(method: str, repeat: int) -> MethodBench:
    """The worker under ``method`` in a fresh interpreter here, as a row."""
    from kit import _platform

    env = dict(os.environ)
    root = str(Path(kit.__file__).resolve().parent.parent)  # the worker is this kit's, from any folder
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    limit = worker_timeout(repeat)
    proc = subprocess.Popen(worker_command(sys.executable, method, repeat), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
                            **_platform.new_group_kwargs())
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _platform.kill_group(proc.pid)
        _, err = proc.communicate()
        return MethodBench("host", method, ERROR, f"the worker did not finish within {limit:g} s: killed; "
                                                  f"last stderr line: {last_line(err)}")
    except BaseException:
        _platform.kill_group(proc.pid)
        proc.communicate()
        raise
    # done: its forkserver and resource tracker end with it (their pipes close); its pid is free now
    return parse_output(out, "host", method, f"exited with status {proc.returncode}", err)
