"""CPU-bound work in one process per usable core: real parallelism, not threads."""
import time
from multiprocessing import Process

from kit.examples._support import record, scale
from kit.results import usable_cpu_count


def burn(seconds):
    record("burn_start")
    deadline = time.process_time() + seconds
    n = 0
    while time.process_time() < deadline:
        n += sum(i * i for i in range(1000))
    record("burn_end", cpu_s=time.process_time())


if __name__ == '__main__':
    workers = usable_cpu_count()
    seconds = max(1.0, 10 * scale())  # 1 s at the default scale: enough to tell 2 cores from 1
    record("workers", count=workers, seconds=seconds)
    procs = [Process(target=burn, args=(seconds,)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(f'{workers} 个进程各自计算了 {seconds:.1f} 秒 CPU')
