"""Build the ``kit:pyX.Y`` images, one per Python version, without any registry if need be.

Each image is ``docker/Dockerfile`` on a base that has that Python: the
official ``python:X.Y-slim`` when a registry answers, otherwise a Debian
root filesystem made by ``mmdebstrap`` from Debian's packages and imported
through the SDK as ``kit-base:debian-SUITE-pyX.Y``.  Containers have no
network, so the build context carries the wheels it installs: kit's, packed
here from the ``kit`` package that runs this code, and psutil's abi3 wheel,
downloaded once into the user's cache (``cache_dir()``).

The same code builds from a source checkout and from an installed kit
(``pip install .``, ``pipx install .``): the wheel carries ``docker/Dockerfile``
as ``kit/_docker/Dockerfile`` (pyproject.toml maps the package ``kit._docker``
to the folder ``docker/``), and the kit wheel is packed from the package's own
``*.py`` files, with no build backend and no network.

An image is tagged ``kit:pyX.Y`` and ``kit:pyX.Y-HASH``; HASH covers the
Dockerfile, the kit sources, the psutil wheel and the base image id, so a
second build with nothing changed is a lookup, and any change rebuilds.  The
sources are hashed by their path inside the package, so a checkout and a kit
installed from it give the same HASH.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kit import env
import kit
from kit.container.engine import api_timeout
from kit.progress import heartbeat

if TYPE_CHECKING:
    from docker.models.images import Image

    import docker

PYTHONS = ("3.11", "3.13", "3.14", "3.15")
DEBIAN_SUITE = {"3.11": "bookworm", "3.13": "trixie", "3.14": "forky", "3.15": "forky"}
BASE_KINDS = ("auto", "pull", "debian")
DEBIAN_MIRROR = os.environ.get(env.DEBIAN_MIRROR, "http://deb.debian.org/debian")
PSUTIL_REQUIREMENT = "psutil>=5.9"  # as in pyproject.toml's dependencies
REPO = "kit"
BASE_REPO = "kit-base"
PULL_TIMEOUT_S = 30.0  # per read: a registry that does not answer must fail fast, not hang
BUILD_TIMEOUT_S = 900.0
PACKAGE = Path(kit.__file__).resolve().parent  # a checkout's kit/ (editable installs too) or site-packages/kit
# The Dockerfile: the wheel's copy (installed kit), else the checkout's docker/ next to kit/.
DOCKERFILES = (PACKAGE / "_docker" / "Dockerfile", PACKAGE.parent / "docker" / "Dockerfile")
DOCKERFILE = next((p for p in DOCKERFILES if p.is_file()), DOCKERFILES[-1])
CONSOLE_SCRIPT = "kit = kit.cli:main"  # as in pyproject.toml's [project.scripts]
# The kit image's labels; containers inherit them.  None is ``kit`` itself: that one
# marks containers the kit started (see engine.LABEL).
L_PYTHON, L_HASH, L_SOURCE, L_BASE_KIND, L_BASE = (
    "kit.python", "kit.hash", "kit.source-hash", "kit.base-kind", "kit.base-image")

Progress = Callable[[str], None]


class ImageError(Exception):
    """An image cannot be had: the message says why and what to run."""


@dataclass(frozen=True)
class BuiltImage:
    """What ``build_images`` did for one Python version."""

    python: str
    tag: str  # kit:pyX.Y-HASH (kit:pyX.Y points at the same image)
    base_kind: str  # "pull" (python:X.Y-slim) or "debian" (mmdebstrap)
    base_image: str
    reused: bool  # True: up to date, nothing was built
    seconds: float  # the whole step for this version, base included
    base_seconds: float = 0.0  # pulling or debootstrapping the base (0 when it was there)


def debian_packages(python: str) -> list[str]:
    """What the Debian base needs: the interpreter, its venv/ensurepip (Debian splits
    them out, the Dockerfile makes a venv), and procps to look inside by hand."""
    return [f"python{python}", f"python{python}-venv", "procps"]


def debian_base_tag(python: str) -> str:
    """One base per (suite, Python): forky serves two Pythons, and a base is reused across builds."""
    return f"{BASE_REPO}:debian-{DEBIAN_SUITE[python]}-py{python}"


def _check_python(python: str) -> None:
    if python not in DEBIAN_SUITE:
        raise ImageError(f"no image recipe for Python {python!r}; known: {', '.join(PYTHONS)}")


def _get(client: docker.DockerClient, name: str) -> Image | None:
    import docker.errors

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


# ---------------------------------------------------------------- bases


def _pull(client: docker.DockerClient, python: str, progress: Progress) -> Image | None:
    """``python:X.Y-slim`` from a registry, or None (said why) when none answers."""
    import docker.errors
    import requests.exceptions

    # A Python still in pre-release has only "-rc-slim" on Docker Hub (3.15 in 2026).
    for tag in (f"{python}-slim", f"{python}-rc-slim"):
        progress(f"{python}: pulling python:{tag}")
        try:
            with api_timeout(client, PULL_TIMEOUT_S):
                image = client.images.pull("python", tag)
        except docker.errors.NotFound:
            progress(f"{python}: python:{tag} does not exist")
            continue
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            why = getattr(exc, "explanation", None) or str(exc)
            progress(f"{python}: pull failed: {' '.join(str(why).split())[:160]}")
            return None
        if tag != f"{python}-slim":
            image.tag("python", f"{python}-slim")  # the name the rest of the build uses
        return image
    return None


def _debootstrap(client: docker.DockerClient, python: str, progress: Progress) -> Image:
    """mmdebstrap's tar on stdout, streamed into ``import_image``: no tarball on disk.

    mmdebstrap is the one subprocess here (Docker itself goes through the SDK).
    ``Check-Valid-Until false``: the Release files of a snapshot or of testing
    can be past their Valid-Until; the packages are still signed.
    """
    tag = debian_base_tag(python)
    suite = DEBIAN_SUITE[python]
    if shutil.which("mmdebstrap") is None:
        raise ImageError(f"no base for Python {python}: no registry answered and mmdebstrap is not installed "
                         "(apt-get install mmdebstrap)")
    cmd = [
        "mmdebstrap", "--variant=apt", "--aptopt=Acquire::Check-Valid-Until \"false\"",
        f"--include={','.join(debian_packages(python))}", suite, "-", DEBIAN_MIRROR,
    ]
    progress(f"{python}: building base {tag.partition(':')[2]} with mmdebstrap ({suite}, "
             f"{len(debian_packages(python))} packages: it prints nothing for minutes)")
    repo, _, name = tag.partition(":")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        out = proc.stdout
        assert out is not None
        import_error: Exception | None = None
        try:
            chunks = iter(lambda: out.read(1 << 20), b"")
            with api_timeout(client, None), heartbeat(progress, f"{python}: mmdebstrap"):
                client.api.import_image(
                    src=chunks, repository=repo, tag=name, stream_src=True,
                    changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'],
                )
        except Exception as exc:  # noqa: BLE001 - a truncated tar: mmdebstrap's own error says more, below
            import_error = exc
        finally:
            out.close()  # if the import failed, mmdebstrap ends on SIGPIPE
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            log.seek(0)
            errors = [ln[2:].strip() for ln in log.read().decode("utf-8", "replace").splitlines()
                      if ln.startswith("E:") and "mmdebstrap failed to run" not in ln]
            tail = errors[:1]  # the first error is the cause, later ones are its consequences
            with contextlib.suppress(Exception):
                client.images.remove(tag, force=True)
            raise ImageError(f"mmdebstrap {suite} failed (exit {proc.returncode}): "
                             f"{tail[-1] if tail else 'see mmdebstrap output'}")
    if import_error is not None:
        raise ImageError(f"importing {tag} failed: {' '.join(str(import_error).split())[:200]}") from import_error
    image = _get(client, tag)
    if image is None:
        raise ImageError(f"import of {tag} did not produce an image")
    return image


def _base(client: docker.DockerClient, python: str, kind: str,
          progress: Progress) -> tuple[str, str, Image, float]:
    """(base_kind, name, image, seconds spent getting it) for one Python version."""
    slim, debian = f"python:{python}-slim", debian_base_tag(python)
    t0 = time.perf_counter()
    if kind == "auto":  # what is here already, then a registry, then Debian
        for k, name in (("pull", slim), ("debian", debian)):
            image = _get(client, name)
            if image is not None:
                progress(f"{python}: base {name} is here ({k})")
                return k, name, image, 0.0
    if kind in ("auto", "pull"):
        image = _pull(client, python, progress)
        if image is not None:
            return "pull", slim, image, time.perf_counter() - t0
        image = _get(client, slim)
        if image is not None:
            progress(f"{python}: using the local {slim}")
            return "pull", slim, image, 0.0
    image = _get(client, debian)
    if image is not None:
        progress(f"{python}: base {debian} is here (debian)")
        return "debian", debian, image, 0.0
    image = _debootstrap(client, python, progress)
    seconds = time.perf_counter() - t0
    progress(f"{python}: base {debian} done in {seconds:.0f} s")
    return "debian", debian, image, seconds


# ---------------------------------------------------------------- wheels and hashes


def _require_dockerfile() -> None:
    if not DOCKERFILE.is_file():
        raise ImageError("building images needs the Dockerfile, which a checkout has as docker/Dockerfile and "
                         f"an installed kit as kit/_docker/Dockerfile; neither {DOCKERFILES[0]} nor "
                         f"{DOCKERFILES[1]} exists: install the kit from its source (pip install .)")


def cache_dir() -> Path:
    """Where the kit keeps downloads: ``$KIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/kit``, else
    ``%LOCALAPPDATA%\\kit`` (set on Windows only), else ``~/.cache/kit``."""
    for var, sub in ((env.CACHE_DIR, ""), ("XDG_CACHE_HOME", "kit"), ("LOCALAPPDATA", "kit")):
        value = os.environ.get(var)
        if value:
            return Path(value, sub)
    return Path.home() / ".cache" / "kit"


def keep(data: Path | bytes, target: Path) -> Path:
    """Put a file into the user's cache whole: written under a hidden name beside ``target``, then
    renamed onto it.  Another kit at work (it lists the cache: ``psutil-*.whl``, pip's
    ``--find-links``) sees the file complete or not at all, never half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                with data.open("rb") as src:
                    shutil.copyfileobj(src, out)
        Path(tmp).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    return target


