"""A daemon process may not start children of its own.

``Process.start()`` in a daemonic process fails with "daemonic processes are not allowed to have
children": an ``assert``, so it is gone under ``python -O`` (the kit does not run with -O).
"""
from multiprocessing import Process, current_process

from kit.examples._support import record


def grandchild():
    print('我是孙进程')


def daemon_main():
    p = Process(target=grandchild)
    try:
        p.start()
    except AssertionError as exc:
        record("grandchild_refused", error=str(exc), daemon=current_process().daemon)
        print('守护进程不能有子进程:', exc)
    else:
        p.join()
        record("grandchild_started", exitcode=p.exitcode)


if __name__ == '__main__':
    d = Process(target=daemon_main)
    d.daemon = True
    d.start()
    d.join()
