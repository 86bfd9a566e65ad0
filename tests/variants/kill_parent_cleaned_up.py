"""Broken ``kill_parent``: the main process terminates its children before it is killed, so
nothing is left to show: no orphan, where the example's point is the orphans."""
import time
from multiprocessing import Event, Process

from kit.examples._support import kill_self, record


def sleeper(role, running):
    record("child_running", role=role)
    running.set()
    time.sleep(60)


if __name__ == '__main__':
    d_running, c_running = Event(), Event()
    d = Process(target=sleeper, args=('daemon', d_running))
    d.daemon = True
    c = Process(target=sleeper, args=('child', c_running))
    d.start()
    c.start()
    d_running.wait(timeout=30)
    c_running.wait(timeout=30)
    for p in (d, c):  # bug (for this example): clean up first
        p.terminate()
        p.join()
    print('children', d.pid, c.pid, 'terminated', flush=True)
    kill_self()
