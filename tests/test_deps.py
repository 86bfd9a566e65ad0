"""A project's requirements in a kit image: wheels resolved on the host for the container's Python,
installed with no network, cached by what went in; a requirement with no wheel refused up front.

The first tests need neither Docker nor a network: tags, pip's messages, sdists.  Those that
resolve for real ask the package index through the kit's pip (the host has one; containers do not).
The docker tests build a real derived image for Python 3.14 with a pure-Python and a compiled
requirement, import them in a container without a network, and remove every image they made.
"""
from __future__ import annotations

import dataclasses
import io
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from kit.container import deps
from kit.container.deps import (
    DepsBuildError, Interpreter, KitImage, Missing, NoWheel, RequirementsError, Stale, compiled_sources, is_pure,
    parse_missing, stale_images,
)
from kit.errors import FAILED, USAGE

X86_314 = Interpreter("3.14", "x86_64", "2.41")
NUMPY_314 = "numpy-2.5.5-cp314-cp314-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"


def test_platform_tags_cover_every_glibc_up_to_the_images_with_the_legacy_aliases() -> None:
    tags = X86_314.platforms()
    assert tags[0] == "manylinux_2_41_x86_64" and tags[-1] == "linux_x86_64"
    for tag in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64",
                "manylinux1_x86_64"):
        assert tag in tags
    arm = Interpreter("3.11", "aarch64", "2.36").platforms()
    assert arm[0] == "manylinux_2_36_aarch64" and "manylinux_2_17_aarch64" in arm
    assert "manylinux_2_16_aarch64" not in arm and "manylinux1_aarch64" not in arm  # never existed for arm
    with pytest.raises(RequirementsError, match="not glibc"):
        Interpreter("3.14", "x86_64", "").platforms()


@pytest.mark.parametrize(("name", "fits"), [
    (NUMPY_314, True),
    ("numpy-2.5.5-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", False),  # another Python
    ("numpy-2.5.5-cp315-cp315-manylinux_2_27_x86_64.whl", False),
    ("numpy-2.5.5-cp314-cp314-manylinux_2_42_x86_64.whl", False),  # a newer glibc than the image's
    ("numpy-2.5.5-cp314-cp314-manylinux_2_28_aarch64.whl", False),  # another machine
    ("numpy-2.5.5-cp314-cp314-musllinux_1_2_x86_64.whl", False),
    ("psutil-7.0.0-cp36-abi3-manylinux_2_12_x86_64.manylinux2010_x86_64.whl", True),  # abi3 of an older CPython
    ("iniconfig-2.3.1-py3-none-any.whl", True),
    ("six-1.17.0-py2.py3-none-any.whl", True),
    ("old-1.0-py2-none-any.whl", False),
])
def test_a_wheel_fits_the_image_only_with_its_python_abi_machine_and_glibc(name: str, fits: bool) -> None:
    assert X86_314.accepts(name) is fits


def test_pips_message_gives_the_requirement_and_the_versions_it_saw() -> None:
    stderr = ("ERROR: Could not find a version that satisfies the requirement numpy==1.26.4 (from versions: 2.3.0, "
              "2.3.1)\nERROR: No matching distribution found for numpy==1.26.4\n")
    assert parse_missing(stderr) == Missing("numpy==1.26.4", ("2.3.0", "2.3.1"))
    nested = parse_missing("ERROR: Could not find a version that satisfies the requirement docopt>=0.6 (from foo) "
                           "(from versions: none)\n")
    assert nested == Missing("docopt>=0.6 (from foo)", ()) and nested.requirement == "docopt>=0.6"
    assert parse_missing("ERROR: Cannot install a and b because these package versions have conflicting") is None


