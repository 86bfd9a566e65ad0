"""The steps of the kit's GitHub Action (action.yml), in Python so that they read the same on Linux,
macOS and Windows runners.

``install`` puts the kit into a virtual environment of its own under ``$RUNNER_TEMP``: the project's
environment (where its dependencies and pytest are) is never touched, and the kit's own dependencies
cannot clash with the project's.  ``run`` builds the kit's command line from the action's inputs
(passed as ``KIT_ACTION_*`` environment variables, never pasted into a shell), runs it, and exits
with the kit's exit status, so the step fails as the kit says.  The kit itself appends its table to
``$GITHUB_STEP_SUMMARY``: this script does not append it again.

Only the standard library: it runs before the kit is installed, in whichever Python the job has.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

COMMANDS = ("pytest", "run")
VENV_NAME = "kit-action-venv"
SOURCE_MARK = "kit-action-source.txt"  # in the venv: which checkout of the kit it holds
RESULT_FILES = {"json": "kit.json", "junit-xml": "kit.xml", "markdown": "kit.md"}


class ActionError(Exception):
    """A wrong input: one line in the log, exit status 2 (the kit's own status for bad input)."""


def venv_python(venv: Path, windows: bool | None = None) -> Path:
    """The interpreter of a virtual environment: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    if windows is None:
        windows = os.name == "nt"
    return venv / "Scripts" / "python.exe" if windows else venv / "bin" / "python"


def install(env: Mapping[str, str], python: str) -> Path:
    """The kit from the action's checkout in a venv of its own; an existing venv holding the same
    checkout is reused (the action called twice in one job).  Returns the venv's interpreter."""
    source = Path(env["GITHUB_ACTION_PATH"]).resolve()
    venv = Path(env.get("KIT_ACTION_VENV") or Path(env["RUNNER_TEMP"]) / VENV_NAME)
    py = venv_python(venv)
    mark = venv / SOURCE_MARK
    if py.exists() and mark.exists() and mark.read_text(encoding="utf-8") == str(source):
        print(f"kit: reusing {venv} (the kit from {source})", flush=True)
        return py
    print(f"kit: installing the kit from {source} into {venv}", flush=True)
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    quiet = [] if env.get("RUNNER_DEBUG") == "1" else ["--quiet"]
    subprocess.run([str(py), "-m", "pip", "install", *quiet, "--disable-pip-version-check", str(source)],
                   check=True)
    mark.write_text(str(source), encoding="utf-8")
    return py


def interpreter(asked: str, default: str) -> str:
    """The ``python`` input: empty means the job's own; a bare name is looked up on PATH."""
    if not asked.strip():
        return default
    asked = asked.strip()
    if os.sep in asked or (os.altsep and os.altsep in asked):
        return asked
    return shutil.which(asked) or asked


def kit_argv(inputs: Mapping[str, str], python: str, results: Path) -> list[str]:
    """The kit's arguments (after ``python -m kit``) for the action's inputs."""
    command = inputs.get("command", "").strip() or "pytest"
    if command not in COMMANDS:
        raise ActionError(f"command: {command!r} is not one of {', '.join(COMMANDS)}")
    args = shlex.split(inputs.get("args", ""))
    argv = [command]
    if command == "run":
        if not args:
            raise ActionError("args: kit run needs a script (args: 'path/to/script.py [its arguments]')")
        argv.append(args.pop(0))
    argv += ["--python", python]
    for method in (inputs.get("methods", "") or "all").replace(",", " ").split():
        argv += ["--method", method]
    if inputs.get("timeout", "").strip():
        argv += ["--timeout", inputs["timeout"].strip()]
    for option, name in RESULT_FILES.items():
        argv += [f"--{option}", str(results / name)]
    return [*argv, "--", *args] if args else argv


def run(env: Mapping[str, str], kit_python: str) -> int:
    """Run the kit as the inputs say; write the outputs; return the kit's exit status."""
    results = Path(env.get("KIT_ACTION_RESULTS", "").strip() or "kit-results").resolve()
    results.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FILES.values():  # this run's files only, never an earlier run's
        (results / name).unlink(missing_ok=True)
    python = interpreter(env.get("KIT_ACTION_PYTHON", ""), sys.executable)
    inputs = {k: env.get(f"KIT_ACTION_{k.upper()}", "") for k in ("command", "args", "methods", "timeout")}
    argv = [kit_python, "-m", "kit", *kit_argv(inputs, python, results)]
    print("kit: " + " ".join(shlex.quote(a) for a in argv), flush=True)
    own = {k: v for k, v in env.items() if not k.startswith("KIT_ACTION_")}  # the inputs are not the code's business
    status = subprocess.run(argv, env=own).returncode
    _output(env, status=str(status), results=str(results))
    return status


def _output(env: Mapping[str, str], **values: str) -> None:
    """Step outputs, appended to ``$GITHUB_OUTPUT`` when it is set."""
    if env.get("GITHUB_OUTPUT"):
        with Path(env["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in values.items())


def main(argv: Sequence[str]) -> int:
    env = dict(os.environ)
    try:
        if argv == ["install"]:
            _output(env, python=str(install(env, sys.executable)))  # the run step gets it as KIT_ACTION_KIT_PYTHON
            return 0
        if argv == ["run"]:
            kit_python = env.get("KIT_ACTION_KIT_PYTHON") or str(install(env, sys.executable))
            return run(env, kit_python)
    except ActionError as exc:
        print(f"kit action: {exc}", file=sys.stderr, flush=True)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"kit action: {' '.join(map(str, exc.cmd))} failed with exit status {exc.returncode}",
              file=sys.stderr, flush=True)
        return 2
    print("usage: kit_action.py install|run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
