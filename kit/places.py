"""Where cells run (their *place*): the host, or Linux containers of several Python versions.

The user names places with ``--targets`` (the option keeps its name); the code calls them places.

``host`` runs here; ``docker`` means every Python of ``kit.container.images``;
``docker:3.14`` one of them; ``auto`` is the host plus the containers when a
Docker daemon answers and their images are built (otherwise one line says why
they were skipped and how to get them).  A container runs a batch of cells, one
after the other, in one container; how batches and host cells overlap is
``kit.schedule``'s plan (``kit.matrix``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from collections.abc import Sequence

from kit.catalogue import Subject
from kit.errors import TargetError, UsageError
from kit.matrix import Progress, Subjects, Where, run_matrix
from kit.outcomes import HOST
from kit.schedule import Unit
from kit.results import RunResult
from kit.settings import Settings

if TYPE_CHECKING:  # the SDK is optional: the kit runs on the host without it
    import docker

Say = Callable[[str], None]
ENABLE_HINT = ("start a Docker daemon, install the docker extra (pip install \".[docker]\", or pipx inject kit "
               "docker), then `kit images` (or `nox -s images`)")

__all__ = ["ENABLE_HINT", "Plan", "TargetError", "clients", "parse", "run_places", "run_subject", "run_suite"]


@dataclass(frozen=True)
class Plan:
    """The places a ``--targets`` value names."""

    host: bool
    pythons: tuple[str, ...]
    optional: bool = False  # "auto": containers only when they can run


def parse(spec: str) -> Plan:
    """``host,docker:3.14`` -> Plan(host=True, pythons=('3.14',)); UsageError on a bad name."""
    from kit.container.images import PYTHONS

    host, pythons = False, []
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    for part in parts:
        if part == "host":
            host = True
        elif part in ("docker", "auto"):
            host = host or part == "auto"
            pythons += [p for p in PYTHONS if p not in pythons]
        elif part.startswith("docker:") and part[7:] in PYTHONS:
            pythons += [part[7:]] if part[7:] not in pythons else []
        else:
            raise UsageError(f"unknown target {part!r}: use host, docker, docker:X.Y "
                             f"(X.Y one of {', '.join(PYTHONS)}) or auto", field="targets")
    if not host and not pythons:
        raise UsageError("no target given", field="targets")
    return Plan(host, tuple(pythons), optional="auto" in parts)


def clients(plan: Plan, say: Say) -> tuple[docker.DockerClient | None, dict[str, str]]:
    """A Docker client and the image per Python; ``auto`` degrades to the host with one line."""
    if not plan.pythons:
        return None, {}
    try:
        return _containers(plan.pythons)
    except TargetError as exc:
        if not plan.optional:
            spec = ",".join(f"docker:{p}" for p in plan.pythons)
            raise TargetError(f"cannot run on {spec}: {exc}") from None
        say(f"containers skipped: {exc}; to include them, {ENABLE_HINT}")
        return None, {}


def run_places(spec: str, examples: Sequence[str], methods: Sequence[str], settings: Settings,
               progress: Progress, say: Say) -> list[RunResult]:
    """Every cell in every place of ``spec``, as ``kit.schedule`` plans them for ``settings.jobs``;
    ``settings.keep_containers``: a container whose cells did not all pass stays up for
    ``docker exec`` (the command is said).  ``settings.quiet``: the containers' progress is not
    streamed (``say`` still gets what a user must know: containers skipped, a container kept)."""
    plan = parse(spec)
    client, images = clients(plan, say)

    def run_container(unit: Unit) -> list[RunResult]:
        from kit.container.run import run_in_container

        python = unit.place.split(":", 1)[1]
        assert client is not None  # a container place is planned only with a client
        what = "the CPU-measuring cells, alone" if unit.solo else f"{len(unit.cells)} cells"
        if not settings.quiet:
            say(f"{unit.place}: {what} in one container of {images[python]}")
        return run_in_container(client, python, unit.examples, unit.methods, settings, images[python], say)

    containers = [f"docker:{p}" for p in images] if client is not None else []
    return run_matrix(examples, methods, settings, Where((HOST,) * plan.host + tuple(containers), run_container),
                      progress, say)


def run_subject(spec: str, subject: Subject, methods: Sequence[str], settings: Settings,
                on_result: Callable[[RunResult], None], say: Say) -> list[RunResult]:
    """One example or script under each method (``default`` allowed) in every place of ``spec``;
    ``on_result`` sees each result as it comes (a container's come when it ends).
    ``settings.quiet``: no line per container (``say`` still gets what a user must know)."""
    from kit.runner import check_memory_limit, run

    plan = parse(spec)
    if plan.host:
        check_memory_limit(settings)
    client, images = clients(plan, say)
    out: list[RunResult] = []
    if plan.host:
        for method in methods:
            out.append(run(subject, method, settings))
            on_result(out[-1])
    if client is not None:
        from kit.container.run import run_one_in_container

        for python, base in images.items():
            image = with_requirements(client, python, base, settings, (), say)
            if not settings.quiet:
                say(f"docker:{python}: {subject.name} under {', '.join(methods)} in one container of {image}")
            rs = run_one_in_container(client, python, subject, methods, settings, image, say)
            for r in rs:
                on_result(r)
            out += rs
    return out


def run_suite(spec: str, subject: Subject, methods: Sequence[str], settings: Settings, progress: Progress,
              say: Say) -> list[RunResult]:
    """A project's suite under each method in every place of ``spec``, cells overlapping as the
    matrix's do (``settings.jobs``); a container runs its cells one after the other."""
    plan = parse(spec)
    client, images = clients(plan, say)

    def run_container(unit: Unit) -> list[RunResult]:
        from kit.container.run import run_one_in_container

        python = unit.place.split(":", 1)[1]
        assert client is not None  # a container place is planned only with a client
        image = with_requirements(client, python, images[python], settings, ("pytest",), say)
        if not settings.quiet:
            say(f"{unit.place}: the suite under {', '.join(unit.methods)} in one container of {image}")
        return run_one_in_container(client, python, subject, unit.methods, settings, image, say)

    containers = [f"docker:{p}" for p in images] if client is not None else []
    return run_matrix([subject.name], methods, settings, Where((HOST,) * plan.host + tuple(containers), run_container),
                      progress, say, Subjects(lambda _: subject, lambda _, __: False))


def with_requirements(client: docker.DockerClient, python: str, base: str, settings: Settings,
                      extra: Sequence[str], say: Say) -> str:
    """The image to run in: ``base``, or one derived from it with ``settings.requirements`` and
    ``extra`` installed (built offline, cached: ``kit.container.deps``)."""
    if not settings.requirements and not extra:
        return base
    from kit.container.deps import image_with_requirements

    return image_with_requirements(client, python, base, [Path(r) for r in settings.requirements], extra=extra,
                                   say=None if settings.quiet else say)


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
