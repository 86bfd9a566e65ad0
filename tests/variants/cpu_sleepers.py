"""Broken ``cpu`` example: the workers sleep instead of computing, so no core is busy."""
import time
from multiprocessing import Process

from kit.examples._support import record, scale
from kit.results import usable_cpu_count


def burn(seconds):
    record("burn_start")
    time.sleep(seconds)  # bug: waiting is not computing
    record("burn_end", cpu_s=time.process_time())


if __name__ == '__main__':
    workers = usable_cpu_count()
    seconds = max(1.0, 15 * scale())
    record("workers", count=workers, seconds=seconds)
    procs = [Process(target=burn, args=(seconds,)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(f'{workers} 个进程各自睡了 {seconds:.1f} 秒')
