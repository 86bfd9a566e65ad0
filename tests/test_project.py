"""What a project folder puts in a container: its files, never its venvs, .git, caches or ignored files.

The tests build small folders, with and without git, and read back the tar ``project_archive``
makes.  The old ``folder_archive`` is the broken variant: it ships a venv whose name it does not
know and what .gitignore ignores.  The one container test unpacks the tar in a kit image.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kit.container.project import MAX_PROJECT_BYTES, project_archive, project_files
from kit.errors import USAGE, TargetError

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


pytestmark = pytest.mark.slow  # runs interpreters, git or pip


def write(root: Path, *files: str, data: bytes = b"x\n") -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def names(tar_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return {m.name: m for m in tar.getmembers()}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project as people leave it: sources and tests, plus venvs, caches and build output."""
    root = tmp_path / "proj"
    write(root, "pyproject.toml", "src/pkg/__init__.py", "src/pkg/build/__init__.py", "tests/test_a.py",
          "tests/conftest.py", "data/big.log", "notes.log")
    write(root, ".venv/pyvenv.cfg", ".venv/lib/python3.11/site-packages/numpy/__init__.py",
          "myenv/pyvenv.cfg", "myenv/bin/python",  # a venv under a name no list knows
          ".git/config", "src/pkg/__pycache__/x.cpython-311.pyc", ".tox/py311/log", ".pytest_cache/v/x",
          ".mypy_cache/x.json", ".ruff_cache/x", "node_modules/left/index.js",
          "build/lib/pkg/__init__.py", "dist/pkg-1.0.tar.gz", "src/pkg.egg-info/PKG-INFO")
    (root / ".gitignore").write_text("data/\n*.log\n")
    return root


