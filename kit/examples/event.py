"""Traffic light and cars with ``Event``: a car passes only while the light is green.

The article's light runs forever; here a second event stops it once every car
has passed.  The article's 100 cars at ``--scale 1``; fewer (at least 20) at smaller scales,
where every car would still be a process to start (14 CPU s under spawn at 100).
The light records "green" before ``set()`` and "red" after
``clear()``, so the recorded green periods contain the real ones.
"""
import time, random
from multiprocessing import Process, Event

from kit.examples._support import record, scale, scaled_count


def traffic_car(e, stop):
    record("light", state="red")
    while True:
        if e.is_set():
            if stop.wait(3 * scale()):
                break
            print('红灯亮')
            e.clear()
            record("light", state="red")
        else:
            if stop.wait(3 * scale()):
                break
            record("light", state="green")
            print('绿灯亮')
            e.set()
    record("light_stopped")


def car(i, e):
    record("car_waits", i=i)
    e.wait()
    record("car_passes", i=i)
    print(f'{i}车通过')


if __name__ == '__main__':
    e = Event()
    stop = Event()
    tra = Process(target=traffic_car, args=(e, stop))
    tra.start()
    cars = []
    n = scaled_count(100, least=20)  # the article's 100 cars at --scale 1; each car is a process
    record("cars", count=n)
    for i in range(n):
        if i % 6 == 0:
            time.sleep(random.randint(1, 3) * scale())
        p = Process(target=car, args=(i, e))
        p.start()
        cars.append(p)
    for p in cars:
        p.join()
    stop.set()
    tra.join()
