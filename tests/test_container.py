"""The Docker half, against a real daemon: images, a batch run, and that no container is ever left.

Skipped when no daemon answers, unless ``KIT_REQUIRE_DOCKER=1`` (CI with
Docker), where a missing daemon is a failure.  The first run builds the
3.11 image (about 30 s from Debian's packages when no registry answers);
later runs reuse it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kit.container import EngineUnavailable, connect, container, leftovers
from kit.matrix import ALL_METHODS

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.11"


@pytest.fixture(scope="module")
def client():
    try:
        c = connect()
    except EngineUnavailable as exc:
        if os.environ.get("KIT_REQUIRE_DOCKER") == "1":
            pytest.fail(f"KIT_REQUIRE_DOCKER=1 but {exc.reason}")
        pytest.skip(exc.reason)
    yield c
    c.close()


@pytest.fixture(scope="module")
def image(client) -> str:
    from kit.container.images import build_images

    (built,) = build_images(client, [PYTHON], base="auto")
    assert built.python == PYTHON and built.base_kind in ("pull", "debian")
    return built.tag


@pytest.fixture
def no_leftovers(client):
    """Each test starts and must end with no ``kit``-labelled container."""
    assert leftovers(client) == []
    yield
    assert leftovers(client) == [], "a container labelled kit was left behind"


def test_second_build_reuses_the_image(client, image):
    from kit.container.images import build_images, image_for

    said: list[str] = []
    t0 = time.monotonic()
    (again,) = build_images(client, [PYTHON], base="auto", progress=said.append)
    assert again.reused and again.tag == image
    assert any("up to date" in line for line in said), said
    assert time.monotonic() - t0 < 30
    assert image_for(client, PYTHON) == image
    assert client.images.get(f"kit:py{PYTHON}").id == client.images.get(image).id


def test_image_for_an_image_never_built_says_what_to_run(client, monkeypatch):
    from kit.container import images

    monkeypatch.setattr(images, "REPO", "kit-never-built")
    with pytest.raises(images.ImageError, match="python -m kit images"):
        images.image_for(client, PYTHON)
    with pytest.raises(images.ImageError, match="3.11, 3.13"):
        images.image_for(client, "3.9")


def test_hello_and_cpu_in_a_container(client, image, no_leftovers):
    from kit.container.run import run_in_container

    lines: list[str] = []
    rs = run_in_container(client, PYTHON, ["hello", "cpu"], ALL_METHODS, scale=0.1, timeout_s=60,
                          image=image, progress=lines.append)
    assert [(r.example, r.method) for r in rs] == [(e, m) for e in ("hello", "cpu") for m in ALL_METHODS]
    for r in rs:
        assert r.platform is not None
        assert r.platform.python.startswith(PYTHON + ".")
        assert r.platform.target == f"docker:{PYTHON}"
        assert r.platform.os == "Linux"
        assert r.status == "pass", f"{r.example}/{r.method}: {r.status}: {r.reason}"
    assert any("hello" in line and "pass" in line for line in lines), lines  # progress was streamed
    assert not any("containers skipped" in line for line in lines), lines  # the kit inside runs its host only
    assert any(line.startswith("docker:3.11: ") for line in lines), lines  # and names itself by KIT_TARGET


def test_container_removed_after_normal_exit(client, image, no_leftovers):
    with container(client, image, ["python", "-c", "print('ok')"]) as c:
        assert c.wait(timeout=60)["StatusCode"] == 0
        assert c.logs(stdout=True, stderr=False).strip() == b"ok"
        assert c.labels.get("kit") == "1"


def test_container_removed_after_an_exception_inside(client, image, no_leftovers):
    with pytest.raises(RuntimeError, match="boom"), container(client, image, ["sleep", "60"]) as c:
        assert [x.id for x in leftovers(client)] == [c.id]
        raise RuntimeError("boom")


def test_container_removed_after_a_wait_timeout(client, image, no_leftovers):
    import requests.exceptions

    t0 = time.monotonic()
    timed_out = (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError)
    with pytest.raises(timed_out), container(client, image, ["sleep", "60"]) as c:
        c.wait(timeout=1)
    assert time.monotonic() - t0 < 20


def test_container_removed_after_keyboard_interrupt(client, image, no_leftovers):
    with pytest.raises(KeyboardInterrupt), container(client, image, ["sleep", "60"]):
        raise KeyboardInterrupt


def test_overall_timeout_kills_the_container_and_reports_timeouts(client, image, no_leftovers):
    from kit.container.run import run_in_container

    t0 = time.monotonic()
    rs = run_in_container(client, PYTHON, ["cpu"], ["fork", "spawn"], scale=1.0, timeout_s=60,
                          overall_s=2, image=image)
    assert time.monotonic() - t0 < 20
    assert [(r.example, r.method, r.status) for r in rs] == [("cpu", "fork", "timeout"), ("cpu", "spawn", "timeout")]
    assert all(r.platform.target == f"docker:{PYTHON}" for r in rs)
    assert "2 s" in rs[0].reason


def test_a_failing_cell_is_a_result_not_an_error(client, image, no_leftovers):
    """The kit exits 1 when a cell fails; the batch still parses (a tiny per-cell timeout makes cpu fail)."""
    from kit.container.run import run_in_container

    rs = run_in_container(client, PYTHON, ["cpu"], ["fork"], scale=1.0, timeout_s=0.5, image=image)
    assert [(r.example, r.status) for r in rs] == [("cpu", "timeout")]
    assert rs[0].platform.python.startswith(PYTHON + ".")  # from inside: the kit's own result


def test_connect_to_an_unreachable_daemon_gives_one_line(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    with pytest.raises(EngineUnavailable) as info:
        connect(timeout=5)
    reason = info.value.reason
    assert reason and "\n" not in reason and len(reason) < 300
    if "install the docker package" not in reason:  # SDK present: the daemon is what is missing
        assert "127.0.0.1:1" in reason


def test_sdk_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker -> ImportError
    with pytest.raises(EngineUnavailable, match="install the docker package"):
        connect()


def test_repo_docker_folder_shadowing_a_missing_sdk(tmp_path):
    """Without the SDK, ``import docker`` from the repo root finds the docker/ folder as a namespace package."""
    (tmp_path / "docker").mkdir()
    code = textwrap.dedent("""
        import sys
        sys.path[:] = [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
        sys.path.insert(0, %r)
        sys.path.insert(0, %r)
        from kit.container import EngineUnavailable, connect
        try:
            connect()
        except EngineUnavailable as exc:
            print(exc.reason)
        else:
            print("connected?")
    """) % (str(ROOT), str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    assert "\n" not in out
    assert "install the docker package" in out, out
    assert "folder" in out


def test_a_kit_that_prints_no_results_gives_error_results(client, image, no_leftovers):
    """Exit status 2 (bad input) and no JSON: every cell is an ``error`` saying why."""
    from kit.container.run import run_in_container

    rs = run_in_container(client, PYTHON, ["no_such_example"], ["fork"], timeout_s=10, image=image)
    assert [(r.example, r.method, r.status) for r in rs] == [("no_such_example", "fork", "error")]
    assert "exited with status 2" in rs[0].reason and "unknown example" in rs[0].reason, rs[0].reason
    assert rs[0].platform.target == f"docker:{PYTHON}"


def test_a_daemon_of_windows_containers_is_refused(monkeypatch):
    """Docker on a Windows runner answers, but runs Windows containers: say so, don't try to pull."""
    import docker

    class WindowsDaemon:
        closed = False

        def ping(self):
            return True

        def info(self):
            return {"OSType": "windows"}

        def close(self):
            WindowsDaemon.closed = True

    monkeypatch.setattr(docker, "from_env", lambda **kwargs: WindowsDaemon())
    with pytest.raises(EngineUnavailable) as info:
        connect()
    assert "runs windows containers" in info.value.reason and "\n" not in info.value.reason
    assert WindowsDaemon.closed
