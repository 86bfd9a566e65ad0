"""A project's requirements in a kit image, installed without a network.

Containers have no network, so whatever a project needs must be in the image.  The wheels are
resolved on the host, by the kit's own pip, for the container's interpreter: its Python version,
CPython ABI, machine and glibc (asked once of the image itself, so the tags are what its own pip
would accept).  A requirement with no wheel for that Python may still be pure Python: its sdist is
built into a wheel on the host and kept only if the result is ``py3-none-any``; compiled code is
refused with one error that names the package and the Python, before anything runs.

The derived image is ``FROM`` the kit image, copies the wheels in and installs them into the
image's venv with ``--no-index``, from a build context that holds nothing else, built with no
network.  Its tag is a hash of what went in (each wheel's name and sha256, the base image's id,
the recipe), not of the requirement text: two files that resolve to the same wheels share an
image, and a requirement that now resolves to a newer release makes a new one.

So derived images pile up as requirements or the kit image change: ``kit images --list`` shows
them and ``kit images --prune`` removes the stale ones.  Which are stale is ``stale_images``, a
pure rule on plain data; the Docker calls around it only gather the facts and remove.  A build
never prunes by itself: another kit on the same daemon may have chosen a tag and not yet made
its container, which is all Docker protects.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kit.container.engine import api_timeout, container
from kit.container.images import BASE_REPO, BUILD_TIMEOUT_S, L_BASE, L_HASH, L_PYTHON, cache_dir, keep
from kit.container.images import REPO as KIT_REPO
from kit.errors import KitError, UsageError

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]

REPO = "kit-deps"
"""Derived images are ``kit-deps:pyX.Y-HASH``, apart from the ``kit:pyX.Y`` images they are built on."""
L_WHEELS = "kit.wheels"
"""Label of a derived image: the wheel files installed, one per line."""
L_BASE_ID = "kit.base-id"
"""Label of a derived image: the id of the image it was built on (its tag moves, the id does not)."""
KEEP = 3
"""``kit images --prune`` keeps this many derived images per Python, the newest (``--keep``)."""
WHEEL_DIR = "/tmp/kit-requirements"
PIP_TIMEOUT_S = 600.0  # one pip download or wheel build on the host
MAX_SDISTS = 20  # sdists built for one resolution: past that something is looping
COMPILED_SUFFIXES = {".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".pyx", ".pxd", ".rs", ".f", ".f90", ".cu", ".go"}
COMPILED_FILES = {"Cargo.toml", "meson.build", "CMakeLists.txt"}

DOCKERFILE = f"""\
ARG BASE
FROM ${{BASE}}
USER root
COPY wheels/ {WHEEL_DIR}/
RUN python -m pip install --no-index --compile --find-links {WHEEL_DIR} {WHEEL_DIR}/*.whl \\
 && rm -rf {WHEEL_DIR}
USER 10001:10001
"""
"""The recipe: the kit image's venv is first on PATH (docker/Dockerfile), so ``python`` is the
interpreter the kit runs.  pip resolves again among the copied wheels only, so a set that lacks
a dependency fails the build instead of the run.  ``--compile``: the container's root is
read-only, so bytecode must be written now."""

PROBE = (
    "import json, os, platform, sys; "
    "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'implementation': sys.implementation.name, "
    "'abiflags': getattr(sys, 'abiflags', ''), 'machine': platform.machine(), "
    "'glibc': (os.confstr('CS_GNU_LIBC_VERSION') or '').partition(' ')[2]}))"
)
"""What the image's own interpreter says about itself: the facts its wheels' tags must match."""


class RequirementsError(UsageError):
    """The requirements cannot be installed for a target (bad file, conflict): exit status 2."""


class NoWheel(RequirementsError):
    """A requirement has no wheel for the container's Python and is not pure Python: exit status 2.

    ``package`` is the requirement as pip names it, ``python`` the container's version."""

    package: str
    python: str


class DepsBuildError(KitError):
    """The host could not resolve the wheels (no index answers) or the derived image did not build: exit 1."""


@dataclass(frozen=True)
class Interpreter:
    """What a kit image's interpreter accepts: wheels are resolved for exactly this."""

    python: str  # "3.14"
    machine: str  # "x86_64", "aarch64"
    glibc: str  # "2.41"
    abiflags: str = ""  # "t" for a free-threaded build

    @property
    def abi(self) -> str:
        return f"cp{self.python.replace('.', '')}{self.abiflags}"

    def describe(self) -> str:
        return f"Python {self.python} on linux {self.machine} (glibc {self.glibc})"

    def platforms(self) -> list[str]:
        """Every platform tag the image's pip accepts, newest first: manylinux_2_N down to
        the oldest for this machine (with the legacy aliases wheels still carry), then linux_*.
        pip does not expand a ``--platform`` into older ones, so each is listed."""
        major, _, minor = self.glibc.partition(".")
        if major != "2" or not minor.isdigit():
            raise RequirementsError(f"the image's C library is not glibc ({self.glibc or 'unknown'}): "
                                    "the kit resolves manylinux wheels only")
        oldest = 5 if self.machine in ("x86_64", "i686") else 17
        alias = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        tags: list[str] = []
        for n in range(int(minor), oldest - 1, -1):
            tags.append(f"manylinux_2_{n}_{self.machine}")
            if n in alias:
                tags.append(f"{alias[n]}_{self.machine}")
        return [*tags, f"linux_{self.machine}"]

    def accepts(self, wheel_name: str) -> bool:
        """Does a wheel file's tag set hold one this interpreter takes?"""
        parts = wheel_name[:-4].split("-")
        if not wheel_name.endswith(".whl") or len(parts) < 5:
            return False
        pys, abis, plats = (set(p.split(".")) for p in parts[-3:])
        minor = int(self.python.split(".")[1])
        if not (plats & {"any", *self.platforms()}):
            return False
        if "none" in abis and ({"py3", f"py3{minor}"} & pys or f"cp3{minor}" in pys):
            return True
        if self.abi in abis and f"cp3{minor}" in pys:
            return True
        older = {f"cp3{m}" for m in range(2, minor + 1)}  # abi3 wheels serve every later CPython
        return "abi3" in abis and not self.abiflags and bool(older & pys)


@dataclass(frozen=True)
class Missing:
    """What pip could not find: the requirement as it printed it and the versions it did see."""

    spec: str  # "numpy==1.26.4", maybe "foo>=1 (from bar)"
    versions: tuple[str, ...]

    @property
    def requirement(self) -> str:
        return re.sub(r"\s*\(from [^)]*\)\s*$", "", self.spec).strip()


def parse_missing(stderr: str) -> Missing | None:
    """pip's "Could not find a version that satisfies the requirement X (from versions: ...)"."""
    found = re.search(r"satisfies the requirement (.+?) \(from versions: ([^)]*)\)", stderr)
    if found is None:
        found2 = re.search(r"No matching distribution found for (.+)", stderr)
        return Missing(found2.group(1).strip(), ()) if found2 else None
    versions = tuple(v.strip() for v in found.group(2).split(",") if v.strip() and v.strip() != "none")
    return Missing(found.group(1).strip(), versions)


def _pip_error(stderr: str) -> str:
    """pip's own ERROR lines, joined: its explanation of a failure."""
    lines = [ln[len("ERROR: "):].strip() for ln in stderr.splitlines() if ln.startswith("ERROR: ")]
    text = " ".join(lines) or (stderr.strip().splitlines() or ["(no output)"])[-1]
    return " ".join(text.split())[:400]


def _unreachable(stderr: str) -> bool:
    return bool(re.search(r"NewConnectionError|Temporary failure in name resolution|Max retries exceeded|"
                          r"Network is unreachable|ConnectTimeout", stderr))


def _pip(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The kit's own pip on the host (pip's cache and configuration apply)."""
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"]
    try:
        return subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise DepsBuildError(f"pip {args[0]} did not finish within {PIP_TIMEOUT_S:g} s: "
                             "is the package index slow? try again, or build the wheels yourself") from None


def compiled_sources(sdist: Path) -> list[str]:
    """Members of an sdist that are compiled code or its build recipe (empty: pure Python)."""
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as z:
            names = z.namelist()
    else:
        with tarfile.open(sdist) as t:
            names = t.getnames()
    return [n for n in names if Path(n).suffix.lower() in COMPILED_SUFFIXES or Path(n).name in COMPILED_FILES]


def is_pure(wheel_name: str) -> bool:
    """A wheel any Python 3 takes: ``py3-none-any`` (or ``py2.py3-none-any``)."""
    parts = wheel_name[:-4].split("-")
    return len(parts) >= 5 and "py3" in parts[-3].split(".") and parts[-2] == "none" and parts[-1] == "any"


def built_wheels() -> Path:
    """Wheels built here from pure-Python sdists, kept across runs and offered to pip as --find-links."""
    return cache_dir() / "built-wheels"


def _no_wheel(missing: Missing, target: Interpreter, why: str, files: Sequence[Path]) -> NoWheel:
    seen = missing.versions
    found = (f"versions with a wheel for it: {', '.join(seen[-5:])}" + (f" and {len(seen) - 5} older" if len(seen) > 5
             else "")) if seen else "no version has one"
    where = ", ".join(str(f) for f in files) or "the requirements"
    return NoWheel(
        f"{missing.spec} has no wheel for {target.describe()} ({found}){why}: pin a version that has one in {where}, "
        f"run on another Python (--targets docker:X.Y), or leave it out",
        package=missing.requirement, python=target.python)


def build_pure_wheel(missing: Missing, target: Interpreter, files: Sequence[Path], say: Progress) -> Path:
    """The sdist of ``missing`` built into a wheel on the host, kept in ``built_wheels()`` if it is
    ``py3-none-any``; ``NoWheel`` when there is no sdist or it is compiled code."""
    spec = missing.requirement
    with tempfile.TemporaryDirectory(prefix="kit-sdist-") as tmp:
        say(f"{target.python}: {spec} has no wheel; building its sdist on the host")
        got = _pip(["download", "--no-deps", "--no-binary=:all:", "--dest", f"{tmp}/sdist", spec])
        sdists = sorted(Path(tmp, "sdist").glob("*")) if got.returncode == 0 else []
        if not sdists:
            raise _no_wheel(missing, target, f" and no source distribution ({_pip_error(got.stderr)})", files)
        compiled = compiled_sources(sdists[0])
        if compiled:
            raise _no_wheel(missing, target, f" and its sdist is compiled code ({Path(compiled[0]).name}, ...)", files)
        built = _pip(["wheel", "--no-deps", "--wheel-dir", f"{tmp}/wheel", str(sdists[0])])
        wheels = sorted(Path(tmp, "wheel").glob("*.whl")) if built.returncode == 0 else []
        if not wheels:
            raise _no_wheel(missing, target, f" and its sdist did not build ({_pip_error(built.stderr)})", files)
        if not is_pure(wheels[0].name):
            raise _no_wheel(missing, target, f" and its sdist builds {wheels[0].name}, not pure Python", files)
        return keep(wheels[0], built_wheels() / wheels[0].name)


def local_projects(stdout: str) -> list[Path]:
    """Folders pip took as requirements ("Processing ./lp"): it resolves their dependencies but saves
    nothing for them, so their wheels are built here."""
    found = (Path(m.strip()) for m in re.findall(r"^Processing (.+)$", stdout, re.MULTILINE))
    return [p.resolve() for p in found if p.is_dir()]


def build_local_wheel(folder: Path, target: Interpreter, dest: Path) -> Path:
    """A local project (a folder named in a requirements file) built into a ``py3-none-any`` wheel in ``dest``."""
    with tempfile.TemporaryDirectory(prefix="kit-local-") as tmp:
        built = _pip(["wheel", "--no-deps", "--wheel-dir", tmp, str(folder)])
        wheels = sorted(Path(tmp).glob("*.whl")) if built.returncode == 0 else []
        if not wheels or not is_pure(wheels[0].name):
            what = f"builds {wheels[0].name}" if wheels else f"does not build ({_pip_error(built.stderr)})"
            raise RequirementsError(f"the local project {folder} {what}: only pure-Python projects are built on the "
                                    f"host for {target.describe()}; leave it out of the requirements (the project "
                                    "folder is copied in: pytest's pythonpath setting can import it from there)",
                                    path=str(folder))
        shutil.copy2(wheels[0], dest / wheels[0].name)
        return dest / wheels[0].name


def resolve(target: Interpreter, requirements: Sequence[Path], extra: Sequence[str], dest: Path,
            say: Progress) -> list[Path]:
    """Every wheel ``requirements`` and ``extra`` need in ``target``, downloaded into ``dest``."""
    platforms = [arg for p in target.platforms() for arg in ("--platform", p)]
    args = ["download", "--only-binary=:all:", "--python-version", target.python, "--implementation", "cp",
            "--abi", target.abi, *platforms, "--dest", str(dest), "--find-links", str(built_wheels()),
            *extra, *(a for f in requirements for a in ("-r", str(f)))]
    built: set[str] = set()
    for _ in range(MAX_SDISTS + 1):
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        done = _pip(args)
        if done.returncode == 0:
            for folder in local_projects(done.stdout):
                build_local_wheel(folder, target, dest)
            wheels = sorted(dest.glob("*.whl"))
            wrong = [w.name for w in wheels if not target.accepts(w.name)]
            if wrong:  # pip was told the tags; a wheel that does not fit is a bug to stop at, not to install
                raise RequirementsError(f"{', '.join(wrong)}: not for {target.describe()}; nothing was installed")
            return wheels
        if _unreachable(done.stderr):
            raise DepsBuildError(f"no package index answers from this machine ({_pip_error(done.stderr)}): the "
                                 "wheels for the container are resolved on the host; check the network or pip's "
                                 "index settings (pip config list)")
        missing = parse_missing(done.stderr)
        if missing is None:
            where = ", ".join(str(f) for f in requirements) or ", ".join(extra)
            raise RequirementsError(f"pip cannot resolve {where} for {target.describe()}: {_pip_error(done.stderr)}")
        if missing.versions or missing.requirement in built:
            # other versions have wheels for this Python: a compiled project that skipped this one
            raise _no_wheel(missing, target, "", requirements)
        built.add(missing.requirement)
        build_pure_wheel(missing, target, requirements, say)
    raise DepsBuildError(f"more than {MAX_SDISTS} sdists to build for {target.describe()}: give wheels instead")


# ---------------------------------------------------------------- the image side


_PROBED: dict[str, Interpreter] = {}


def interpreter(client: docker.DockerClient, image: str) -> Interpreter:
    """What the image's ``python`` is, asked of the image (once per image id; no network)."""
    image_id = client.images.get(image).id or image
    if image_id in _PROBED:
        return _PROBED[image_id]
    memo = cache_dir() / "interpreters.json"
    known: dict[str, dict[str, str]] = {}
    with contextlib.suppress(OSError, ValueError):
        known = json.loads(memo.read_text())
    facts = known.get(image_id)
    if facts is None:
        with container(client, image, ["python", "-c", PROBE]) as c:
            status = c.wait(timeout=120)
            out = c.logs(stdout=True, stderr=False).decode("utf-8", "replace").strip()
        if status.get("StatusCode") != 0 or not out:
            raise DepsBuildError(f"the image {image} did not say what its Python is (exit {status.get('StatusCode')})")
        facts = json.loads(out.splitlines()[-1])
        if facts.get("implementation") != "cpython":
            raise RequirementsError(f"{image} runs {facts.get('implementation')}, not CPython: no wheels resolved")
        known[image_id] = facts
        with contextlib.suppress(OSError):
            keep(json.dumps(known, indent=1, sort_keys=True).encode(), memo)
    found = Interpreter(facts["python"], facts["machine"], facts["glibc"], facts.get("abiflags", ""))
    _PROBED[image_id] = found
    return found


def derived_hash(base_id: str, target: Interpreter, wheels: Sequence[Path]) -> str:
    """What went in: the recipe, the base image's id, the Python, and each wheel's name and content."""
    h = hashlib.sha256()
    for part in (DOCKERFILE, base_id, target.python, target.abi):
        h.update(part.encode() + b"\0")
    for wheel in sorted(wheels, key=lambda w: w.name):
        h.update(wheel.name.encode() + b"\0" + hashlib.sha256(wheel.read_bytes()).digest())
    return h.hexdigest()[:12]


def _exists(client: docker.DockerClient, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _build(client: docker.DockerClient, base_image: str, wheels: Sequence[Path], tag: str,
           labels: dict[str, str]) -> None:
    """``docker build`` of ``DOCKERFILE`` on a context of the recipe and the wheels, with no network."""
    import docker.errors

    with tempfile.TemporaryDirectory(prefix="kit-deps-context-") as tmp:
        ctx = Path(tmp)
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        (ctx / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, ctx / "wheels" / wheel.name)
        try:
            with api_timeout(client, BUILD_TIMEOUT_S):
                client.images.build(path=str(ctx), tag=tag, rm=True, forcerm=True, pull=False, network_mode="none",
                                    buildargs={"BASE": base_image}, labels=labels)
        except docker.errors.BuildError as exc:
            lines = [str(chunk.get("stream", "")).rstrip() for chunk in exc.build_log if chunk.get("stream")]
            tail = " | ".join(ln for ln in lines[-6:] if ln)
            raise DepsBuildError(f"installing the requirements into {tag} failed: {exc.msg}; "
                                 f"last output: {tail}") from None


def image_with_requirements(
    client: docker.DockerClient,
    python: str,
    base_image: str,
    requirements: Sequence[Path],
    extra: Sequence[str] = ("pytest",),
    say: Progress | None = None,
) -> str:
    """``base_image`` (a ``kit:pyX.Y-HASH``) with ``extra`` and every ``requirements`` file installed:
    the tag of a derived image, built once and reused while the same wheels resolve.

    Raises ``NoWheel`` (a requirement with no wheel for that Python that is not pure Python),
    ``RequirementsError`` (a missing file, a conflict, an image whose Python is not ``python``)
    or ``DepsBuildError`` (no index answers, the build failed); nothing is built then.
    """
    say = say or (lambda _msg: None)
    files = [Path(f) for f in requirements]
    for f in files:
        if not f.is_file():
            raise RequirementsError(f"requirements file {f} does not exist", path=str(f))
    target = interpreter(client, base_image)
    if target.python != python:
        raise RequirementsError(f"{base_image} runs Python {target.python}, not {python}: wheels resolved for one "
                                "do not serve the other; rebuild the images (python -m kit images)")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kit-deps-") as tmp:
        wheels = resolve(target, files, list(extra), Path(tmp, "wheels"), say)
        base_id = client.images.get(base_image).id or base_image
        tag = f"{REPO}:py{python}-{derived_hash(base_id, target, wheels)}"
        say(f"{python}: {len(wheels)} wheels resolved in {time.perf_counter() - t0:.1f} s")
        if _exists(client, tag):
            say(f"{python}: {tag} up to date")
            return tag
        say(f"{python}: building {tag} on {base_image} ({', '.join(w.name for w in wheels)})")
        labels = {L_PYTHON: python, L_BASE: base_image, L_BASE_ID: base_id, L_HASH: tag.rpartition("-")[2],
                  L_WHEELS: "\n".join(w.name for w in wheels)}
        t1 = time.perf_counter()
        _build(client, base_image, wheels, tag, labels)
        say(f"{python}: built {tag} in {time.perf_counter() - t1:.1f} s")
    return tag


def derived_images(client: docker.DockerClient) -> list[str]:
    """Every ``kit-deps`` tag here (to list or remove; bases are never among them)."""
    return sorted(t for image in client.images.list(name=REPO) for t in image.tags if t.startswith(f"{REPO}:"))


# ---------------------------------------------------------------- listing and pruning


@dataclass(frozen=True)
class KitImage:
    """One kit image as ``kit images --list`` shows it: a base (``kit:*``, ``kit-base:*``) or a derived one."""

    id: str
    tags: tuple[str, ...]
    python: str  # "" when the image does not say (a kit-base image)
    created: float  # seconds since the epoch
    size: int  # bytes, shared layers included (as ``docker images`` counts)
    base: str = ""  # a derived image: the tag it was built on (kit:pyX.Y-HASH)
    base_id: str = ""  # a derived image: the id of that base, "" when no longer known

    @property
    def derived(self) -> bool:
        """Tagged ``kit-deps:`` only: an image that also carries a base's tag is a base."""
        return any(t.startswith(f"{REPO}:") for t in self.tags) and not any(
            t.startswith((f"{KIT_REPO}:", f"{BASE_REPO}:")) for t in self.tags)


@dataclass(frozen=True)
class Stale:
    """A derived image the prune rule chose, and why."""

    image: KitImage
    why: str


def stale_images(images: Sequence[KitImage], current: Mapping[str, str], keep: int = KEEP) -> list[Stale]:
    """The derived images to remove: those built on a base that is no longer ``kit:pyX.Y``
    (``current``: Python -> that image's id), then per Python all but the ``keep`` newest of the
    rest.  A Python with no ``kit:pyX.Y`` has nothing superseded; a base is never chosen."""
    chosen: list[Stale] = []
    kept: dict[str, list[KitImage]] = {}
    for image in images:
        if not image.derived:
            continue
        now = current.get(image.python)
        if now is not None and image.base_id != now:
            chosen.append(Stale(image, f"superseded: built on {image.base or 'an unknown base'}, "
                                       f"{KIT_REPO}:py{image.python} is another image now"))
        else:
            kept.setdefault(image.python, []).append(image)
    for python, group in sorted(kept.items()):
        newest_first = sorted(group, key=lambda i: (i.created, i.id), reverse=True)
        chosen += [Stale(i, f"older than the {keep} newest for Python {python}") for i in newest_first[keep:]]
    return chosen


def _created(text: str) -> float:
    """Docker's ``Created`` (RFC 3339 with nanoseconds) as seconds since the epoch."""
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text.strip()).replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def kit_images(client: docker.DockerClient) -> list[KitImage]:
    """Every tagged kit image here, bases and derived, oldest first.  A derived image built before it
    carried ``L_BASE_ID`` is given the id its ``L_BASE`` tag has now, if that tag is still here."""
    found: dict[str, KitImage] = {}
    by_tag: dict[str, str] = {}
    for repo in (BASE_REPO, KIT_REPO, REPO):
        for got in client.images.list(name=repo):
            tags = tuple(sorted(t for t in got.tags if t.partition(":")[0] in (BASE_REPO, KIT_REPO, REPO)))
            if not tags or not got.id:
                continue
            by_tag.update((t, got.id) for t in tags)
            labels = got.labels or {}
            found[got.id] = KitImage(got.id, tags, labels.get(L_PYTHON, ""), _created(got.attrs.get("Created", "")),
                                     int(got.attrs.get("Size") or 0), labels.get(L_BASE, ""),
                                     labels.get(L_BASE_ID, ""))
    out = []
    for image in found.values():
        if image.derived and not image.base_id:
            image = dataclasses.replace(image, base_id=by_tag.get(image.base, ""))
        out.append(image)
    return sorted(out, key=lambda i: (i.created, i.tags))


def current_bases(images: Sequence[KitImage]) -> dict[str, str]:
    """Python -> the id ``kit:pyX.Y`` points at now."""
    return {t.partition(":py")[2]: i.id for i in images for t in i.tags
            if t.startswith(f"{KIT_REPO}:py") and "-" not in t}


@dataclass
class Pruned:
    """What ``prune`` did: the images removed, those Docker kept (in use), the bytes freed."""

    removed: list[Stale] = field(default_factory=list)
    skipped: list[tuple[Stale, str]] = field(default_factory=list)
    freed: int = 0


def _layers(client: docker.DockerClient) -> int:
    return int(client.df().get("LayersSize") or 0)


def prune(client: docker.DockerClient, keep: int = KEEP, pythons: Collection[str] | None = None) -> Pruned:
    """Remove the derived images ``stale_images`` chooses (for ``pythons`` only, if given); one a
    container still uses (running or stopped) is skipped, as Docker refuses it.  ``freed``: the
    daemon's layer total before and after."""
    import docker.errors

    images = kit_images(client)
    done = Pruned()
    chosen = [s for s in stale_images(images, current_bases(images), keep) if not pythons or s.image.python in pythons]
    if not chosen:
        return done
    before = _layers(client)
    for stale in chosen:
        try:
            for tag in stale.image.tags:
                client.images.remove(tag)
        except docker.errors.APIError as exc:
            said = " ".join(str(exc.explanation or exc).split())[:200]
            done.skipped.append((stale, f"a container uses it ({said})" if exc.status_code == 409 else said))
        else:
            done.removed.append(stale)
    done.freed = max(0, before - _layers(client))
    return done
