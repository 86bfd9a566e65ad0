"""Create and start a process (article: "Creating a simple process")."""
# 创建一个进程
from multiprocessing import Process  # 导入创建进程模块

from kit.examples._support import record


def func():
    record("child_says", text="我是一个进程")
    print('我是一个进程')


if __name__ == '__main__':
    p = Process(target=func)  # 创建进程对象
    p.start()                # 启动进程
# 结果
# 我是一个进程
