"""Talking to a Docker daemon through the Docker SDK for Python, never the CLI.

Two things here exist so the rest of the kit can stay simple:

* ``connect`` turns every way of not having Docker (SDK missing, SDK shadowed
  by the repo's own ``docker/`` folder, no daemon) into one exception with a
  one-line reason a person can act on;
* ``container`` is the only place that creates containers, so every one of
  them carries the ``kit=1`` label and is removed whatever happens (success,
  exception, timeout, Ctrl-C), in the style of cibuildwheel's ``OCIContainer``.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK is optional: the kit runs on the host without it
    from docker.models.containers import Container

    import docker

LABEL = "kit"
"""Every container the kit starts carries ``kit=1``; tests list by it to prove none is left."""

SHM_SIZE = "256m"
"""POSIX semaphores (Lock, Semaphore, Queue) live in /dev/shm; Docker's 64m default is tight."""

CONNECT_TIMEOUT_S = 10.0

FILES_DIR = "/home/kit/work"
"""Where ``container(files=TAR)`` unpacks its tar: an anonymous volume (the root is read-only),
owned by root, so the run can read the files but not change them."""

PIDS_LIMIT = 1024
"""Processes and threads a container may hold: a fork bomb stops there (the busiest example
has about 110 processes)."""

MEMORY_LIMIT = "2g"

SANDBOX: dict[str, Any] = {
    "network_disabled": True,  # nothing in the kit needs a network
    "read_only": True,  # the image cannot be changed by what runs in it ...
    "tmpfs": {"/tmp": "size=512m,mode=1777"},  # ... which writes its temporary files here
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": PIDS_LIMIT,
    "mem_limit": MEMORY_LIMIT,
    "init": True,  # the kit is not PID 1: it is laid out as on a host, the subreaper of its runs
    "shm_size": SHM_SIZE,
}
"""Every container the kit starts gets these (``container(**kwargs)`` may override one)."""


class EngineUnavailable(Exception):
    """No usable Docker: ``reason`` is one line saying what to do about it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _os_error(exc: BaseException) -> str:
    """The useful part of requests' nested connection errors ("[Errno 111] Connection refused")."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if found:
        return found.group(0).strip()
    found = re.search(r"\w+Error\((-?\d+), '([^']+)'\)", text)  # FileNotFoundError(2, 'No such ...')
    return f"[Errno {found.group(1)}] {found.group(2)}" if found else _one_line(text)


def _import_sdk() -> Any:
    """Import the SDK, telling "not installed" apart from "shadowed by a folder called docker"."""
    try:
        import docker
    except ImportError as exc:
        raise EngineUnavailable(
            f"the Docker SDK for Python is not importable ({_one_line(exc)}): install the docker package "
            "(pip install docker)"
        ) from None
    if not hasattr(docker, "from_env"):
        # A folder named docker/ without __init__.py (this repo has one) imports as an
        # empty namespace package when the SDK is absent, and fails only later.
        where = ", ".join(getattr(docker, "__path__", [])) or getattr(docker, "__file__", None) or "?"
        raise EngineUnavailable(
            f"the Docker SDK for Python is not installed ('import docker' found only the folder {where}): "
            "install the docker package (pip install docker)"
        )
    return docker


def connect(timeout: float = CONNECT_TIMEOUT_S) -> docker.DockerClient:
    """A client whose daemon has answered a ping; ``EngineUnavailable`` otherwise.

    The environment decides where the daemon is (``DOCKER_HOST`` and friends),
    as for the docker CLI.  ``timeout`` is the client's default per-request
    timeout; long operations (builds, imports, waits) set their own.
    """
    sdk = _import_sdk()
    host = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
    try:
        client = sdk.from_env(timeout=timeout)
        client.ping()
    except sdk.errors.DockerException as exc:
        raise EngineUnavailable(f"no Docker daemon answers at {host}: {_os_error(exc.__cause__ or exc)}") from None
    except Exception as exc:  # noqa: BLE001 - requests' connection errors, bad URLs, TLS trouble
        raise EngineUnavailable(f"no Docker daemon answers at {host}: {_os_error(exc)}") from None
    os_type = client.info().get("OSType", "linux")
    if os_type != "linux":  # Docker on a Windows runner runs Windows containers
        client.close()
        raise EngineUnavailable(f"the Docker daemon at {host} runs {os_type} containers; the kit's images are Linux")
    return client


@contextlib.contextmanager
def api_timeout(client: docker.DockerClient, seconds: float | None) -> Iterator[None]:
    """Another per-request timeout for the requests made inside: a slow import or build
    (None: no limit), a pull that must fail fast, a log stream that may stay silent."""
    old = client.api.timeout
    client.api.timeout = seconds  # type: ignore[assignment]  # the stubs say int; requests takes float or None
    try:
        yield
    finally:
        client.api.timeout = old


def _remove(c: Container) -> None:
    """Force-remove (kills first); a second Ctrl-C during removal must not leave it behind."""
    import docker.errors

    for _ in range(3):
        try:
            c.remove(force=True, v=True)  # v: its anonymous volume too
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # "removal already in progress"
                return
            raise
        except KeyboardInterrupt:
            continue


@contextlib.contextmanager
def container(
    client: docker.DockerClient,
    image: str,
    command: list[str] | str | None,
    **kwargs: Any,
) -> Iterator[Container]:
    """Create and start a container labelled ``kit=1``; remove it on the way out, whatever happened.

    Defaults (``SANDBOX``): no network, a read-only root with a tmpfs /tmp, every capability
    dropped, no-new-privileges, pids and memory limits, a 256m /dev/shm, and ``init``.  Any
    of these and every other ``containers.create`` argument can be given in ``kwargs`` (None
    values are left out); ``files``, a tar, is unpacked in ``FILES_DIR`` (an anonymous volume,
    removed with the container) before the container starts.
    """
    labels = {**kwargs.pop("labels", {}), LABEL: "1"}
    files: bytes | None = kwargs.pop("files", None)
    options: dict[str, Any] = dict(SANDBOX)
    options.update({k: v for k, v in kwargs.items() if v is not None})
    if files is not None:
        from docker.types import Mount

        options["mounts"] = [*options.get("mounts", []), Mount(target=FILES_DIR, source=None, type="volume")]
    c = client.containers.create(image, command, labels=labels, **options)
    try:
        if files is not None:  # a tar unpacked in the image's home before anything runs
            c.put_archive(FILES_DIR, files)
        c.start()
        yield c
    finally:
        if not getattr(c, "kit_keep", False):  # set by a caller that keeps it for debugging
            _remove(c)


def leftovers(client: docker.DockerClient) -> list[Container]:
    """Containers labelled ``kit`` still present (running or not): should be none."""
    return client.containers.list(all=True, filters={"label": LABEL})
