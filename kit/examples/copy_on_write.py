"""What fork shares and spawn copies, in the kernel's figures.

Part 1: one large buffer in the parent, read by two workers.  Under fork the workers read the
parent's own pages: nothing is copied, and the run holds about one copy.  Under spawn and
forkserver the buffer is pickled to each worker, which holds its own copy: about three.  The
kit's memory peak of the run shows it; each worker also says how much private memory it has
after reading (the pages it owns alone).

Part 2, fork only: copy-on-read.  "Copy-on-write" is not what a Python child gets for many small
objects: reading an object writes its reference count, and the garbage collector writes into
every object it visits, so the page holding it is copied into the child.  A worker that reads a
parent's list of small lists copies most of their pages; a worker that only runs the collector
copies them too — unless the parent called ``gc.freeze()`` before forking (frozen objects are
never visited).  Reading still copies: ``gc.freeze()`` saves the collector's writes, not the
reference counts'.
"""
import gc
import multiprocessing
import time

from kit.examples._support import private_bytes, record

BUFFER_MB = 64
HOLD_S = 0.4
OBJECTS = 200_000


def read_buffer(data, ready):
    total = data.count(b"\x01")  # reads every byte
    after = private_bytes()
    record("buffer_read", ones=total, private=after)
    ready.wait()  # every worker holds the data at once: the run's peak counts them together
    time.sleep(HOLD_S)  # long enough for a sampled peak (no memory cgroup: macOS, Windows) to see it


def read_objects(data, kind):
    before = private_bytes()
    if kind == "objects_read":
        total = sum(item[0] for item in data)  # every object's reference count is written
    else:
        total = gc.collect()  # the collector visits (and writes into) every tracked object
    after = private_bytes()
    record(kind, total=total, copied=None if before is None or after is None else after - before)


def part_one(ctx):
    data = bytes(BUFFER_MB * 2**20 - 1) + b"\x01"
    record("data", size=len(data))
    ready = ctx.Barrier(3)
    workers = [ctx.Process(target=read_buffer, args=(data, ready)) for _ in range(2)]
    for w in workers:
        w.start()
    ready.wait()
    for w in workers:
        w.join()


def part_two(ctx):
    gc.collect()
    before = private_bytes()
    data = [[i, str(i)] for i in range(OBJECTS)]  # small objects: lists are always tracked by the collector
    after = private_bytes()
    record("objects", count=len(data), size=None if before is None or after is None else after - before)
    for kind in ("objects_read", "objects_collected", "objects_collected_frozen"):
        if kind.endswith("frozen"):
            gc.freeze()  # everything the parent holds now is never visited by the collector again
        p = ctx.Process(target=read_objects, args=(data, kind), name=kind)
        p.start()
        p.join()
    gc.unfreeze()


if __name__ == "__main__":
    ctx = multiprocessing.get_context()
    part_one(ctx)
    if ctx.get_start_method() == "fork":  # spawn and forkserver children share nothing to copy
        part_two(ctx)
