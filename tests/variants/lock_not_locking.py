"""Broken ``lock`` example: the Lock is passed around but never acquired."""
from multiprocessing import Lock, Process

from kit.examples._support import pause, record


def func(k, lock):
    # bug: lock.acquire() forgotten
    record("enter", k=k)
    print(k)
    pause(0.5)
    record("leave", k=k)
    # ... and lock.release() with it


if __name__ == '__main__':
    lock = Lock()
    processes = []
    for i in range(10):
        p = Process(target=func, args=(i, lock))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
