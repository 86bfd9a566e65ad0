"""Broken ``lambda_target``: the target is a module-level function, but its argument is a
thread lock.  spawn/forkserver's start() still fails, with a TypeError: not the PicklingError of
a lambda the example is about."""
import threading
from multiprocessing import Process

from kit.examples._support import record


def func(lock):
    with lock:
        print('我是一个进程')


if __name__ == '__main__':
    p = Process(target=func, args=(threading.Lock(),))
    try:
        p.start()
    except Exception as exc:
        error = f'{type(exc).__name__}: {exc}'
        record("start_failed", error=error)
        print('start() 失败:', error)
    else:
        p.join()
        record("child_exitcode", exitcode=p.exitcode)
