"""``join()`` blocks the parent until the child ends: asynchronous made sequential."""
from multiprocessing import Process

from kit.examples._support import record


def func(arg):
    print('我是一个%s' % arg)
    record("child_printed")


if __name__ == '__main__':
    p = Process(target=func, args=('name',))
    p.start()
    p.join()   # 阻塞等待子进程结束
    record("parent_printed")
    print('我是第一顺序执行者')
# 结果
# 我是一个name
# 我是第一顺序执行者
