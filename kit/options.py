"""Every option of the kit's commands, declared once.

``kit.cli`` builds its parser from these (``add_to``), and the kit's own command line for a
child kit -- the kit inside a container -- is rebuilt from values by ``to_argv``, as nox
rebuilds a session's argv from its option set (``nox/_option_set.py``).  A new option, or a
changed flag, is one edit here; a test checks that ``to_argv`` parses back to the same values.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit.outcomes import ALL, DEFAULT, METHODS

MAX_TIMEOUT_S = 7 * 24 * 3600.0
MAX_SCALE = 1000.0
MAX_JOBS = 256
MAX_REPEAT = 1000
MAX_WIDTH = 1000
TARGETS_HELP = ("host, docker (every Python), docker:X.Y, or auto (the host, plus the containers when a "
                "Docker daemon answers and the images are built)")


def number(limit: float) -> Callable[[str], float]:
    """A finite number in (0, limit]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number: {text!r}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:g}: {text!r}")
        return value

    return parse


def count(limit: int) -> Callable[[str], int]:
    """A whole number in [1, limit]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}: {text!r}")
        return value

    return parse


MIN_MEMORY = 6 * 2**20
"""The least --memory-limit taken (Docker's own minimum): below it not even Python starts."""
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
          "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40, "tib": 2**40}


def size(text: str) -> int:
    """A memory size in bytes: 200M, 1.5G, 512MiB, 300000000 (K, M, G: powers of 1024, as Docker's)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 200M, 1.5G)")
    value = int(float(m.group(1)) * _UNITS[unit])
    if value < MIN_MEMORY:
        raise argparse.ArgumentTypeError(f"must be at least 6M: {text!r}")
    return value


def regex(text: str) -> str:
    """A regular expression, kept as written (it is compiled where it is used)."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({exc})") from None
    return text


@dataclass(frozen=True)
class Option:
    """One option: its flag, the commands that take it, and how its value is written back.

    ``kind``: ``value`` (one value), ``many`` (``nargs="+"``), ``append`` (the flag repeated),
    ``flag`` (``store_true``).  One default for every command that takes the option."""

    flag: str
    commands: tuple[str, ...]
    help: str
    kind: str = "value"
    type: Callable[[str], Any] | None = None
    default: Any = None
    choices: Sequence[str] | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser, command: str) -> None:
        kwargs: dict[str, Any] = {"help": self.help, "default": self.default}
        if self.kind == "flag":
            kwargs.update(action="store_true", default=bool(kwargs["default"]))
        else:
            if self.kind == "append":
                kwargs["action"] = "append"
            elif self.kind == "many":
                kwargs["nargs"] = "+"
            for key in ("type", "choices", "metavar"):
                if getattr(self, key) is not None:
                    kwargs[key] = getattr(self, key)
        parser.add_argument(self.flag, **kwargs)

    def to_argv(self, value: Any) -> list[str]:
        """The arguments that give ``value`` (none for None or False)."""
        if value is None or value is False:
            return []
        if self.kind == "flag":
            return [self.flag]
        if self.kind == "append":
            return [a for v in value for a in (self.flag, _text(v))]
        if self.kind == "many":
            return [self.flag, *(_text(v) for v in value)]
        return [self.flag, _text(value)]


