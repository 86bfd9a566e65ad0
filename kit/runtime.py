"""The few files a run needs inside a user's interpreter, staged in a folder of their own.

A run in the project's interpreter (``kit pytest``, ``kit run --python``) needs the launcher, the
probe and the ``sitecustomize`` that installs it, and nothing else of the kit's: putting the
folder that holds the installed ``kit`` package on ``PYTHONPATH`` would put the kit's whole
environment there (for a pipx-installed kit, its venv's site-packages: psutil, docker, requests),
and the user's script would import what ``python script.py`` cannot.  So those modules, which use
the standard library only, are copied once into a cache folder named by a hash of their contents
(a changed kit gets a new folder; runs of the same kit share one), written to a temporary folder
and renamed into place so that concurrent kits never see half a copy.

Layout of a staged runtime::

    runtime-<hash>/hook/sitecustomize.py        kit/_hook/sitecustomize.py
    runtime-<hash>/lib/kit/__init__.py          imports nothing; ``STAGED = True``
    runtime-<hash>/lib/kit/{launcher,probe,_record,env,_pytest_plugin}.py

``PYTHONPATH`` gets ``hook`` then ``lib``; the hook takes its own folder off ``sys.path`` and the
launcher takes ``lib`` off (it holds only the kit), so the script sees the path it would see bare.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kit.container.images import cache_dir

PACKAGE = Path(__file__).resolve().parent
MODULES = ("env.py", "_record.py", "probe.py", "launcher.py", "_pytest_plugin.py")
"""The kit's modules a run imports inside the user's interpreter: standard library only (a test holds it)."""
HOOK = PACKAGE / "_hook" / "sitecustomize.py"
INIT = '"""The kit\'s run-time modules, staged for a foreign interpreter (kit.runtime): imports nothing."""\n' \
    "STAGED = True\n"


@dataclass(frozen=True)
class Runtime:
    """A staged runtime: ``root`` holds ``hook`` (the sitecustomize) and ``lib`` (the ``kit`` package)."""

    root: Path

    @property
    def hook_dir(self) -> Path:
        return self.root / "hook"

    @property
    def lib_dir(self) -> Path:
        return self.root / "lib"

    def pythonpath(self, existing: str | None = None) -> str:
        """``PYTHONPATH`` for a run: the hook first, then the kit's modules, then what the user had."""
        return os.pathsep.join(p for p in (str(self.hook_dir), str(self.lib_dir), existing) if p)

    def compile_for(self, python: str, cache_tag: str | None) -> bool:
        """Write the modules' bytecode for ``python`` once (its ``cache_tag``, e.g. ``cpython-39``), so
        that its processes do not each compile them; False when it could not (they then compile)."""
        if cache_tag and (self.lib_dir / "kit" / "__pycache__" / f"probe.{cache_tag}.pyc").exists():
            return True
        try:
            done = subprocess.run([python, "-m", "compileall", "-q", str(self.lib_dir)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0


def contents() -> dict[str, bytes]:
    """What a runtime holds, by its path inside the runtime's folder."""
    files = {"hook/sitecustomize.py": HOOK.read_bytes(), "lib/kit/__init__.py": INIT.encode()}
    for name in MODULES:
        files[f"lib/kit/{name}"] = (PACKAGE / name).read_bytes()
    return files


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + str(len(files[name])).encode() + b"\0" + files[name])
    return h.hexdigest()[:16]


def default_base() -> Path:
    """Where runtimes are staged: the kit's cache folder (``kit.container.images.cache_dir``)."""
    return cache_dir() / "runtime"


def stage(base: Path | None = None) -> Runtime:
    """The runtime of this kit, staged under ``base`` now unless an identical one is there already.

    Falls back to the temporary folder when ``base`` cannot be written (a read-only home)."""
    files = contents()
    name = f"runtime-{digest(files)}"
    for folder in (base or default_base(), Path(tempfile.gettempdir(), "kit-runtime")):
        try:
            return _stage_in(folder, name, files)
        except OSError:
            continue
    raise OSError(f"cannot stage the kit's runtime under {base or default_base()} nor the temporary folder")


def _stage_in(base: Path, name: str, files: dict[str, bytes]) -> Runtime:
    """Stage into ``base/name`` by one rename of a complete copy.  Kits that stage at once race
    only to that rename: the losers find the winner's copy and use it.  A copy that is not
    this kit's (damaged) is moved aside whole before it is removed, never removed where it
    stands (another kit may have just put a good one there)."""
    final = base / name
    if holds(final, files):
        return Runtime(final)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base))
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for _ in range(3):
            try:
                tmp.rename(final)
                return Runtime(final)
            except OSError:
                if holds(final, files):  # another kit won the race with the same files
                    return Runtime(final)
                _set_aside(final, base, name)
        raise OSError(f"{final} kept changing while the kit staged its runtime there")
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                shutil.rmtree(tmp)


def _set_aside(final: Path, base: Path, name: str) -> None:
    """Move a damaged copy out of the way in one rename, then remove it (gone already: nothing to do)."""
    aside = Path(tempfile.mkdtemp(prefix=f".{name}-old-", dir=base))
    try:
        with contextlib.suppress(FileNotFoundError):
            final.rename(aside / "old")
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def holds(folder: Path, files: dict[str, bytes]) -> bool:
    """``folder`` has exactly these files' contents (extra files, such as bytecode, are allowed)."""
    try:
        return all((folder / rel).read_bytes() == data for rel, data in files.items())
    except OSError:
        return False
