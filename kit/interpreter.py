"""Which Python runs the user's code: the project's own, not the kit's.

A project's suite needs its dependencies and its pytest, which live in the project's interpreter
(a virtual environment, the system's ``python3``), not in the kit's (a pipx venv that holds the
kit's dependencies only).  ``--python PATH`` chooses; else an active virtual environment's
interpreter (``VIRTUAL_ENV``), else ``python3`` on ``PATH``.  It is asked once, in one subprocess,
what it is (``Interpreter``); one older than 3.9 or that cannot run is refused with a remedy.

A venv's ``python`` is a symlink to its base interpreter: the path is kept as given (absolute),
never resolved, or the venv's packages would be lost.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kit.errors import UsageError

OLDEST = (3, 9)
"""The oldest Python the kit's runtime (launcher, probe) runs in."""
QUERY_TIMEOUT_S = 60.0
_MARK = "KIT-INTERPRETER:"
# Python 2 syntax too: an old interpreter must answer, so that it is refused with its version.
_QUERY = f"""
import json, platform, sys
out = {{"executable": sys.executable, "version": list(sys.version_info[:3]),
        "implementation": platform.python_implementation(), "cache_tag": None,
        "pytest": None, "pytest_error": None, "default_method": None, "methods": []}}
try:
    import multiprocessing
    out["default_method"] = multiprocessing.get_context().get_start_method()  # the default's; sets nothing
    out["methods"] = list(multiprocessing.get_all_start_methods())
except Exception:
    pass
try:
    out["cache_tag"] = sys.implementation.cache_tag
except AttributeError:
    pass
try:
    import pytest
    out["pytest"] = str(getattr(pytest, "__version__", "unknown"))
except Exception as exc:
    out["pytest_error"] = "%s: %s" % (type(exc).__name__, exc)
sys.stdout.write("{_MARK}" + json.dumps(out) + "\\n")
"""


class InterpreterError(UsageError):
    """The user's interpreter cannot be used: the message says why, then what to do (``remedy``)."""

    remedy = "choose another with --python PATH"

    def __init__(self, what: str, **fields: Any) -> None:
        super().__init__(f"{what}: {self.remedy}", **fields)


class InterpreterNotFound(InterpreterError):
    """No interpreter where one was asked for (or looked for)."""

    remedy = "give the path of a Python 3.9+ with --python PATH (or activate the project's virtual environment)"


class InterpreterNotRunnable(InterpreterError):
    """The path exists but does not run as a Python that answers the kit's question."""

    remedy = "give a working Python 3.9+ with --python PATH"


class InterpreterTooOld(InterpreterError):
    """A Python older than the kit's runtime supports."""

    remedy = "the kit runs Python 3.9 and newer: give one with --python PATH"


@dataclass(frozen=True)
class Interpreter:
    """What the user's interpreter is, asked once."""

    path: str
    """As chosen, absolute, symlinks kept (a venv's ``bin/python``): what the kit runs."""
    source: str
    """Which rule chose it: ``--python``, ``VIRTUAL_ENV`` or ``PATH``."""
    executable: str
    """Its own ``sys.executable``."""
    version: tuple[int, int, int]
    implementation: str
    """``platform.python_implementation()``: ``CPython``, ``PyPy``..."""
    cache_tag: str | None
    """``sys.implementation.cache_tag`` (``cpython-311``): the name of its bytecode files."""
    pytest_version: str | None
    """``pytest.__version__`` when ``import pytest`` works there, else None (see ``pytest_error``)."""
    pytest_error: str | None
    default_method: str = ""
    """Its own default start method (``forkserver`` on a Linux 3.14), read without setting it."""
    methods: tuple[str, ...] = ()
    """Every start method it offers."""

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    def describe(self) -> str:
        """``/path/to/python (CPython 3.11.7)``: what the results say ran."""
        return f"{self.path} ({self.implementation} {self.version_text})"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["version"] = self.version_text
        return out


