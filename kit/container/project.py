"""A project's folder as a tar for a container: what the project ships, nothing it never would.

A container sees only what is copied in, and a project folder holds far more than its sources:
virtual environments (hundreds of megabytes, and useless in another interpreter), ``.git``, caches,
build output.  When the folder is in a git work tree, git is the truth about what belongs to it
(``git ls-files --cached --others --exclude-standard``: tracked files and new ones that
``.gitignore`` does not ignore); otherwise a built-in list of what is never shipped applies.  Either
way, a folder holding ``pyvenv.cfg`` (any virtual environment, whatever its name), VCS folders and
tool caches are left out.  What remains has a size limit: a tar is built in memory and unpacked
by the daemon, and a folder that big is usually one whose ignore rules are missing.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

from kit.errors import TargetError

MAX_PROJECT_BYTES = 100 * 1024 * 1024
"""The default limit on what is copied into a container (file contents, after the leaving out)."""

NEVER_SHIPPED = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".hypothesis", ".ipynb_checkpoints", "node_modules", ".eggs",
})
"""Folders left out wherever they are, tracked by git or not: tools make them, projects do not ship them."""

BUILD_OUTPUT = frozenset({"build", "dist"})
"""Left out unless git tracks them (a package may have a module folder called ``build``); so is ``*.egg-info``."""


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def _build_output(name: str) -> bool:
    return name in BUILD_OUTPUT or name.endswith(".egg-info")


def _git_lists(folder: Path) -> tuple[list[str], set[str]] | None:
    """(every path git says belongs to the project, the tracked ones), relative to ``folder``;
    None when ``folder`` is not in a git work tree (or git is missing or refuses it)."""
    git = shutil.which("git")
    if git is None:
        return None

    def ls(*extra: str) -> list[str] | None:
        try:
            done = subprocess.run([git, "ls-files", "-z", *extra], cwd=folder, capture_output=True, check=False,
                                  stdin=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        return [p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p]

    tracked = ls("--cached")
    others = ls("--others", "--exclude-standard")
    if tracked is None or others is None or not (tracked or others):
        return None  # not a work tree, or one that ignores this whole folder: the built-in list decides
    return sorted({*tracked, *others}), set(tracked)


def _walk(folder: Path) -> Iterable[str]:
    """Every file under ``folder`` (relative, POSIX), minus the built-in list and build output."""
    for base, dirs, files in os.walk(folder):
        here = Path(base)
        dirs[:] = sorted(d for d in dirs if d not in NEVER_SHIPPED and not _build_output(d)
                         and not _is_venv(here / d))
        for name in sorted(files):
            yield (here / name).relative_to(folder).as_posix()


def project_files(folder: Path) -> list[str]:
    """What ``project_archive`` copies: relative POSIX paths of regular files, sorted."""
    listed = _git_lists(folder)
    if listed is None:
        candidates, tracked = list(_walk(folder)), None
    else:
        candidates, tracked = listed
    venv: dict[Path, bool] = {}
    kept: list[str] = []
    for rel in candidates:
        parts = rel.split("/")
        if any(p in NEVER_SHIPPED for p in parts[:-1]):
            continue
        if tracked is not None and rel not in tracked and any(_build_output(p) for p in parts[:-1]):
            continue
        parents = [folder.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if any(venv.setdefault(p, _is_venv(p)) for p in parents):
            continue
        path = folder / rel
        if path.is_symlink() or not path.is_file():  # a link may point out of the project; deleted files
            continue
        kept.append(rel)
    return sorted(kept)


def _too_big(folder: Path, sizes: dict[str, int], limit: int) -> TargetError:
    """The message names the biggest top-level entries, so the user knows what to ignore."""
    top: dict[str, int] = {}
    for rel, size in sizes.items():
        head = rel.split("/")[0]
        top[head] = top.get(head, 0) + size
    biggest = sorted(top.items(), key=lambda kv: -kv[1])[:3]
    named = ", ".join(f"{name} ({size / 2**20:.0f} MB)" for name, size in biggest)
    return TargetError(
        f"the project folder {folder} holds {sum(sizes.values()) / 2**20:.0f} MB to copy into the container, more "
        f"than the {limit / 2**20:.0f} MB limit (virtual environments, .git, caches and what .gitignore ignores are "
        f"already left out); the biggest: {named}: add what the tests do not need to .gitignore, or run from a "
        "folder that holds only the project", path=str(folder), limit=limit)


def _info(tar: tarfile.TarFile, path: Path, arcname: str) -> tarfile.TarInfo:
    """Owned by root, readable by all, writable by nobody else; an executable stays executable."""
    info = tar.gettarinfo(str(path), arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
    return info


def project_archive(folder: Path, limit_bytes: int | None = MAX_PROJECT_BYTES) -> bytes:
    """``folder`` as a tar for ``put_archive``: what the project ships (see the module), its folders
    first; ``TargetError`` naming the biggest parts when the files add up to more than ``limit_bytes``
    (None: no limit)."""
    folder = Path(folder).resolve()
    files = project_files(folder)
    sizes = {rel: (folder / rel).stat().st_size for rel in files}
    if limit_bytes is not None and sum(sizes.values()) > limit_bytes:
        raise _too_big(folder, sizes, limit_bytes)
    folders = sorted({"/".join(rel.split("/")[:i]) for rel in files for i in range(1, rel.count("/") + 1)})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for rel in folders:
            tar.addfile(_info(tar, folder / rel, rel))
        for rel in files:
            path = folder / rel
            with path.open("rb") as fh:
                tar.addfile(_info(tar, path, rel), fh)
    return buffer.getvalue()
