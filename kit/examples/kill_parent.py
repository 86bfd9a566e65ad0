"""The main process is killed (``kill -9``) while its children sleep: nobody cleans up.

Daemon children are terminated by an exit hook that runs only when the main process exits
normally; a killed main process runs nothing.  So the daemon and the ordinary child both live
on as orphans (under forkserver they are children of the forkserver, which they keep alive:
it is left too).  The kit kills whatever is left after its grace.
"""
import time
from multiprocessing import Pipe, Process

from kit.examples._support import kill_self, record


def sleeper(role, ready):
    record("child_running", role=role)
    print(role, '在睡觉', flush=True)
    ready.send(role)
    time.sleep(60)  # 不按比例缩短: 必须活过主进程 (the kit kills it after its grace)


if __name__ == '__main__':
    ready, tell = Pipe(duplex=False)  # 子进程睡着了就说一声 (a pipe: no semaphore to leak)
    d = Process(target=sleeper, args=('daemon', tell))
    d.daemon = True
    c = Process(target=sleeper, args=('child', tell))
    d.start()
    c.start()
    for _ in range(2):
        if ready.poll(30):
            ready.recv()
    record("killing_main", daemon=d.pid, child=c.pid)
    print('主进程被 kill -9 杀死, 子进程还在睡觉', flush=True)
    kill_self()  # kill -9 (Windows: TerminateProcess)