def wheel_cache() -> Path:
    """psutil's wheels for the images, downloaded once (``pip download``), kept across builds."""
    return cache_dir() / "wheels"


def kit_files() -> list[Path]:
    """The kit's sources as they go into an image: every ``*.py`` of the package, sorted."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.relative_to(PACKAGE).parts)


def _name(path: Path) -> str:
    """``kit/...``: the same for a checkout and for an install."""
    return path.relative_to(PACKAGE.parent).as_posix()


def source_hash() -> str:
    """Digest of what the kit image is made from on this side: the Dockerfile and kit/**/*.py.

    By path inside the package, not on disk: a checkout and a kit installed from it agree.
    """
    h = hashlib.sha256()
    h.update(b"Dockerfile\0" + (DOCKERFILE.read_bytes() if DOCKERFILE.is_file() else b"<missing>") + b"\0")
    for path in kit_files():
        h.update(_name(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def image_hash(python: str, base_id: str, wheels: Iterable[Path]) -> str:
    """The tag suffix: sources, the downloaded wheels (by content) and the base image id.

    The kit wheel is left out on purpose: it is packed from the sources, which are in.
    """
    h = hashlib.sha256()
    for part in (python, source_hash(), base_id):
        h.update(part.encode() + b"\0")
    for wheel in sorted(wheels):
        h.update(wheel.name.encode() + b"\0" + hashlib.sha256(wheel.read_bytes()).digest())
    return h.hexdigest()[:12]


def _wheel_fits(name: str, python: str, arch: str) -> bool:
    """Does a psutil wheel file name suit CPython ``python`` on manylinux ``arch``?"""
    parts = name[:-4].split("-")
    if len(parts) < 5 or parts[0] != "psutil":
        return False
    pys, abis, plats = (set(p.split(".")) for p in parts[-3:])
    nodot = python.replace(".", "")
    if not any(p.startswith("manylinux") and p.endswith(arch) for p in plats):
        return False
    if f"cp{nodot}" in pys and f"cp{nodot}" in abis:
        return True
    # abi3 wheels built for cp3X serve every CPython from 3.X on
    return "abi3" in abis and any(re.fullmatch(r"cp3\d+", p) and int(p[3:]) <= int(nodot[1:]) for p in pys)


def _arch(client: docker.DockerClient) -> str:
    machine = (client.info().get("Architecture") or "x86_64").lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def psutil_wheel(python: str, arch: str, progress: Progress) -> Path:
    """psutil's binary wheel for that Python, from ``wheel_cache()`` or downloaded there once."""
    cache = wheel_cache()
    cache.mkdir(parents=True, exist_ok=True)
    for wheel in sorted(cache.glob("psutil-*.whl"), reverse=True):
        if _wheel_fits(wheel.name, python, arch):
            return wheel
    progress(f"{python}: downloading the psutil wheel for CPython {python} ({arch}) into {cache}")
    with tempfile.TemporaryDirectory(prefix="kit-wheels-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", PSUTIL_REQUIREMENT, "--no-deps", "--only-binary=:all:",
               "--platform", f"manylinux2014_{arch}", "--python-version", python, "--implementation", "cp",
               "--dest", tmp, "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        got = sorted(Path(tmp).glob("psutil-*.whl"))
        if done.returncode != 0 or not got:
            last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise ImageError(f"cannot download a psutil wheel for Python {python}: {last}")
        return keep(got[0], cache / got[0].name)


def kit_wheel(dest: Path, progress: Progress) -> Path:
    """Pack the running kit's ``*.py`` files into a wheel: no build backend, no network, no pyproject.toml.

    A pure-Python wheel is a zip with a ``.dist-info`` folder; packing it here works the same
    from a checkout and from an installed kit (which has no pyproject.toml).  Fixed timestamps:
    the same sources give the same bytes.
    """
    progress("packing the kit wheel")
    version = kit.__version__
    dist = f"kit-{version}.dist-info"
    meta = {
        f"{dist}/METADATA": (f"Metadata-Version: 2.1\nName: kit\nVersion: {version}\n"
                             f"Requires-Python: >=3.9\nRequires-Dist: {PSUTIL_REQUIREMENT}\n"),
        f"{dist}/WHEEL": ("Wheel-Version: 1.0\nGenerator: kit.container.images\nRoot-Is-Purelib: true\n"
                          "Tag: py3-none-any\n"),
        f"{dist}/entry_points.txt": f"[console_scripts]\n{CONSOLE_SCRIPT}\n",
    }
    entries = [(_name(p), p.read_bytes()) for p in kit_files()]
    entries += [(name, text.encode()) for name, text in meta.items()]
    record = []
    path = dest / f"kit-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, data in entries:
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
            whl.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
        record.append(f"{dist}/RECORD,,")
        whl.writestr(zipfile.ZipInfo(f"{dist}/RECORD", (1980, 1, 1, 0, 0, 0)), "\n".join(record) + "\n",
                     zipfile.ZIP_DEFLATED)
    return path


# ---------------------------------------------------------------- the kit image


def _build(client: docker.DockerClient, python: str, base_name: str, wheels: list[Path],
           labels: dict[str, str], tag: str, progress: Progress) -> Image:
    """``docker build`` of the Dockerfile in a temporary context holding only it and ``wheels/``."""
    import docker.errors

    with tempfile.TemporaryDirectory(prefix="kit-context-") as tmp:
        ctx = Path(tmp)
        shutil.copy2(DOCKERFILE, ctx / "Dockerfile")
        (ctx / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, ctx / "wheels" / wheel.name)
        try:
            with api_timeout(client, BUILD_TIMEOUT_S), heartbeat(progress, f"{python}: installing wheels"):
                image, _ = client.images.build(
                    path=str(ctx), tag=tag, rm=True, forcerm=True, pull=False,
                    network_mode="none",  # the context carries everything: prove it
                    buildargs={"BASE": base_name, "PYTHON": f"python{python}"}, labels=labels,
                )
        except docker.errors.BuildError as exc:
            lines = [str(chunk.get("stream", "")).rstrip() for chunk in exc.build_log if chunk.get("stream")]
            tail = " | ".join(ln for ln in lines[-5:] if ln)
            raise ImageError(f"building {tag} failed: {exc.msg}; last output: {tail}") from None
    return image


def _drop_older(client: docker.DockerClient, python: str, keep: str) -> None:
    """Untag earlier ``kit:pyX.Y-HASH`` images so rebuilds do not pile up (one in use stays)."""
    import docker.errors

    for image in client.images.list(name=REPO):
        for tag in image.tags:
            if tag.startswith(f"{REPO}:py{python}-") and tag != keep:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(tag)


def build_images(
    client: docker.DockerClient,
    pythons: Iterable[str] = PYTHONS,
    base: str = "auto",
    progress: Progress | None = None,
) -> list[BuiltImage]:
    """Make sure ``kit:pyX.Y`` is up to date for each version; build only what changed.

    ``base``: ``"pull"`` pulls ``python:X.Y-slim`` (a fresh pull each time),
    falling back to a local copy, then to Debian; ``"debian"`` uses (or
    builds once) ``kit-base:debian-SUITE-pyX.Y``; ``"auto"`` takes whichever
    base is already here (slim first), else behaves as ``"pull"``.
    """
    if base not in BASE_KINDS:
        raise ImageError(f"unknown base {base!r}; one of {', '.join(BASE_KINDS)}")
    say: Progress = progress or (lambda _msg: None)
    pythons = list(pythons)
    for python in pythons:
        _check_python(python)
    _require_dockerfile()
    arch = _arch(client)
    out: list[BuiltImage] = []
    with tempfile.TemporaryDirectory(prefix="kit-wheel-") as tmp:
        kit_whl: Path | None = None  # built at most once, and only if some image needs it
        for python in pythons:
            t0 = time.perf_counter()
            kind, base_name, base_image, base_s = _base(client, python, base, say)
            psutil_whl = psutil_wheel(python, arch, say)
            digest = image_hash(python, base_image.id or base_name, [psutil_whl])
            tag, moving = f"{REPO}:py{python}-{digest}", f"{REPO}:py{python}"
            image = _get(client, tag)
            reused = image is not None
            if image is not None:
                say(f"{python}: {tag} up to date (base {base_name}, {kind})")
            else:
                if kit_whl is None:
                    kit_whl = kit_wheel(Path(tmp), say)
                say(f"{python}: installing wheels: building {tag} on {base_name} ({kind})")
                labels = {L_PYTHON: python, L_HASH: digest, L_SOURCE: source_hash(),
                          L_BASE_KIND: kind, L_BASE: base_name}
                image = _build(client, python, base_name, [kit_whl, psutil_whl], labels, tag, say)
            image.tag(REPO, f"py{python}")
            if not reused:
                _drop_older(client, python, tag)
            seconds = time.perf_counter() - t0
            if not reused:
                say(f"{python}: done in {seconds:.0f} s: {tag} ({moving} points at it)")
            out.append(BuiltImage(python, tag, kind, base_name, reused, round(seconds, 2), round(base_s, 2)))
    return out


def image_for(client: docker.DockerClient, python: str) -> str:
    """The tag to run for ``python``: its ``kit:pyX.Y-HASH``, if built from today's kit sources."""
    _check_python(python)
    hint = f"run python -m kit images --python {python}"
    image = _get(client, f"{REPO}:py{python}")
    if image is None:
        raise ImageError(f"no kit image for Python {python}: {hint}")
    labels = image.labels or {}
    if DOCKERFILE.is_file() and labels.get(L_SOURCE) != source_hash():
        raise ImageError(f"{REPO}:py{python} was built from other kit sources: {hint}")
    digest = labels.get(L_HASH)
    return f"{REPO}:py{python}-{digest}" if digest else f"{REPO}:py{python}"
