"""The article's Lock example as printed there: no join (the kit's lock.py adds one).

Under spawn/forkserver the main process finishes right after starting the
children; its exit handler unlinks the named semaphore behind the Lock before
the children have unpickled it, and the children die with FileNotFoundError.
"""
from multiprocessing import Process, Lock


def func(k, lock):
    lock.acquire()
    print(k)
    lock.release()


if __name__ == '__main__':
    lock = Lock()
    for i in range(10):
        p = Process(target=func, args=(i, lock))
        p.start()
