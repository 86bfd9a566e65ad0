"""Plain-data results: what one run produced, serialisable to JSON and back.

Running, checking and rendering only meet here, so a report can be made from
JSON files without running anything.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from collections.abc import Iterable

from kit import env
from kit.outcomes import STATUSES, Status


@dataclass
class ProcRef:
    """A process named in a verdict (orphan, terminated daemon)."""

    pid: int
    name: str
    cmdline: list[str]
    role: str = "other"


@dataclass
class ProcRecord:
    """Everything the observer saw of one process of the run's tree."""

    pid: int
    ppid: int
    name: str
    cmdline: list[str]
    create_time: float
    role: str
    first_seen_s: float
    last_seen_s: float
    gone_s: float | None
    cpu_s: float
    cpus: list[int] = field(default_factory=list)
    stack: str = ""  # every thread's Python stack, written by the process when the run timed out (Linux)

    def ref(self) -> ProcRef:
        return ProcRef(self.pid, self.name, self.cmdline, self.role)

    def stack_heading(self) -> str:
        """How its stacks are introduced wherever they are shown (``-v``, JUnit)."""
        return f"stacks of {self.role} (pid {self.pid}):"


@dataclass
class PlatformInfo:
    """Where a run happened: enough to tell rows of a merged report apart."""

    os: str
    python: str
    implementation: str
    default_method: str
    methods: list[str]
    cpu_count: int
    machine: str
    target: str = "host"

    @classmethod
    def here(cls, target: str | None = None) -> PlatformInfo:
        """This interpreter; ``KIT_TARGET`` names it (a container says ``docker:3.14``)."""
        target = target or os.environ.get(env.TARGET, "host")
        return cls(
            os=platform.system(),
            python=platform.python_version(),
            implementation=platform.python_implementation(),
            default_method=multiprocessing.get_start_method(allow_none=True)
            or multiprocessing.get_context().get_start_method(),
            methods=multiprocessing.get_all_start_methods(),
            cpu_count=usable_cpu_count(),
            machine=platform.machine(),
            target=target,
        )


def usable_cpu_count() -> int:
    """CPUs this process may really use: affinity and cgroup CPU quotas (``kit._platform``)."""
    from kit import _platform

    return _platform.usable_cpu_count()


@dataclass
class RunResult:
    """One example (or script) under one start method: status, evidence, output."""

    example: str
    method: str
    status: Status
    reason: str
    wall_s: float = 0.0
    exitcode: int | None = None
    cores_used: float = 0.0
    cpu_s: float = 0.0
    peak_processes: int = 0
    peak_exact: bool | None = None  # peak_processes counted by the kernel (true) or a lower bound seen in samples
    peak_tasks: int | None = None  # the kernel's peak of tasks, threads included (an upper bound), where known
    cpus_seen: list[int] = field(default_factory=list)
    orphans: list[ProcRef] = field(default_factory=list)
    daemons_terminated: list[ProcRef] = field(default_factory=list)
    processes: list[ProcRecord] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    scale: float = 0.0
    platform: PlatformInfo | None = None
    diagnoses: list[dict[str, str]] = field(default_factory=list)  # {"code", "message", "fix"}
    top_level_runs: int = 0  # processes that executed the script's top level
    methods_used: list[str] = field(default_factory=list)  # start methods that really started processes
    requested_method: str = ""  # "default" when the method was each target's own default
    evidence: str = ""  # the observation backend: cgroup, pidns or psutil
    unmeasured: list[str] = field(default_factory=list)  # what that backend could not measure
    observer_cpu_s: float = 0.0  # the kit's own CPU while it watched
    error: str = ""  # the last line of the run's error: the main process's, else the first child's

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """Rebuild a result from JSON; raises ValueError naming the field when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        missing = {"example", "method", "status", "reason"} - data.keys()
        if missing:
            raise ValueError(f"missing keys: {', '.join(sorted(missing))}")
        if data["status"] not in STATUSES:
            raise ValueError(f"unknown status {data['status']!r}")
        _check_fields(cls, data, "")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["orphans"] = [ProcRef(**p) for p in data.get("orphans", [])]
        kwargs["daemons_terminated"] = [ProcRef(**p) for p in data.get("daemons_terminated", [])]
        kwargs["processes"] = [ProcRecord(**p) for p in data.get("processes", [])]
        if data.get("platform"):
            kwargs["platform"] = PlatformInfo(**data["platform"])
        return cls(**kwargs)


def _kind(hint: Any, value: Any, where: str) -> None:
    """Check one JSON value against a field's type hint; ValueError naming ``where``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) if hasattr(types, "UnionType") else origin is typing.Union:
        if value is None and type(None) in args:
            return
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"field {where!r} should be a list, not {type(value).__name__}")
        for i, item in enumerate(value):
            _kind(args[0] if args else Any, item, f"{where}[{i}]")
        return
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"field {where!r} should be an object, not {type(value).__name__}")
        return
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        if not isinstance(value, dict):
            raise ValueError(f"field {where!r} should be an object, not {type(value).__name__}")
        _check_fields(hint, value, f"{where}.")
        return
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok:
            raise ValueError(f"field {where!r} should be a finite number, not {value!r:.40}")
    elif hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"field {where!r} should be an integer, not {value!r:.40}")
    elif hint in (str, Status):
        if not isinstance(value, str):
            raise ValueError(f"field {where!r} should be a string, not {type(value).__name__}")
    elif hint is bool and not isinstance(value, bool):
        raise ValueError(f"field {where!r} should be true or false, not {value!r:.40}")


def _check_fields(cls: type, data: dict[str, Any], prefix: str) -> None:
    try:
        hints = typing.get_type_hints(cls)
    except TypeError:  # Python 3.9 cannot evaluate "X | None": records are then checked as they are used
        return
    for f in fields(cls):
        if f.name in data:
            _kind(hints[f.name], data[f.name], prefix + f.name)


def dump(results: Iterable[RunResult]) -> str:
    """JSON text; always valid JSON (a non-finite number would be refused, never written as NaN)."""
    return json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False, allow_nan=False)


def parse_json(text: str, what: str = "kit results") -> Any:
    """``json.loads``, with a ValueError of one short line for text that is not JSON or is
    nested too deeply to be ``what``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ValueError(f"not {what} (JSON nested too deeply)") from None


def load(text: str) -> list[RunResult]:
    """Parse a JSON array of results; ValueError with a short reason otherwise."""
    data = parse_json(text)
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of run results")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(RunResult.from_dict(item))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"record {i}: {exc}") from None
    return out
