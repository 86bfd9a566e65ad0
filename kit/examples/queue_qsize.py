"""``Queue.qsize()``: works on Linux and Windows, raises NotImplementedError on macOS.

macOS's ``sem_getvalue()`` is broken, and ``qsize()`` is built on it (cpython #101094: won't
fix).  A portable program counts its items itself, or uses ``empty()``.
"""
from multiprocessing import Process, Queue

from kit.examples._support import record


def q_put(q):
    q.put('hello')


if __name__ == '__main__':
    q = Queue()
    p = Process(target=q_put, args=(q,))
    p.start()
    p.join()
    try:
        n = q.qsize()
    except NotImplementedError:
        record("qsize", value=None, error="NotImplementedError")
        print('qsize() 在这个平台上不可用')
    else:
        record("qsize", value=n)
        print('qsize() =', n)
    print(q.get())
