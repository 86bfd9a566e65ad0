"""A known process tree: main -> 3 children -> 1 grandchild each, all alive at once.

Every process prints ``tree ROLE PID PPID``; a Barrier of 7 holds them all
alive together, then each lingers a moment so the observer samples them.
"""
import os
import time
from multiprocessing import Barrier, Process


def say(role):
    # one write per line: with PYTHONUNBUFFERED, print() writes the text and the newline
    # separately, and lines of processes sharing a pipe would interleave
    os.write(1, f"tree {role} {os.getpid()} {os.getppid()}\n".encode())


def grandchild(barrier):
    say("grandchild")
    barrier.wait(timeout=20)
    time.sleep(0.3)


def child(barrier):
    say("child")
    g = Process(target=grandchild, args=(barrier,))
    g.start()
    barrier.wait(timeout=20)
    time.sleep(0.3)
    g.join()


if __name__ == '__main__':
    say("main")
    barrier = Barrier(7)
    kids = [Process(target=child, args=(barrier,)) for _ in range(3)]
    for k in kids:
        k.start()
    barrier.wait(timeout=20)
    for k in kids:
        k.join()
