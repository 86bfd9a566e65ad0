"""The platform's start methods: which exist, and which is the default.

Linux: fork by default up to 3.13, forkserver from 3.14; macOS and Windows: spawn; Windows has
no fork and no forkserver.  The kit makes each cell's method the default before the script
runs, so the script sees the cell's method; the launcher records the default as Python shipped
it (``platform_default`` of its ``script_start`` event), which the checks compare.
"""
import multiprocessing

from kit.examples._support import record

if __name__ == '__main__':
    methods = multiprocessing.get_all_start_methods()
    record("start_methods", available=sorted(methods), current=multiprocessing.get_start_method())
    print('可用的启动方法:', ', '.join(sorted(methods)))
    print('本次运行使用:', multiprocessing.get_start_method())
