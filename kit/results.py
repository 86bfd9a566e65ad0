"""Plain-data results: what one run produced, serialisable to JSON and back.

Running, checking and rendering only meet here, so a report can be made from
JSON files without running anything.  Every record is typed: a check's ``Verdict``, a
``Diagnosis`` (its ``Code`` from the closed vocabulary), a process's ``Role``, the start
``Method``.  A result names *what* ran (its ``subject``: an example's name, a script's path)
and *where* (its ``place``: ``host``, ``docker:3.14``); the JSON keeps its historical keys
(``example``, ``platform.target``): ``JSON_NAMES`` maps them in one place.
"""
from __future__ import annotations

import enum
import json
import math
import multiprocessing
import os
import platform
import sys
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from collections.abc import Iterable

from kit import env
from kit.outcomes import STATUSES, UNKNOWN_PLACE, Code, MemorySource, Method, Role, Status, TestOutcome

JSON_NAMES = {"subject": "example", "place": "target"}
"""Attribute -> JSON key, where the JSON keeps an older word (the files stay readable by older kits)."""
_FROM_JSON = {v: k for k, v in JSON_NAMES.items()}


def _to_json(data: dict[str, Any]) -> dict[str, Any]:
    return {JSON_NAMES.get(k, k): v for k, v in data.items()}


def _from_json(data: dict[str, Any]) -> dict[str, Any]:
    return {_FROM_JSON.get(k, k): v for k, v in data.items()}


@dataclass
class Verdict:
    """One check's verdict on one run."""

    check: str
    ok: bool
    reason: str
    undecided: bool = False  # nothing to judge by (no expectation here): the cell is inconclusive
    unshown: bool = False  # this run did not show what the check is about (timing): inconclusive unless
    # another check failed; the runner tries the cell once more


@dataclass(frozen=True)
class Diagnosis:
    """A known failure signature: what happened, the evidence, what to change.  ``test``: the test
    it is charged to (a suite's nodeid), "" for a script or an example (then absent from the JSON)."""

    code: Code
    message: str
    fix: str
    test: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", Code(self.code))

    def to_dict(self) -> dict[str, str]:
        out = {"code": str(self.code), "message": self.message, "fix": self.fix}
        if self.test:
            out["test"] = self.test
        return out


@dataclass
class TestResult:
    """One test of a suite in one cell: its outcome, how long it took, the line that explains it."""

    __test__ = False  # not a test class, whatever pytest thinks of the name
    nodeid: str
    outcome: TestOutcome
    duration_s: float = 0.0
    message: str = ""  # the failure's last line (its exception), or the skip's reason

    def __post_init__(self) -> None:
        self.outcome = TestOutcome(self.outcome)


@dataclass
class ProcRef:
    """A process named in a verdict (orphan, terminated daemon)."""

    pid: int
    name: str
    cmdline: list[str]
    role: Role = Role.OTHER

    def __post_init__(self) -> None:
        self.role = Role(self.role)


@dataclass
class ProcRecord:
    """Everything the observer saw of one process of the run's tree."""

    pid: int
    ppid: int
    name: str
    cmdline: list[str]
    create_time: float
    role: Role
    first_seen_s: float
    last_seen_s: float
    gone_s: float | None
    cpu_s: float
    cpus: list[int] = field(default_factory=list)
    stack: str = ""  # every thread's Python stack, written by the process when the run timed out (Linux)
    rss_peak_bytes: int | None = None  # the most resident memory seen in its samples (None: never read)

    def __post_init__(self) -> None:
        self.role = Role(self.role)

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
    place: str = "host"  # "host" or "docker:X.Y" (the JSON's "target")
    executable: str = ""  # the interpreter that ran the runs (a project's own, for kit pytest and --python)

    @classmethod
    def here(cls, place: str | None = None) -> PlatformInfo:
        """This interpreter; ``KIT_TARGET`` names its place (a container says ``docker:3.14``)."""
        place = place or os.environ.get(env.TARGET, "host")
        return cls(
            os=platform.system(),
            python=platform.python_version(),
            implementation=platform.python_implementation(),
            default_method=multiprocessing.get_start_method(allow_none=True)
            or multiprocessing.get_context().get_start_method(),
            methods=multiprocessing.get_all_start_methods(),
            cpu_count=usable_cpu_count(),
            machine=platform.machine(),
            place=place,
            executable=sys.executable,
        )


