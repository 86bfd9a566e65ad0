"""CPU-bound work in one process per usable core: real parallelism, not threads.

Each worker records its own CPU clock as its burn starts and ends: the check measures the
cores used over the burn, so a quarter of a second of it tells 2 cores from 1 (2 idle cores:
1.92-1.97 measured, against 1.50 wanted).  The workers start
burning together (a Barrier): under spawn the last one is ready ~0.1 s after the first, and
that start-up is not what is measured.
"""
import time
from multiprocessing import Barrier, Process

from kit.examples._support import record, scale
from kit.results import usable_cpu_count


def burn(seconds, ready):
    ready.wait()
    record("burn_start", cpu_s=time.process_time())
    deadline = time.process_time() + seconds
    n = 0
    while time.process_time() < deadline:
        n += sum(i * i for i in range(1000))
    record("burn_end", cpu_s=time.process_time())


if __name__ == '__main__':
    workers = usable_cpu_count()
    seconds = max(0.25, 2.5 * scale())  # 0.25 s at the default scale: enough to tell 2 cores from 1
    record("workers", count=workers, seconds=seconds)
    ready = Barrier(workers)
    procs = [Process(target=burn, args=(seconds, ready)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(f'{workers} 个进程各自计算了 {seconds:.1f} 秒 CPU')
