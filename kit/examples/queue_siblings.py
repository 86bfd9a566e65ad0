"""Two sibling processes talk through one ``Queue`` (mentioned by the article, no code there)."""
from multiprocessing import Process, Queue

from kit.examples._support import record


def q_put(q):
    record("put", value='hello')
    q.put('hello')


def q_get(q):
    value = q.get()
    record("got", value=value)
    print(value)  # 输出 hello


if __name__ == '__main__':
    q = Queue()
    consumer = Process(target=q_get, args=(q,))
    producer = Process(target=q_put, args=(q,))
    consumer.start()
    producer.start()
    producer.join()
    consumer.join()
