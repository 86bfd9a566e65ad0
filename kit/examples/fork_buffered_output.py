"""A line printed without flush before a raw ``os.fork()`` is written twice.

When stdout is a pipe or a file it is block-buffered: the unflushed line is copied into the
child with the rest of the memory, and both processes write it out.  ``Process.start()``
under fork flushes stdout and stderr before it forks, so its line is written once.  (The kit
sets ``PYTHONUNBUFFERED=1`` for its runs; this example re-opens stdout buffered, as a plain
``python script.py > file`` would have it.)  POSIX only: Windows has no ``os.fork``.
"""
import os
import sys
from multiprocessing import Process

from kit.examples._support import record


def func():
    pass


if __name__ == '__main__':
    sys.stdout = open(sys.stdout.fileno(), 'w', buffering=8192, encoding='utf-8', closefd=False)  # 块缓冲
    print('Process.start() 之前的一行')  # 没有 flush
    p = Process(target=func)
    p.start()
    p.join()
    if not hasattr(os, 'fork'):
        record("raw_fork", available=False)
        print('这个平台没有 os.fork')
    else:
        print('裸 fork() 之前的一行')  # 没有 flush
        pid = os.fork()
        if pid == 0:  # 子进程: 退出时写出缓冲区, 也就是父进程那一行的副本
            sys.stdout.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        record("raw_fork", available=True, child=pid)
    sys.stdout.flush()
