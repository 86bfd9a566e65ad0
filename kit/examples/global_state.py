"""A module global changed in the main block before ``start()``: what does the child see?

Under fork the child is a copy of the parent: it sees the new value.  Under spawn and
forkserver the child imports the module afresh: it sees the value the module sets at import.
"""
from multiprocessing import Process

from kit.examples._support import record

counter = 0  # 导入时的值


def show():
    record("child_sees", value=counter)
    print('子进程看到 counter =', counter)


if __name__ == '__main__':
    counter = 100  # 在 main 中修改, start() 之前
    p = Process(target=show)
    p.start()
    p.join()
    print('父进程的 counter =', counter)
