"""Ten processes print under one ``Lock``: their critical sections never overlap.

The kit holds the lock a moment after printing (scaled) so that a lock that
does not lock shows up as overlapping sections instead of passing by luck.

The kit also joins the processes, which the article does not.  Without the
joins the article's code crashes every child under spawn and forkserver (so on
macOS): the main process's exit handler unlinks the named semaphore behind the
Lock before the children have unpickled it, and each child dies with
``FileNotFoundError`` (tests/test_article_pitfalls.py shows it).
"""
from multiprocessing import Lock, Process

from kit.examples._support import pause, record


def func(k, lock):
    lock.acquire()
    record("enter", k=k)
    print(k)
    pause(0.5)
    record("leave", k=k)
    lock.release()


if __name__ == '__main__':
    lock = Lock()
    processes = []
    for i in range(10):
        p = Process(target=func, args=(i, lock))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
