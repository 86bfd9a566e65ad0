"""Broken ``join`` example: without ``p.join()`` the parent prints before the child."""
from multiprocessing import Process

from kit.examples._support import record


def func(arg):
    print('我是一个%s' % arg)
    record("child_printed")


if __name__ == '__main__':
    p = Process(target=func, args=('name',))
    p.start()
    # bug: no p.join() here
    record("parent_printed")
    print('我是第一顺序执行者')
