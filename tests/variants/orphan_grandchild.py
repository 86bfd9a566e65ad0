"""A script that leaves a detached ``sleep 30`` behind: the kit must call it an orphan and kill it."""
import subprocess

from kit.examples._support import record

if __name__ == '__main__':
    child = subprocess.Popen(['sleep', '30'], start_new_session=True)
    record("sleep_started", pid=child.pid)
    print('sleep pid', child.pid)
