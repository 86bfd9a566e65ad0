"""Broken ``semaphore`` example: ``Semaphore(5)`` lets five in where the limit is four."""
import random
from multiprocessing import Process, Semaphore

from kit.examples._support import pause, record


def toilet(i, sem):
    sem.acquire()
    record("enter", i=i)
    print(f'{i}进厕所')
    pause(random.randint(1, 5))
    print(f'{i}出厕所')
    record("leave", i=i)
    sem.release()


if __name__ == '__main__':
    sem = Semaphore(5)  # bug: the example's limit is 4
    processes = []
    for i in range(10):
        p = Process(target=toilet, args=(i, sem))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