def test_without_git_the_built_in_list_leaves_out_what_is_never_shipped(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")  # no git: the built-in list decides (ignored files are then copied)
    assert project_files(project) == [
        ".gitignore", "data/big.log", "notes.log", "pyproject.toml", "src/pkg/__init__.py", "tests/conftest.py",
        "tests/test_a.py",
    ]  # src/pkg/build/ is left out too: without git, a folder called build is taken for build output


@needs_git
def test_in_a_git_work_tree_git_decides_and_venvs_and_caches_still_stay_out(project: Path) -> None:
    git(project, "init", "-q")
    git(project, "add", "pyproject.toml", "src/pkg/__init__.py", "src/pkg/build/__init__.py", "tests/test_a.py")
    git(project, "commit", "-qm", "one")
    write(project, "tests/test_new.py")  # untracked, not ignored: part of the project
    (project / "tests" / "test_a.py").unlink()  # tracked but deleted: nothing to copy
    assert project_files(project) == [
        ".gitignore", "pyproject.toml", "src/pkg/__init__.py",
        "src/pkg/build/__init__.py",  # tracked, so a package's module, not build output
        "tests/conftest.py", "tests/test_new.py",
    ]


@needs_git
def test_a_subfolder_of_a_work_tree_is_listed_relative_to_itself(tmp_path: Path) -> None:
    write(tmp_path, "other/x.py", "proj/a.py", "proj/sub/b.py", "proj/sub/skip.tmp")
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    git(tmp_path, "init", "-q")
    assert project_files(tmp_path / "proj") == ["a.py", "sub/b.py"]


@needs_git
def test_a_folder_the_enclosing_work_tree_ignores_falls_back_to_the_built_in_list(tmp_path: Path) -> None:
    write(tmp_path, "scratch/proj/a.py", "scratch/proj/__pycache__/a.pyc")
    (tmp_path / ".gitignore").write_text("scratch/\n")
    git(tmp_path, "init", "-q")
    assert project_files(tmp_path / "scratch" / "proj") == ["a.py"]


def test_the_tar_is_owned_by_root_readable_by_all_and_keeps_executables(tmp_path: Path) -> None:
    write(tmp_path, "run.sh", "pkg/mod.py", data=b"echo hi\n")
    (tmp_path / "run.sh").chmod(0o700)
    (tmp_path / "pkg" / "mod.py").chmod(0o600)
    members = names(project_archive(tmp_path))
    assert list(members) == ["pkg", "pkg/mod.py", "run.sh"]  # folders first, so they exist with their modes
    assert {(m.uid, m.gid, m.uname) for m in members.values()} == {(0, 0, "root")}
    assert members["pkg"].isdir() and members["pkg"].mode == 0o755
    assert members["pkg/mod.py"].mode == 0o644 and members["run.sh"].mode == 0o755
    with tarfile.open(fileobj=io.BytesIO(project_archive(tmp_path))) as tar:
        fh = tar.extractfile("pkg/mod.py")
        assert fh is not None and fh.read() == b"echo hi\n"


def test_symlinks_are_not_followed_out_of_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    root = tmp_path / "proj"
    write(root, "a.py")
    (root / "link.txt").symlink_to(outside)
    assert project_files(root) == ["a.py"]


def test_over_the_limit_the_message_names_the_biggest_parts_and_what_to_do(tmp_path: Path) -> None:
    write(tmp_path, "a.py")
    write(tmp_path, "fixtures/huge.bin", data=b"\0" * 3 * 2**20)
    write(tmp_path, "more.bin", data=b"\0" * 2**20)
    with pytest.raises(TargetError) as err:
        project_archive(tmp_path, limit_bytes=2 * 2**20)
    message = str(err.value)
    assert "fixtures (3 MB), more.bin (1 MB)" in message and ".gitignore" in message, message
    assert "2 MB limit" in message and err.value.exit_code == USAGE
    assert names(project_archive(tmp_path, limit_bytes=None))  # None: no limit
    assert MAX_PROJECT_BYTES >= 50 * 2**20  # not below what a script's folder was allowed


@needs_git
def test_the_old_folder_archive_is_the_broken_variant(project: Path) -> None:
    """What the kit's old copy (``_old_folder_archive``, a fixed list of folders) shipped and
    ``project_archive`` does not: each would fail a test above."""
    folder_archive = _old_folder_archive
    git(project, "init", "-q")
    old, new = set(names(folder_archive(project))), set(names(project_archive(project)))
    assert {"myenv/pyvenv.cfg", "data/big.log", "notes.log", "dist/pkg-1.0.tar.gz",
            ".pytest_cache/v/x"} <= old - new


@pytest.mark.docker
def test_the_tar_unpacks_in_a_container_for_the_kit_user(project: Path) -> None:
    from kit.container import EngineUnavailable, connect, container, leftovers
    from kit.container.engine import FILES_DIR

    try:
        client = connect()
    except EngineUnavailable as exc:
        pytest.skip(exc.reason)
    if not client.images.list(name="kit"):
        pytest.skip("no kit image: python -m kit images")
    image = sorted(t for i in client.images.list(name="kit") for t in i.tags if t.startswith("kit:py"))[-1]
    find = "find . -type f | sort; cat tests/conftest.py; id -u"
    with container(client, image, ["sh", "-c", find], files=project_archive(project), working_dir=FILES_DIR) as c:
        assert c.wait(timeout=60)["StatusCode"] == 0
        out = c.logs(stdout=True, stderr=False).decode().split()
    assert out == ["./.gitignore", "./data/big.log", "./notes.log", "./pyproject.toml", "./src/pkg/__init__.py",
                   "./tests/conftest.py", "./tests/test_a.py", "x", "10001"], out
    assert leftovers(client) == []
    client.close()


_OLD_SKIP = {".git", ".hg", ".nox", ".tox", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache"}


def _old_folder_archive(folder: Path) -> bytes:
    """The copy the kit made before ``kit.container.project``: every file but a fixed list of folders."""
    import io
    import os
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for base, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in _OLD_SKIP)
            for name in [*dirs, *sorted(files)]:
                path = Path(base, name)
                if path.is_symlink():
                    continue
                tar.add(str(path), arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()
