"""A long ``TMPDIR`` and the forkserver: ``OSError: AF_UNIX path too long``.

The forkserver listens on a Unix socket made in the temporary folder, and a socket's path may
not be longer than about 107 bytes.  With a long ``TMPDIR`` the forkserver cannot start
(Python 3.11); newer Pythons fall back to the system's temporary folder when ``TMPDIR`` is too
long for a socket (cpython gh-132124).  fork and spawn need no socket.  The limit is on the
path's length, so a long name of an existing folder (``/tmp/./././...``) shows it without
creating anything.  ``tempfile`` caches the folder: set both.
"""
import os
import tempfile
from multiprocessing import Process

from kit.examples._support import record


def func():
    print('我是一个进程')


if __name__ == '__main__':
    deep = os.path.join(tempfile.gettempdir(), *['.'] * 60)  # 同一个目录, 但路径长 120 多字节
    os.environ['TMPDIR'] = deep
    tempfile.tempdir = deep
    p = Process(target=func)
    try:
        p.start()
    except OSError as exc:
        error = f'{type(exc).__name__}: {exc}'
        record("start_failed", error=error, tmpdir_len=len(deep))
        print('start() 失败:', error)
    else:
        p.join()
        record("child_exitcode", exitcode=p.exitcode, tmpdir_len=len(deep))
        print('子进程退出码', p.exitcode)
