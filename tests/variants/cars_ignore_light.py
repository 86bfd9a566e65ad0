"""Broken ``event`` example: cars never ``e.wait()``, so they drive through red lights."""
import time, random
from multiprocessing import Process, Event

from kit.examples._support import record, scale


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
    # bug: no e.wait() -- the car does not look at the light
    record("car_passes", i=i)
    print(f'{i}车通过')


if __name__ == '__main__':
    e = Event()
    stop = Event()
    tra = Process(target=traffic_car, args=(e, stop))
    tra.start()
    cars = []
    record("cars", count=100)
    for i in range(100):
        if i % 6 == 0:
            time.sleep(random.randint(1, 3) * scale())
        p = Process(target=car, args=(i, e))
        p.start()
        cars.append(p)
    for p in cars:
        p.join()
    stop.set()
    tra.join()
