"""Forking a process in which another thread runs.

Only the forking thread exists in the child: a lock the other thread held at that moment stays
held there forever.  From Python 3.12 ``fork()`` in a multi-threaded process warns:
"DeprecationWarning: This process (pid=...) is multi-threaded, use of fork() may lead to
deadlocks in the child." (shown because the kit runs Python with ``-W default``); Python 3.11
says nothing, and a warnings filter hides the warning.  The kit's probe names the thread alive at
the fork, and where it was started, on every Python.  Only the fork method forks the main
process; spawn and forkserver start fresh interpreters.
"""
import threading
from multiprocessing import Process

from kit.examples._support import record


def func():
    print('我是一个进程')


if __name__ == '__main__':
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, args=(30,), name="waiter")  # 另一个线程在运行
    t.start()
    record("threads_at_start", count=threading.active_count())
    p = Process(target=func)
    p.start()
    p.join()
    stop.set()
    t.join()
