"""A child that dies with an exception while the parent carries on and exits 0."""
from multiprocessing import Process


def work():
    raise ValueError("the child failed")


if __name__ == '__main__':
    p = Process(target=work)
    p.start()
    p.join()
    print("parent done, child exit code", p.exitcode)
