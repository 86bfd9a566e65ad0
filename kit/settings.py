"""The settings of one invocation of the kit, built once from the parsed options.

Every layer that runs things (``kit.places``, ``kit.matrix``, ``kit.runner``, the container
code) receives this one frozen object instead of a growing list of parameters: a new setting is
a field here and an option in ``kit.options``, not an edit of six signatures (nox's
``NoxConfig`` habit; cibuildwheel freezes its options the same way).  What runs (the subjects)
and where (the places) are not settings: they are the command's arguments.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.interpreter import Interpreter

DEFAULT_SCALE = 0.1
DEFAULT_TIMEOUT = 60.0
SUITE_TIMEOUT = 600.0
"""A test suite's default timeout: a whole suite, not one script."""
GRACE_S = 2.0
"""After the main process exits, how long what it started may take to leave before it is an orphan."""


@dataclass(frozen=True)
class Settings:
    """How to run, for every cell of one command."""

    scale: float = DEFAULT_SCALE  # time factor for the article's sleeps
    timeout: float = DEFAULT_TIMEOUT  # seconds before a run's whole tree is killed
    grace: float = GRACE_S
    jobs: int = 1  # cells at once (kit matrix)
    keep_containers: bool = False  # a container whose cells did not all pass stays up
    quiet: bool = False  # no progress lines (what a user must know is still said)
    interpreter: Interpreter | None = None  # runs scripts and suites on the host (None: the kit's own)
    requirements: tuple[str, ...] = ()  # files of requirements installed into the containers' images
    ignore_output: tuple[str, ...] = ()  # regexes: what they match is left out when outputs are compared
    memory_limit: int | None = None  # bytes each run may use, swap included (None: no limit)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        """The settings the parsed options give; an option the command does not take keeps its default."""
        def get(name: str, default: object) -> object:
            value = getattr(args, name, None)
            return default if value is None else value

        return cls(
            scale=float(get("scale", DEFAULT_SCALE)),  # type: ignore[arg-type]
            timeout=float(get("timeout", SUITE_TIMEOUT if getattr(args, "command", "") == "pytest"  # type: ignore[arg-type]
                              else DEFAULT_TIMEOUT)),
            jobs=int(get("jobs", 1)),  # type: ignore[call-overload]
            keep_containers=bool(get("keep_containers", False)),
            quiet=bool(get("quiet", 0)),
            requirements=tuple(str(r) for r in get("requirements", ()) or ()),  # type: ignore[attr-defined]
            ignore_output=tuple(get("ignore_output", ())),  # type: ignore[arg-type]
            memory_limit=getattr(args, "memory_limit", None),
        )

    def but(self, **changes: object) -> Settings:
        """A copy with ``changes`` (tests and benchmarks vary one setting)."""
        return replace(self, **changes)  # type: ignore[arg-type]


DEFAULTS = Settings()
"""The settings of a run nobody configured (tests, benchmarks)."""
