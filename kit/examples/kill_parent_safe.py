"""The remedy for ``kill_parent``: children that die with their parent.

Each child arranges to end when the main process ends (``die_with``: Linux
``PR_SET_PDEATHSIG`` = SIGKILL when the main process is its real parent; a watchdog
thread polling the main process otherwise, e.g. under forkserver, whose workers are children of
the forkserver).  The main process is killed as in ``kill_parent``; nothing is left behind.
"""
import os
import time
from multiprocessing import Pipe, Process

from kit.examples._support import die_with, kill_self, record


def sleeper(role, main_pid, ready):
    how = die_with(main_pid)  # 父进程一死, 子进程也结束
    record("protected", role=role, how=how)
    print(role, '在睡觉, 父进程死了就结束:', how, flush=True)
    ready.send(role)
    time.sleep(60)


if __name__ == '__main__':
    ready, tell = Pipe(duplex=False)
    d = Process(target=sleeper, args=('daemon', os.getpid(), tell))
    d.daemon = True
    c = Process(target=sleeper, args=('child', os.getpid(), tell))
    d.start()
    c.start()
    for _ in range(2):
        if ready.poll(30):
            ready.recv()
    time.sleep(0.5)  # 主进程工作了一会儿 (and the kit sees the children alive before they go)
    record("killing_main", daemon=d.pid, child=c.pid)
    print('主进程被 kill -9 杀死', flush=True)
    kill_self()
