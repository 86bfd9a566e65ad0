"""``put`` and ``get`` on one ``Queue`` in a single process (the article's first queue)."""
# Simple queue usage
from multiprocessing import Queue

from kit.examples._support import record

q = Queue()
q.put(1)
value = q.get()
record("got", value=value)
print(value)  # 输出 1