def test_pure_wheels_and_compiled_sdists_are_told_apart(tmp_path: Path) -> None:
    assert is_pure("docopt-0.6.2-py3-none-any.whl") and is_pure("six-1.17.0-py2.py3-none-any.whl")
    assert not is_pure("docopt-0.6.2-cp311-cp311-linux_x86_64.whl") and not is_pure("x-1-py2-none-any.whl")
    pure, compiled = tmp_path / "pure-1.0.tar.gz", tmp_path / "fast-1.0.zip"
    with tarfile.open(pure, "w:gz") as tar:
        for name in ("pure-1.0/setup.py", "pure-1.0/pure.py", "pure-1.0/README.rst"):
            info = tarfile.TarInfo(name)
            tar.addfile(info, io.BytesIO(b""))
    with zipfile.ZipFile(compiled, "w") as z:
        z.writestr("fast-1.0/setup.py", "")
        z.writestr("fast-1.0/src/_speedups.c", "")
    assert compiled_sources(pure) == [] and compiled_sources(compiled) == ["fast-1.0/src/_speedups.c"]


def fake_pip(returncode: int, stderr: str = "", wheel: str | None = None):
    """A stand-in for the host's pip: ``wheel`` is what it 'downloads'."""
    def run(args):
        if wheel is not None:
            dest = Path(args[args.index("--dest") + 1])
            (dest / wheel).write_bytes(b"")
        return subprocess.CompletedProcess(args, returncode, "", stderr)
    return run


def test_a_wheel_for_another_python_is_refused_before_anything_is_built(tmp_path: Path, monkeypatch) -> None:
    """The broken variant: a resolver that ignored the target Python would hand over cp313's numpy."""
    monkeypatch.setattr(deps, "_pip", fake_pip(0, wheel="numpy-2.5.5-cp313-cp313-manylinux_2_28_x86_64.whl"))
    with pytest.raises(RequirementsError, match=r"cp313.*not for Python 3.14 on linux x86_64"):
        deps.resolve(X86_314, [], ["numpy"], tmp_path / "w", print)
    monkeypatch.setattr(deps, "_pip", fake_pip(0, wheel=NUMPY_314))
    assert [w.name for w in deps.resolve(X86_314, [], ["numpy"], tmp_path / "w", print)] == [NUMPY_314]


def test_an_index_that_does_not_answer_is_said_so(tmp_path: Path, monkeypatch) -> None:
    stderr = ("WARNING: Retrying ... NewConnectionError('<pip._vendor...>: Failed to establish a new connection')\n"
              "ERROR: Could not find a version that satisfies the requirement numpy (from versions: none)\n")
    monkeypatch.setattr(deps, "_pip", fake_pip(1, stderr))
    with pytest.raises(DepsBuildError, match="no package index answers") as err:
        deps.resolve(X86_314, [], ["numpy"], tmp_path / "w", print)
    assert err.value.exit_code == FAILED


def pip_steps(*steps: tuple[int, str, str | None]):
    """A host pip that answers each call with the next (returncode, stderr, file it leaves in its output
    folder): a ``.tar.gz`` sdist holds C code, a ``.zip`` sdist only Python."""
    answers = list(steps)

    def run(args):
        code, stderr, made = answers.pop(0)
        if made is not None:
            out = Path(args[args.index("--dest" if "--dest" in args else "--wheel-dir") + 1])
            out.mkdir(parents=True, exist_ok=True)
            if made.endswith(".tar.gz"):
                with tarfile.open(out / made, "w:gz") as tar:
                    tar.addfile(tarfile.TarInfo("fast-1.0/_speedups.c"), io.BytesIO(b""))
            elif made.endswith(".zip"):
                with zipfile.ZipFile(out / made, "w") as z:
                    z.writestr("fast-1.0/setup.py", "")
            else:
                (out / made).write_bytes(b"")
        return subprocess.CompletedProcess(args, code, "", stderr)
    return run


NONE_FOR_314 = (1, "ERROR: Could not find a version that satisfies the requirement fast (from versions: none)\n", None)


