"""One API for what differs between operating systems; each OS in its own module.

Nothing outside this package may test ``sys.platform`` or call a POSIX-only
function (``os.killpg``, ``prctl``, ``os.waitpid`` on foreign children,
``Process.cpu_num``).
"""
from __future__ import annotations

import sys

if sys.platform == "win32":
    from kit._platform._windows import (
        become_subreaper,
        cpu_num,
        new_group_kwargs,
        ppid_table,
        reap,
    )
elif sys.platform == "linux":
    from kit._platform._linux import (
        become_subreaper,
        cpu_num,
        new_group_kwargs,
        ppid_table,
        reap,
    )
else:
    from kit._platform._posix import (
        become_subreaper,
        cpu_num,
        new_group_kwargs,
        ppid_table,
        reap,
    )

__all__ = ["become_subreaper", "cpu_num", "new_group_kwargs", "ppid_table", "reap"]
