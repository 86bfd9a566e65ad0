"""Broken ``preload_main``: one child instead of two, so under spawn the top level runs in two
processes, not the three the example expects."""
from multiprocessing import Process, current_process

from kit.examples._support import record


def func():
    print('我是', current_process().name)


print('顶层代码运行于', current_process().name)
record("top_level_print", process=current_process().name)

if __name__ == '__main__':
    ps = [Process(target=func) for _ in range(1)]  # bug: the example starts two
    for p in ps:
        p.start()
    for p in ps:
        p.join()
