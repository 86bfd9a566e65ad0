"""Forking a process in which another thread runs.

From Python 3.12 ``fork()`` in a multi-threaded process warns: "DeprecationWarning: This
process (pid=...) is multi-threaded, use of fork() may lead to deadlocks in the child." (shown
because the kit runs Python with ``-W default``).  Only the fork method forks the main process;
spawn and forkserver start fresh interpreters.  Python 3.11 says nothing.
"""
import threading
from multiprocessing import Process

from kit.examples._support import record


def func():
    print('我是一个进程')


if __name__ == '__main__':
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, args=(30,))  # 另一个线程在运行
    t.start()
    record("threads_at_start", count=threading.active_count())
    p = Process(target=func)
    p.start()
    p.join()
    stop.set()
    t.join()
