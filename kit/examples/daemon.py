"""A daemon child loops forever; it is terminated when the main process exits.

The kit adds two things to the article: the main process waits until the
daemon is really running before it prints its stars (so that there is a live
daemon to terminate under every start method), and it shows that ``daemon``
cannot be changed once the process has started.
"""
import time
from multiprocessing import Event, Process

from kit.examples._support import record, scale


def func(running):
    running.set()
    while True:
        time.sleep(1 * scale())
        print('过了一秒')


if __name__ == '__main__':
    running = Event()
    p = Process(target=func, args=(running,))
    p.daemon = True   # 必须在 start 之前设置
    p.start()
    record("daemon_started", pid=p.pid)
    try:
        p.daemon = False  # 在 start 之后设置: 被拒绝
    except AssertionError as exc:
        record("daemon_after_start", refused=True, error=str(exc))
        print('start 之后不能再设置 daemon:', exc)
    else:
        record("daemon_after_start", refused=False)
    running.wait(timeout=30)
    for i in range(5):
        time.sleep(0.1 * scale())
        print('*' * i)
    record("main_done", daemon_alive=p.is_alive())
