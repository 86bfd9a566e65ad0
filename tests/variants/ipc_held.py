"""Holds a named semaphore (a Lock: named under spawn and forkserver) and a shared memory block,
prints their names, then either hangs (the kit kills it at its timeout: the resource tracker
dies with it) or, with ``--clean``, releases both and exits as a tidy script does."""
import sys
import time
from multiprocessing import Lock, Process, shared_memory


def child(lock):
    with lock:
        pass


if __name__ == '__main__':
    lock = Lock()
    shm = shared_memory.SharedMemory(create=True, size=4096)
    p = Process(target=child, args=(lock,))  # the Lock really used by a child: a spawn child opens it by name
    p.start()
    p.join()
    print("semaphore", lock._semlock.name, flush=True)  # None under fork: unlinked as it is made
    print("shared_memory", shm._name, flush=True)
    if "--clean" in sys.argv:
        shm.close()
        shm.unlink()
    else:
        time.sleep(60)
