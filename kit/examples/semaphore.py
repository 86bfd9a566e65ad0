"""Ten processes, ``Semaphore(4)``: never more than four inside at once.

Like ``lock``, the kit joins the processes: the article's version crashes its
children under spawn and forkserver (see ``lock``).
"""
import time, random
from multiprocessing import Process, Semaphore

from kit.examples._support import record, scale


def toilet(i, sem):
    sem.acquire()
    record("enter", i=i)
    print(f'{i}进厕所')
    time.sleep(random.randint(1, 5) * scale())
    print(f'{i}出厕所')
    record("leave", i=i)
    sem.release()


if __name__ == '__main__':
    sem = Semaphore(4)  # 同时最多 4 个进程进入临界区
    processes = []
    for i in range(10):
        p = Process(target=toilet, args=(i, sem))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
