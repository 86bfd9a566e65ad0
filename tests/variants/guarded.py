"""The ``guard`` example *with* the guard: spawn children no longer hit the bootstrapping error."""
from multiprocessing import Process

from kit.examples._support import record


def func():
    print('我是一个进程')


if __name__ == '__main__':
    p = Process(target=func)
    p.start()
    p.join()
    record("child_exitcode", exitcode=p.exitcode)
    print('子进程退出码', p.exitcode)