def choose(python: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The interpreter's path and the rule that chose it: ``--python``, else ``VIRTUAL_ENV``, else ``PATH``."""
    environ = os.environ if environ is None else environ
    if python:
        found = python if os.sep in python or (os.altsep and os.altsep in python) else shutil.which(python)
        if not found or not Path(found).is_file():
            raise InterpreterNotFound(f"--python {python}: no such file", path=python)
        return str(Path(found).absolute()), "--python"
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        for candidate in (Path(venv, "bin", "python"), Path(venv, "Scripts", "python.exe")):
            if candidate.is_file():
                return str(candidate.absolute()), "VIRTUAL_ENV"
        raise InterpreterNotFound(f"VIRTUAL_ENV={venv} has no bin/python (nor Scripts/python.exe)", path=venv)
    for name in ("python3", "python"):
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return str(Path(found).absolute()), "PATH"
    raise InterpreterNotFound("no python3 on PATH and no virtual environment active", path=None)


def query(path: str, source: str = "--python", cwd: str | None = None) -> Interpreter:
    """Ask ``path`` what it is (one subprocess, with the user's environment, in ``cwd``)."""
    try:
        done = subprocess.run([path, "-c", _QUERY], stdin=subprocess.DEVNULL, capture_output=True, cwd=cwd,
                              timeout=QUERY_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise InterpreterNotFound(f"{path}: no such file", path=path) from None
    except OSError as exc:
        raise InterpreterNotRunnable(f"{path} cannot run ({exc.strerror or exc})", path=path) from None
    except subprocess.TimeoutExpired:
        raise InterpreterNotRunnable(f"{path} did not answer in {QUERY_TIMEOUT_S:.0f} s", path=path) from None
    answer = _answer(done.stdout.decode("utf-8", "replace"))
    if answer is None:
        said = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        why = f": {said[-1].strip()}" if said else ""
        raise InterpreterNotRunnable(f"{path} is not a Python the kit can use (exit status {done.returncode}{why})",
                                     path=path)
    version = tuple(int(v) for v in answer["version"][:3])
    found = Interpreter(
        path=path, source=source, executable=str(answer.get("executable") or ""),
        version=(version[0], version[1], version[2]), implementation=str(answer.get("implementation") or ""),
        cache_tag=answer.get("cache_tag"), pytest_version=answer.get("pytest"),
        pytest_error=answer.get("pytest_error"), default_method=str(answer.get("default_method") or ""),
        methods=tuple(str(m) for m in answer.get("methods") or ()),
    )
    if found.version[:2] < OLDEST:
        raise InterpreterTooOld(f"{path} is Python {found.version_text}", path=path, version=found.version)
    return found


def _answer(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):  # after whatever a sitecustomize printed
        if line.startswith(_MARK):
            try:
                answer = json.loads(line[len(_MARK):])
            except ValueError:
                return None
            return answer if isinstance(answer, dict) and isinstance(answer.get("version"), list) else None
    return None


def find(python: str | None = None, cwd: str | None = None) -> Interpreter:
    """The user's interpreter, chosen (``choose``) and asked (``query``)."""
    path, source = choose(python)
    return query(path, source, cwd=cwd)


def can_import(interp: Interpreter | str, module: str, cwd: str | None = None) -> bool:
    """Whether ``import module`` finds it in that interpreter (its module is found, not run), as a
    script run there from ``cwd`` would: for saying the kit's interpreter lacks what the user's has."""
    path = interp.path if isinstance(interp, Interpreter) else interp
    code = ("import importlib.util, sys\n"
            "try:\n    found = importlib.util.find_spec(sys.argv[1]) is not None\n"
            "except Exception:\n    found = False\n"
            "sys.exit(0 if found else 1)\n")
    try:
        done = subprocess.run([path, "-c", code, module], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=cwd, timeout=QUERY_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


_MISSING = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


def missing_module(error: str) -> str | None:
    """The top-level module an error line says could not be found (``numpy`` for ``numpy.linalg``)."""
    m = _MISSING.search(error or "")
    return m.group(1).split(".")[0] if m else None
