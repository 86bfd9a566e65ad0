"""Broken ``queue_siblings`` example: the main process gets the message instead of a sibling."""
from multiprocessing import Process, Queue

from kit.examples._support import record


def q_put(q):
    record("put", value='hello')
    q.put('hello')


if __name__ == '__main__':
    q = Queue()
    producer = Process(target=q_put, args=(q,))
    producer.start()
    value = q.get()  # bug: the main process is the consumer, not a sibling
    record("got", value=value)
    print(value)
    producer.join()
