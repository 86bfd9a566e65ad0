"""copy_on_write, broken: each worker makes its own copy of the buffer (bytearray(data)), so under
fork nothing stays shared: its private memory and the run's peak show the copies."""
import multiprocessing

from kit.examples._support import private_bytes, record

BUFFER_MB = 64


def read_buffer(data, ready):
    mine = bytearray(data)  # the copy a careless worker makes
    total = mine.count(b"\x01")
    record("buffer_read", ones=total, private=private_bytes())
    ready.wait()


if __name__ == '__main__':
    ctx = multiprocessing.get_context()
    data = bytes(BUFFER_MB * 2**20 - 1) + b"\x01"
    record("data", size=len(data))
    ready = ctx.Barrier(3)
    workers = [ctx.Process(target=read_buffer, args=(data, ready)) for _ in range(2)]
    for w in workers:
        w.start()
    ready.wait()
    for w in workers:
        w.join()