@pytest.mark.parametrize(("steps", "why"), [
    ([(1, "ERROR: No matching distribution found for fast", None)], "and no source distribution"),
    ([(0, "", "fast-1.0.tar.gz")], r"its sdist is compiled code \(_speedups.c"),
    ([(0, "", "fast-1.0.zip"), (0, "", "fast-1.0-cp311-cp311-linux_x86_64.whl")], "builds fast-1.0-cp311.*not pure"),
])
def test_an_sdist_that_is_not_pure_python_is_refused(tmp_path: Path, monkeypatch, steps, why: str) -> None:
    """The broken variants of a pure sdist: none at all, C sources, a build that makes a cp311 wheel."""
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(deps, "_pip", pip_steps(NONE_FOR_314, *steps))
    with pytest.raises(NoWheel, match=f"fast has no wheel for Python 3.14 .*{why}"):
        deps.resolve(X86_314, [], ["fast"], tmp_path / "w", print)
    assert not (tmp_path / "cache" / "built-wheels").exists()  # nothing kept for next time


@pytest.mark.slow
def test_a_compiled_requirement_with_no_wheel_for_that_python_is_one_clear_error(tmp_path: Path) -> None:
    """numpy 1.26 has wheels up to CPython 3.12: nothing is built, and the message says what to do."""
    req = tmp_path / "requirements.txt"
    req.write_text("numpy==1.26.4\n")
    with pytest.raises(NoWheel) as err:
        deps.resolve(X86_314, [req], ["pytest"], tmp_path / "w", print)
    message = str(err.value)
    assert message.startswith("numpy==1.26.4 has no wheel for Python 3.14 on linux x86_64 (glibc 2.41)"), message
    assert "pin a version that has one in " + str(req) in message and "--targets docker:X.Y" in message
    assert err.value.exit_code == USAGE and err.value.package == "numpy==1.26.4" and err.value.python == "3.14"


@pytest.mark.slow
def test_a_pure_python_sdist_is_built_into_a_wheel_on_the_host(tmp_path: Path, monkeypatch) -> None:
    """docopt 0.6.2 is on the index as an sdist only."""
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    said: list[str] = []
    wheels = deps.resolve(Interpreter("3.15", "x86_64", "2.41"), [], ["docopt==0.6.2"], tmp_path / "w", said.append)
    assert [w.name for w in wheels] == ["docopt-0.6.2-py2.py3-none-any.whl"]
    assert (tmp_path / "cache" / "built-wheels" / wheels[0].name).is_file()  # kept for next time
    assert any("building its sdist" in line for line in said), said


