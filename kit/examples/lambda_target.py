"""A lambda as the target of a ``Process``: fine under fork, not picklable under spawn/forkserver.

Under spawn and forkserver ``start()`` pickles the whole ``Process`` object, target included,
and a lambda (or a nested function) cannot be pickled: ``start()`` raises in the parent
(``PicklingError``; the wording varies by Python version).  The example catches it and records
it, so the run itself ends cleanly (exit 0).  Under fork nothing is pickled: the child runs.
"""
from multiprocessing import Process

from kit.examples._support import record

if __name__ == '__main__':
    p = Process(target=lambda: print('我是一个 lambda 进程'))
    try:
        p.start()
    except Exception as exc:
        error = f'{type(exc).__name__}: {exc}'
        record("start_failed", error=error)
        print('start() 失败:', error)
    else:
        p.join()
        record("child_exitcode", exitcode=p.exitcode)
        print('子进程退出码', p.exitcode)
