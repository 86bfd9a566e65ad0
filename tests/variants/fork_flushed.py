"""Broken ``fork_buffered_output``: the line is flushed before the raw fork, so it is written
once: the duplication the example shows does not happen."""
import os
import sys
from multiprocessing import Process

from kit.examples._support import record


def func():
    pass


if __name__ == '__main__':
    sys.stdout = open(sys.stdout.fileno(), 'w', buffering=8192, encoding='utf-8', closefd=False)
    print('Process.start() 之前的一行')
    p = Process(target=func)
    p.start()
    p.join()
    print('裸 fork() 之前的一行', flush=True)  # the fix, here a bug: nothing left to duplicate
    pid = os.fork()
    if pid == 0:
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    record("raw_fork", available=True, child=pid)
    sys.stdout.flush()
