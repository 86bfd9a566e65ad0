"""copy_on_write, broken the other way: the workers get a name, not the buffer, and build a small
one of their own; under spawn nothing is copied, so "each worker holds a copy" must fail."""
import multiprocessing

from kit.examples._support import private_bytes, record

BUFFER_MB = 64


def read_buffer(name, ready):
    mine = bytes(1024)  # not the parent's data
    record("buffer_read", ones=mine.count(b"\x01"), private=private_bytes(), name=name)
    ready.wait()


if __name__ == '__main__':
    ctx = multiprocessing.get_context()
    data = bytes(BUFFER_MB * 2**20 - 1) + b"\x01"
    record("data", size=len(data))
    ready = ctx.Barrier(3)
    workers = [ctx.Process(target=read_buffer, args=("data", ready)) for _ in range(2)]
    for w in workers:
        w.start()
    ready.wait()
    for w in workers:
        w.join()
