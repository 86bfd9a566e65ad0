"""A pool worker returns something that cannot be pickled (a lock).

The worker cannot send its result back; the pool wraps the error in ``MaybeEncodingError`` and
raises it in the parent, from ``map()``.  Nothing hangs, and the pool keeps working.  A ``Pool``
pickles results under every start method, fork included.
"""
import threading
from multiprocessing import Pool

from kit.examples._support import record


def make_lock(i):
    return threading.Lock()  # 锁不能被 pickle


def square(i):
    return i * i


if __name__ == '__main__':
    with Pool(2) as pool:
        try:
            pool.map(make_lock, range(2))
        except Exception as exc:
            error = f'{type(exc).__name__}: {exc}'
            record("result_error", error=error)
            print('结果无法传回:', error)
        after = pool.map(square, range(4))
        record("pool_after", value=after)
        print('之后进程池照常工作:', after)