@pytest.mark.slow
def test_a_local_project_in_the_requirements_is_built_not_dropped(tmp_path: Path) -> None:
    """pip resolves a folder's dependencies but saves no file for it: the broken variant installed
    everything but the project."""
    project = tmp_path / "localpkg"
    (project / "localpkg").mkdir(parents=True)
    (project / "localpkg" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "localpkg"\nversion = "0.1"\ndependencies = ["iniconfig"]\n')
    req = tmp_path / "requirements.txt"
    req.write_text(f"{project}\n")
    wheels = deps.resolve(X86_314, [req], [], tmp_path / "w", print)
    assert [w.name.split("-")[0] for w in wheels] == ["iniconfig", "localpkg"]


# ---------------------------------------------------------------- which derived images are stale


def derived(tag: str, base_id: str, created: float, python: str = "3.14") -> KitImage:
    return KitImage(f"sha256:{tag}", (f"kit-deps:{tag}",), python, created, 200, f"kit:py{python}-{base_id}", base_id)


PRUNE_IMAGES = [
    KitImage("sha256:B1", ("kit:py3.14", "kit:py3.14-b1"), "3.14", 10.0, 170),  # the current base
    KitImage("sha256:B0", ("kit:py3.14-b0",), "3.14", 1.0, 170),  # an older base, still tagged
    KitImage("sha256:K1", ("kit:py3.11", "kit:py3.11-k1"), "3.11", 10.0, 230),
    KitImage("sha256:D", ("kit-base:debian-forky-py3.14",), "", 0.0, 150),
    derived("py3.14-old", "sha256:B0", 5.0),  # superseded however new it is
    derived("py3.14-gone", "", 50.0),  # its base tag is gone: superseded
    derived("py3.14-a", "sha256:B1", 11.0),
    derived("py3.14-b", "sha256:B1", 12.0),
    derived("py3.14-c", "sha256:B1", 13.0),
    derived("py3.11-a", "sha256:K1", 11.0, "3.11"),
    derived("py3.13-a", "sha256:X", 11.0, "3.13"),  # no kit:py3.13 here: nothing to be superseded by
]
PRUNE_CURRENT = {"3.14": "sha256:B1", "3.11": "sha256:K1"}


def check_prune_rule(rule) -> None:
    chosen = {s.image.tags[0]: s.why for s in rule(PRUNE_IMAGES, PRUNE_CURRENT, 2)}
    assert set(chosen) == {"kit-deps:py3.14-old", "kit-deps:py3.14-gone", "kit-deps:py3.14-a"}, chosen
    assert chosen["kit-deps:py3.14-old"].startswith("superseded: built on kit:py3.14-sha256:B0")
    assert chosen["kit-deps:py3.14-a"] == "older than the 2 newest for Python 3.14"
    assert {s.image.tags[0] for s in rule(PRUNE_IMAGES, PRUNE_CURRENT, 1)} >= {"kit-deps:py3.14-b"}
    for keep in (1, 2, 3, 100):
        assert not [s for s in rule(PRUNE_IMAGES, PRUNE_CURRENT, keep) if not s.image.derived], keep  # no base


def test_superseded_and_beyond_the_keep_count_are_stale_and_a_base_never() -> None:
    check_prune_rule(stale_images)
    # an image tagged both as a base and kit-deps (retagged by hand) is a base
    both = KitImage("sha256:B0", ("kit-deps:py3.14-x", "kit:py3.14-b0"), "3.14", 1.0, 170, "kit:py3.14-z", "z")
    assert stale_images([both], PRUNE_CURRENT, 0) == []


def test_a_rule_that_goes_by_the_tag_text_would_remove_a_base() -> None:
    """The broken variant: "not the current kit:pyX.Y" read from tags alone takes the older base and kit-base."""
    def by_text(images, current, keep):
        return [Stale(i, "old") for i in images
                if i.tags[0].startswith("kit") and not any(t.startswith("kit:py") and "-" not in t for t in i.tags)
                and i.base_id != current.get(i.python)]

    with pytest.raises(AssertionError):
        check_prune_rule(by_text)
    assert "kit:py3.14-b0" in {s.image.tags[0] for s in by_text(PRUNE_IMAGES, PRUNE_CURRENT, 2)}


class FakeImage:
    def __init__(self, id: str, tags: list[str], labels: dict[str, str], created: str) -> None:
        self.id, self.tags, self.labels = id, tags, labels
        self.attrs = {"Created": created, "Size": 200 * 2**20}


class FakeImages:
    def __init__(self, *images: FakeImage) -> None:
        self.images = images

    def list(self, name: str) -> list[FakeImage]:
        return [i for i in self.images if any(t.partition(":")[0] == name for t in i.tags)]


def test_a_derived_image_without_the_base_id_label_is_given_its_base_tags_id() -> None:
    """Images built before the kit.base-id label: their kit.base-image tag, if still here, gives the id;
    the broken variant (no such lookup) would call the one on the current base superseded."""
    from types import SimpleNamespace

    old = {"kit.python": "3.14", "kit.base-image": "kit:py3.14-b1"}
    client = SimpleNamespace(images=FakeImages(
        FakeImage("sha256:B1", ["kit:py3.14", "kit:py3.14-b1"], {"kit.python": "3.14"}, "2026-12-06T10:00:00.5Z"),
        FakeImage("sha256:D1", ["kit-deps:py3.14-d1"], old, "2026-12-06T11:00:00.123456789Z"),
        FakeImage("sha256:D0", ["kit-deps:py3.14-d0"], {**old, "kit.base-image": "kit:py3.14-b0"},
                  "2026-12-06T09:00:00Z"),
    ))
    images = deps.kit_images(client)  # type: ignore[arg-type]  # a stand-in for docker.DockerClient
    assert [i.tags[0] for i in images] == ["kit-deps:py3.14-d0", "kit:py3.14", "kit-deps:py3.14-d1"]
    assert images[2].base_id == "sha256:B1" and images[0].base_id == ""
    assert images[2].created - images[1].created == pytest.approx(3599.623457)
    current = deps.current_bases(images)
    assert current == {"3.14": "sha256:B1"}
    assert [s.image.tags[0] for s in stale_images(images, current)] == ["kit-deps:py3.14-d0"]
    unlooked = [dataclasses.replace(i, base_id="") if i.derived else i for i in images]
    assert len(stale_images(unlooked, current)) == 2  # the broken variant


# ---------------------------------------------------------------- in Docker


PYTHON = "3.14"


@pytest.fixture(scope="module")
def client():
    from kit.container import EngineUnavailable, connect

    try:
        c = connect()
    except EngineUnavailable as exc:
        pytest.skip(exc.reason)
    before = set(deps.derived_images(c))
    yield c
    for tag in set(deps.derived_images(c)) - before:  # the derived images these tests made
        c.images.remove(tag, force=True)
    c.close()


def kit_image(client, python: str) -> str:
    """The lead's ``kit:pyX.Y-HASH`` (whatever sources it was built from: these tests only build on it)."""
    import docker.errors

    try:
        image = client.images.get(f"kit:py{python}")
    except docker.errors.ImageNotFound:
        pytest.skip(f"no kit:py{python} image: python -m kit images --python {python}")
    digest = (image.labels or {}).get("kit.hash")
    return f"kit:py{python}-{digest}" if digest else f"kit:py{python}"


def run_in(client, image: str, code: str) -> tuple[int, str]:
    from kit.container import container

    with container(client, image, ["python", "-c", code]) as c:
        assert c.attrs["Config"].get("NetworkDisabled") is True
        status = c.wait(timeout=120)["StatusCode"]
        return status, c.logs(stdout=True, stderr=True).decode("utf-8", "replace")


@pytest.mark.docker
@pytest.mark.parametrize("python", ["3.11", "3.13", "3.14", "3.15"])
def test_each_kit_image_says_what_its_python_accepts(client, python: str) -> None:
    found = deps.interpreter(client, kit_image(client, python))
    assert found.python == python and found.glibc.startswith("2.") and found.machine in ("x86_64", "aarch64")


@pytest.mark.docker
def test_numpy_and_a_pure_requirement_import_in_a_container_without_a_network(client, tmp_path: Path) -> None:
    from kit.container import leftovers

    req = tmp_path / "requirements.txt"
    req.write_text("numpy\niniconfig\n")
    base = kit_image(client, PYTHON)
    said: list[str] = []
    t0 = time.monotonic()
    tag = deps.image_with_requirements(client, PYTHON, base, [req], say=said.append)
    first = time.monotonic() - t0
    assert tag.startswith(f"kit-deps:py{PYTHON}-") and tag in deps.derived_images(client)
    labels = client.images.get(tag).labels
    assert labels["kit.base-image"] == base and "numpy-" in labels["kit.wheels"]
    code = "import os, numpy, iniconfig, pytest, kit; print(numpy.arange(4).sum(), os.listdir('/sys/class/net'))"
    status, out = run_in(client, tag, code)
    assert (status, out.strip()) == (0, "6 ['lo']"), out  # no interface but loopback: no network
    # the second time: the same wheels resolve, the image is reused, nothing is built
    t0 = time.monotonic()
    again = deps.image_with_requirements(client, PYTHON, base, [req], say=said.append)
    second = time.monotonic() - t0
    assert again == tag and any("up to date" in line for line in said), said
    assert second < first, (first, second)
    assert leftovers(client) == []


@pytest.mark.docker
def test_an_image_built_without_the_wheel_fails_the_import(client) -> None:
    """The broken variant of the test above: only pytest went in, so numpy is missing in the container."""
    tag = deps.image_with_requirements(client, PYTHON, kit_image(client, PYTHON), [])
    status, out = run_in(client, tag, "import pytest; import numpy")
    assert status == 1 and "No module named 'numpy'" in out, out


@pytest.mark.docker
def test_wheels_for_one_python_are_refused_for_an_image_of_another(client) -> None:
    before = deps.derived_images(client)
    with pytest.raises(RequirementsError, match=f"runs Python {PYTHON}, not 3.13"):
        deps.image_with_requirements(client, "3.13", kit_image(client, PYTHON), [])
    assert deps.derived_images(client) == before


@pytest.mark.docker
def test_no_wheel_builds_nothing(client, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("iniconfig\nnumpy==1.26.4\n")
    before = deps.derived_images(client)
    with pytest.raises(NoWheel, match="numpy==1.26.4 has no wheel for Python 3.14"):
        deps.image_with_requirements(client, PYTHON, kit_image(client, PYTHON), [req])
    assert deps.derived_images(client) == before


def tiny_wheel(folder: Path, version: str) -> Path:
    """A pure-Python wheel made here: nothing to download."""
    dist = f"kittiny-{version}.dist-info"
    path = folder / f"kittiny-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("kittiny.py", f"VERSION = {version!r}\n")
        whl.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: kittiny\nVersion: {version}\n")
        whl.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{dist}/RECORD", "")
    return path


@pytest.mark.docker
def test_prune_removes_the_older_derived_image_and_no_base(client, tmp_path: Path, monkeypatch, capsys) -> None:
    """Two derived images from a tiny wheel, offline, in a repository of this test's own (the daemon's
    other kit-deps images are not this test's to remove); ``--prune --keep 1`` removes the older one."""
    from kit.cli import main

    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(deps, "REPO", "kit-deps-prune-test")
    bases = {t: i.id for i in deps.kit_images(client) for t in i.tags if not t.startswith("kit-deps")}
    made: list[str] = []
    holder = None
    try:
        for version in ("1.0", "2.0"):
            req = tmp_path / f"requirements-{version}.txt"
            req.write_text(f"--no-index\n{tiny_wheel(tmp_path, version)}\n")
            made.append(deps.image_with_requirements(client, PYTHON, kit_image(client, PYTHON), [req], extra=()))
            time.sleep(1.1)  # Created is kept to the second by some daemons: the order must be plain
        older, newer = made
        assert older != newer and all(t.startswith("kit-deps-prune-test:py3.14-") for t in made)
        assert client.images.get(older).labels["kit.base-id"] == client.images.get("kit:py3.14").id
        holder = client.containers.create(older, ["true"], labels={"kit": "prune-test"}, network_disabled=True)
        assert main(["images", "--list", "--python", PYTHON, "--keep", "1", "--width", "200"]) == 0
        listed = capsys.readouterr().out
        assert f"{older}" in listed and "(current, beyond --keep 1)" in listed and "1 stale" in listed, listed
        assert main(["images", "--prune", "--keep", "1", "--width", "200"]) == 0
        held = capsys.readouterr().out
        assert f"skipped {older}: a container uses it" in held and client.images.get(older), held
        holder.remove()
        holder = None
        assert main(["images", "--prune", "--keep", "1", "--width", "200"]) == 0
        pruned = capsys.readouterr().out
        assert f"removed {older} " in pruned and "older than the 1 newest for Python 3.14" in pruned, pruned
        assert "removed 1 kit-deps image, freed" in pruned and newer not in pruned, pruned
        assert deps.derived_images(client) == [newer]
        assert {t: i.id for i in deps.kit_images(client) for t in i.tags if not t.startswith("kit-deps")} == bases
        print(listed, held, pruned, sep="\n")  # for the record (pytest -rP)
    finally:
        if holder is not None:
            holder.remove(force=True)
        for tag in deps.derived_images(client):
            client.images.remove(tag, force=True)
