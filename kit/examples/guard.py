"""No ``if __name__ == '__main__':`` guard: what Windows users hit.

Under spawn and forkserver the child re-imports this module, reaches
``p.start()`` while still bootstrapping and dies with a RuntimeError; the
parent carries on and sees exit code 1. Under fork the child never re-imports
the module, so the script runs.
"""
from multiprocessing import Process

from kit.examples._support import record


def func():
    print('我是一个进程')


p = Process(target=func)
p.start()
p.join()
record("child_exitcode", exitcode=p.exitcode)
print('子进程退出码', p.exitcode)
