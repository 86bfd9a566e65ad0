"""Broken ``daemon`` example: ``os._exit(0)`` skips the atexit hook that terminates daemons."""
import os
from multiprocessing import Event, Process

from kit.examples._support import pause, record


def func(running):
    running.set()
    while True:
        pause(1)
        print('过了一秒')


if __name__ == '__main__':
    running = Event()
    p = Process(target=func, args=(running,))
    p.daemon = True
    p.start()
    record("daemon_started", pid=p.pid)
    running.wait(timeout=30)
    print('daemon pid', p.pid)
    os._exit(0)  # bug: multiprocessing's exit handler never runs, the daemon lives on
