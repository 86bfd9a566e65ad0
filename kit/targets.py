"""Where cells run: the host, or Linux containers of several Python versions.

``host`` runs here; ``docker`` means every Python of ``kit.container.images``;
``docker:3.14`` one of them; ``auto`` is the host plus the containers when a
Docker daemon answers and their images are built (otherwise one line says why
they were skipped and how to get them).  Containers run one after the other,
each running its whole batch of cells in one container, so that no two cells
share the CPUs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from kit.matrix import run_matrix
from kit.results import RunResult

if TYPE_CHECKING:  # the SDK is optional: the kit runs on the host without it
    import docker

Say = Callable[[str], None]
ENABLE_HINT = ("start a Docker daemon, `pip install docker`, then `python -m kit images` "
               "(or `nox -s images`)")


class TargetError(Exception):
    """A target that was asked for by name cannot run: one line saying why."""


@dataclass(frozen=True)
class Plan:
    host: bool
    pythons: tuple[str, ...]


def parse(spec: str) -> Plan:
    """``host,docker:3.14`` -> Plan(host=True, pythons=('3.14',)); ValueError on a bad name."""
    from kit.container.images import PYTHONS

    host, pythons = False, []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part == "host":
            host = True
        elif part in ("docker", "auto"):
            host = host or part == "auto"
            pythons += [p for p in PYTHONS if p not in pythons]
        elif part.startswith("docker:") and part[7:] in PYTHONS:
            pythons += [part[7:]] if part[7:] not in pythons else []
        else:
            raise ValueError(f"unknown target {part!r}: use host, docker, docker:X.Y "
                             f"(X.Y one of {', '.join(PYTHONS)}) or auto")
    if not host and not pythons:
        raise ValueError("no target given")
    return Plan(host, tuple(pythons))


def run_targets(
    spec: str,
    examples: Sequence[str],
    methods: Sequence[str],
    scale: float,
    timeout: float,
    progress: Callable[[int, int, RunResult], None],
    say: Say,
) -> list[RunResult]:
    """Every cell on every target of ``spec``; ``auto`` degrades to the host with one line."""
    plan = parse(spec)
    optional = "auto" in spec.split(",")
    client: docker.DockerClient | None = None
    images: dict[str, str] = {}
    if plan.pythons:
        try:
            client, images = _containers(plan.pythons)
        except TargetError as exc:
            if not optional:
                raise
            say(f"containers skipped: {exc}; to include them, {ENABLE_HINT}")
    out = run_matrix(examples, methods, scale=scale, timeout=timeout, progress=progress) if plan.host else []
    if client is not None:
        from kit.container.run import run_in_container

        for python, image in images.items():
            say(f"docker:{python}: {len(examples) * len(methods)} cells in one container of {image}")
            out += run_in_container(client, python, examples, methods, scale=scale, timeout_s=timeout,
                                    image=image, progress=lambda line: say(f"  docker:{python} {line}"))
    return out


def _containers(pythons: Sequence[str]) -> tuple[docker.DockerClient, dict[str, str]]:
    """A client and the image per Python, or TargetError with the reason."""
    from kit.container.engine import EngineUnavailable, connect
    from kit.container.images import ImageError, image_for

    try:
        client = connect()
    except EngineUnavailable as exc:
        raise TargetError(exc.reason) from None
    try:
        return client, {p: image_for(client, p) for p in pythons}
    except ImageError as exc:
        raise TargetError(str(exc)) from None
