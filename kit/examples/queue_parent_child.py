"""The child puts ``hello`` on a ``Queue``; the parent gets it."""
# Parent-child communication
from multiprocessing import Process, Queue

from kit.examples._support import record


def q_put(q):
    record("put", value='hello')
    q.put('hello')


if __name__ == '__main__':
    q = Queue()
    p = Process(target=q_put, args=(q,))
    p.start()
    value = q.get()
    record("got", value=value)
    print(value)  # 输出 hello
