"""kit._platform chooses one OS module and checks it against PlatformModule (mypy does it statically)."""
from __future__ import annotations

import importlib
import sys
import types

import pytest

from kit import _platform
from kit._platform import PlatformModule

# What the rest of the kit and its tests call as ``_platform.X``: these must stay.
PUBLIC = ["Guardian", "RunGroup", "become_subreaper", "kill_group", "kill_process_tree", "new_group_kwargs",
          "ppid_table", "reap", "resume", "run_group", "runs_kept_apart", "stack_signal", "start_main", "unlink_left",
          "usable_cpu_count", "warm_up", "relay_server_pid"]
MEMBERS = ["become_subreaper", "exit_waiter", "folder_watch", "kernel_log", "new_group_kwargs",
           "ppid_table", "proc_reader", "reap", "resume", "run_group", "runs_kept_apart", "stack_signal", "start_main",
           "warm_up"]


def _importable_here() -> list[str]:
    if sys.platform == "win32":
        return ["_windows"]
    return ["_linux", "_posix"] if sys.platform == "linux" else ["_posix"]


def test_public_names_stay() -> None:
    assert [name for name in PUBLIC if not hasattr(_platform, name)] == []
    assert set(PUBLIC) <= set(_platform.__all__)


@pytest.mark.parametrize("name", _importable_here())
def test_each_os_module_provides_the_protocol(name: str) -> None:
    module = importlib.import_module(f"kit._platform.{name}")
    assert isinstance(module, PlatformModule)
    assert sorted(module.__all__) == MEMBERS


def test_the_package_names_are_the_chosen_modules() -> None:
    assert isinstance(_platform.OS_MODULE, PlatformModule)
    for name in MEMBERS:
        assert getattr(_platform, name) is getattr(_platform.OS_MODULE, name), name


def test_a_module_short_of_one_name_is_caught() -> None:
    """The broken variant: an OS module without ``resume`` is not a PlatformModule."""
    fake = types.ModuleType("fake")
    for name in MEMBERS:
        setattr(fake, name, getattr(_platform, name))
    assert isinstance(fake, PlatformModule)
    del fake.resume
    assert not isinstance(fake, PlatformModule)
