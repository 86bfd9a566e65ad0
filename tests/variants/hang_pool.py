"""A ``Pool`` whose only task sleeps for an hour: the run must time out and leave nothing behind."""
import time
from multiprocessing import Pool

from kit.examples._support import record

if __name__ == '__main__':
    with Pool(2) as pool:
        record("pool_started")
        pool.apply(time.sleep, (3600,))
