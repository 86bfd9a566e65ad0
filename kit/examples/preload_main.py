"""Top-level code outside the ``__main__`` guard: which processes run it?

Under fork only the main process.  Under spawn every child imports the main module again.
Under forkserver every child did too, until Python 3.13.8/3.14.1 fixed the forkserver's
preloading of ``__main__`` (cpython gh-137996): since then the forkserver process itself runs
the top level once (its name is still ``MainProcess``) and its children run nothing.  The
preloading needs the script's path: the kit runs this example like ``python preload_main.py``.
"""
from multiprocessing import Process, current_process

from kit.examples._support import record


def func():
    print('我是', current_process().name)


print('顶层代码运行于', current_process().name)  # 不在 if __name__ == '__main__' 之下
record("top_level_print", process=current_process().name)

if __name__ == '__main__':
    ps = [Process(target=func) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