def _text(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


RUNS = ("run", "matrix")
THINGS = ("run", "pytest")  # commands that run the user's own code
ALL_RUNS = (*RUNS, "pytest")
OPTIONS: tuple[Option, ...] = (
    Option("--method", THINGS, "start method, repeatable; `default` = each target's own default method (the one "
           "a script gets when it sets none); `all` = every method, which is what runs without --method",
           kind="append", choices=(*METHODS, DEFAULT, ALL)),
    Option("--examples", ("matrix",), "names, tags (article: the article's 11; pitfalls: what goes wrong), or all",
           kind="many", default=[ALL], metavar="EXAMPLE"),
    Option("--methods", ("matrix", "bench"), "methods, or all", kind="many", default=[ALL], choices=(*METHODS, ALL)),
    # run: one script, a quick answer from the host (add auto or docker for every Python);
    # matrix: the table, with every Python there is; bench: the host, unless asked
    Option("--targets", ("run", "matrix", "pytest", "bench"), TARGETS_HELP, default="host",
           metavar="T[,T...]"),
    Option("--jobs", ("matrix", "pytest"), "cells at once across all targets, by default three times the usable "
           "cores (a run only waiting for its orphans lends its place; cells that measure CPU still run alone; 1: one "
           "cell after the other)", type=count(MAX_JOBS), metavar="N"),
    Option("--repeat", ("bench",), "repetitions of each timing (throughput and scaling: half as many, at least 1)",
           type=count(MAX_REPEAT), metavar="N"),
    Option("--scale", RUNS, "time factor for the article's sleeps (1 = the article's timings)",
           type=number(MAX_SCALE)),
    Option("--timeout", ALL_RUNS, "seconds before a run's whole tree is killed (default: 60; kit pytest: 600, "
           "a whole suite)", type=number(MAX_TIMEOUT_S)),
    Option("--memory-limit", ALL_RUNS, "the most memory each run may use, swap included (200M, 1.5G): on the "
           "host the run's own cgroup, in a container Docker's; a process the OOM killer ends is named (oom_killed)",
           type=size, metavar="SIZE"),
    Option("--python", THINGS, "the interpreter that runs your code on the host (default: the active virtual "
           "environment's; kit pytest: else python3 on PATH; kit run: else the kit's own)", metavar="PATH"),
    Option("--requirements", THINGS, "a requirements file installed into the containers' images, offline "
           "(wheels resolved on this machine); repeatable", kind="append", metavar="FILE"),
    Option("--json", (*ALL_RUNS, "report", "bench"), "write the results as a JSON array (- for stdout)",
           metavar="FILE"),
    Option("--junit-xml", ALL_RUNS, "write the results as JUnit XML, one test case per cell (kit pytest: per "
           "cell and test)", metavar="FILE"),
    Option("--markdown", ("run", "matrix", "pytest", "report", "bench"), "also write the table as Markdown (kit run: "
           "its cells, as kit matrix writes them; bench: with a chart beside it, bench.md: bench.svg)", metavar="FILE"),
    Option("--keep-containers", ALL_RUNS, "keep the container of a target whose cells did not all pass, for "
           "docker exec", kind="flag"),
    Option("--width", (*ALL_RUNS, "report", "images"), "columns of the text output, at least 40 (default: the "
           "terminal's, else 100)", type=count(MAX_WIDTH), metavar="N"),
    Option("--ignore-output", ("run",), "a regular expression, repeatable: what it matches in a line of stdout is "
           "left out when the runs' outputs are compared (lines that vary from run to run; times, durations, addresses "
           "and pids already are)", kind="append", type=regex, metavar="REGEX"),
)
BY_DEST = {o.dest: o for o in OPTIONS}


def add_options(parser: argparse.ArgumentParser, command: str, defaults: Mapping[str, Any] | None = None) -> None:
    """Every option ``command`` takes; ``defaults`` (by dest) fill in what is known only at run time."""
    for option in OPTIONS:
        if command in option.commands:
            if defaults and option.dest in defaults:
                option = dataclasses.replace(option, default=defaults[option.dest])
            option.add_to(parser, command)


def to_argv(command: str, positional: Sequence[str] = (), rest: Sequence[str] = (), **values: Any) -> list[str]:
    """``kit COMMAND ...`` giving ``values`` (by dest, in the order declared here); ``rest`` after ``--``.
    A value for an option ``command`` does not take is a ValueError: a child must not get an argv
    its parser refuses."""
    unknown = [d for d in values if d not in BY_DEST or command not in BY_DEST[d].commands]
    if unknown:
        raise ValueError(f"kit {command} takes no {', '.join(unknown)}")
    argv = [command, *positional]
    for option in OPTIONS:
        if option.dest in values:
            argv += option.to_argv(values[option.dest])
    return [*argv, "--", *rest] if rest else argv