def usable_cpu_count() -> int:
    """CPUs this process may really use: affinity and cgroup CPU quotas (``kit._platform``)."""
    from kit import _platform

    return _platform.usable_cpu_count()


@dataclass
class RunResult:
    """One subject (an example, a script) under one start method in one place: status, evidence, output."""

    subject: str  # an example's name or a script's path (the JSON's "example")
    method: Method
    status: Status
    reason: str
    wall_s: float = 0.0
    exitcode: int | None = None
    cores_used: float = 0.0
    cpu_s: float = 0.0
    cpu_stall_s: float | None = None  # seconds some process of the run waited for a CPU (None: unknown)
    peak_processes: int = 0
    peak_exact: bool | None = None  # peak_processes counted by the kernel (true) or a lower bound seen in samples
    peak_tasks: int | None = None  # the kernel's peak of tasks, threads included (an upper bound), where known
    memory_peak_bytes: int | None = None  # the run's memory peak (None: unknown); what it covers: memory_source
    memory_source: MemorySource | None = None
    memory_limit_bytes: int | None = None  # --memory-limit as applied to the run (None: no limit)
    cpus_seen: list[int] = field(default_factory=list)
    orphans: list[ProcRef] = field(default_factory=list)
    daemons_terminated: list[ProcRef] = field(default_factory=list)
    processes: list[ProcRecord] = field(default_factory=list)
    checks: list[Verdict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    scale: float = 0.0
    platform: PlatformInfo | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    top_level_runs: int = 0  # processes that executed the script's top level
    methods_used: list[str] = field(default_factory=list)  # start methods that really started processes
    requested_method: str = ""  # "default" when the method was each target's own default
    evidence: str = ""  # the observation backend: cgroup, pidns or psutil
    unmeasured: list[str] = field(default_factory=list)  # what that backend could not measure
    observer_cpu_s: float = 0.0  # the kit's own CPU while it watched, to 0.1 ms (a few ms a run: the ms was 5% of it)
    error: str = ""  # the last line of the run's error: the main process's, else the first child's
    tests: list[TestResult] | None = None  # a suite's tests, each once (None: not a suite; absent from the JSON)

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        self.method = Method(self.method)
        if self.memory_source is not None:
            self.memory_source = MemorySource(self.memory_source)

    @property
    def place(self) -> str:
        """Where it ran (``host``, ``docker:3.14``), ``UNKNOWN_PLACE`` when the result does not say."""
        return self.platform.place if self.platform is not None else UNKNOWN_PLACE

    def codes(self) -> list[Code]:
        """Its diagnoses' codes, each once, in order."""
        return list(dict.fromkeys(d.code for d in self.diagnoses))

    def has(self, code: Code) -> bool:
        return any(d.code is code for d in self.diagnoses)

    def to_dict(self) -> dict[str, Any]:
        out = _to_json(asdict(self))
        if self.platform is not None:
            out["platform"] = _to_json(asdict(self.platform))
        out["diagnoses"] = [d.to_dict() for d in self.diagnoses]
        if self.tests is None:
            del out["tests"]
        return out

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
        data = _from_json(data)
        if data.get("platform"):
            data["platform"] = _from_json(data["platform"]) if isinstance(data["platform"], dict) else data["platform"]
        _check_fields(cls, data, "")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["orphans"] = [ProcRef(**p) for p in data.get("orphans", [])]
        kwargs["daemons_terminated"] = [ProcRef(**p) for p in data.get("daemons_terminated", [])]
        kwargs["processes"] = [ProcRecord(**p) for p in data.get("processes", [])]
        kwargs["checks"] = [Verdict(**v) for v in data.get("checks", [])]
        kwargs["diagnoses"] = [Diagnosis(**d) for d in data.get("diagnoses", [])]
        if data.get("tests") is not None:
            kwargs["tests"] = [TestResult(**t) for t in data["tests"]]
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
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        words = [m.value for m in hint]
        if value not in words:
            raise ValueError(f"field {where!r} should be one of {', '.join(words)}, not {value!r:.40}")
    elif hint is str:
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
            _kind(hints[f.name], data[f.name], prefix + JSON_NAMES.get(f.name, f.name))


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
