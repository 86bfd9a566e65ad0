"""A main process that SIGKILLs itself: the kit must report the exit code, not hang or pass."""
import os
import signal

from kit.examples._support import record

if __name__ == '__main__':
    record("about_to_die")
    print('goodbye', flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
