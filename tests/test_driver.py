"""``kit.container.driver``: how a container ended, the wait that honours a stop, the stream, the
removal; against a stand-in for the Docker SDK (no daemon), then a real container (``--run-docker``)."""
from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests.exceptions

from kit.container.driver import DONE_MARK, Driver, Exited, Stopped, TimedOut, exited, keepable
from kit.runner import STOP


# -- how it ended ----------------------------------------------------------------------------------
@pytest.mark.parametrize("code, error, words", [
    (0, "", "exited with status 0"),
    (1, "", "exited with status 1"),
    (137, "", "was killed by SIGKILL (exit status 137)"),
    (143, "", "was killed by SIGTERM (exit status 143)"),
    (255, "", "exited with status 255"),  # no signal 127: a plain status
    (1, "OCI runtime error", "exited with status 1; OCI runtime error"),
])
def test_how_it_ended_in_words(code: int, error: str, words: str) -> None:
    assert Exited(code, error).words() == words


def test_the_daemons_answer_is_read() -> None:
    assert exited({"StatusCode": 3, "Error": None}) == Exited(3)
    assert exited({"StatusCode": 1, "Error": {"Message": "no space"}}) == Exited(1, "no space")
    assert exited({}) == Exited(-1)  # no status at all: not mistaken for a success


def test_timed_out_and_stopped_say_so() -> None:
    assert TimedOut(2.5).words() == "did not finish within 2.5 s"
    assert Stopped(15).words() == "was stopped (SIGTERM)"


@pytest.mark.slow
def test_keepable_adds_the_done_mark_and_keeps_the_status() -> None:
    done = subprocess.run(keepable(["sh", "-c", "echo hi; exit 0"]), capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n", f"{DONE_MARK} 0\n")


# -- a stand-in for the SDK --------------------------------------------------------------------------
class FakeContainer:
    """Waits ``runs_s`` (each wait answers a timeout until then), then ``status`` (a dict)."""

    short_id = "fake123"

    def __init__(self, runs_s: float = 0.0, code: int = 0, chunks: tuple[bytes, ...] = (), state: str = "running"):
        self.t0 = time.monotonic()
        self.runs_s, self.code, self.chunks = runs_s, code, chunks
        self.status = state
        self.removed = self.killed = self.started = False

    def start(self) -> None:
        self.started = True

    def wait(self, timeout: float) -> dict[str, Any]:
        left = self.runs_s - (time.monotonic() - self.t0)
        if self.killed or left <= 0:
            return {"StatusCode": 137 if self.killed else self.code, "Error": None}
        time.sleep(min(left, timeout))
        if left > timeout:
            raise requests.exceptions.ReadTimeout("read timed out")
        return {"StatusCode": self.code, "Error": None}

    def kill(self) -> None:
        self.killed = True

    def reload(self) -> None:
        pass

    def remove(self, force: bool, v: bool) -> None:
        self.removed = True

    def logs(self, stdout: bool, stderr: bool, stream: bool = False, follow: bool = False) -> Any:
        if stream:
            return iter(self.chunks)
        return b"out\n" if stdout else b"".join(self.chunks)


class FakeClient:
    def __init__(self, c: FakeContainer) -> None:
        self.c = c
        self.created: dict[str, Any] = {}
        self.api = type("Api", (), {"timeout": 10})()
        self.containers = self

    def create(self, image: str, command: list[str], **options: Any) -> FakeContainer:
        self.created = {"image": image, "command": command, **options}
        return self.c


@pytest.fixture
def stop() -> Iterator[None]:
    """``STOP`` as it was, whatever the test did to it."""
    before = STOP.signum
    yield
    STOP.signum = before


def test_a_container_is_labelled_started_and_removed() -> None:
    c = FakeContainer(code=2)
    client = FakeClient(c)
    with Driver(client, "img", ["true"], labels={"kit.python": "3.14"}) as run:  # type: ignore[arg-type]
        assert c.started and not c.removed
        assert run.wait(10) == Exited(2)
        assert run.logs().stdout == "out\n"
    assert c.removed
    assert client.created["labels"] == {"kit.python": "3.14", "kit": "1"} and client.created["read_only"]


def test_a_kept_container_is_not_removed() -> None:
    c = FakeContainer()
    with Driver(FakeClient(c), "img", ["true"]) as run:  # type: ignore[arg-type]
        run.keep()
    assert not c.removed


def test_a_wait_past_its_time_is_timed_out_and_kill_kills() -> None:
    c = FakeContainer(runs_s=60)
    t0 = time.monotonic()
    with Driver(FakeClient(c), "img", ["sleep", "60"]) as run:  # type: ignore[arg-type]
        assert run.wait(1.5) == TimedOut(1.5)
        assert 1.0 < time.monotonic() - t0 < 5
        run.kill()
    assert c.killed and c.removed


def test_a_stop_ends_the_wait_within_a_poll(stop: None) -> None:
    """Asked from another thread (a signal handler sets STOP): the wait answers Stopped, not a timeout."""
    c = FakeContainer(runs_s=60)
    threading.Timer(0.5, STOP.request, args=(15,)).start()
    t0 = time.monotonic()
    with Driver(FakeClient(c), "img", ["sleep", "60"]) as run:  # type: ignore[arg-type]
        assert run.wait(60) == Stopped(15)
    assert time.monotonic() - t0 < 5 and c.removed


def test_the_stream_hands_over_whole_lines() -> None:
    c = FakeContainer(chunks=(b"one\ntw", b"o\nthr", b"ee"))
    lines: list[str] = []
    with Driver(FakeClient(c), "img", ["true"]) as run:  # type: ignore[arg-type]
        run.stream(lines.append)
        run.wait(10)
    assert lines == ["one", "two", "three"]


def test_keep_on_failure_ends_the_wait_on_the_done_mark() -> None:
    """The container lives on after a failure (it sleeps): the mark's status is how it ended."""
    c = FakeContainer(runs_s=60, chunks=(b"progress\n", f"{DONE_MARK} 1\n".encode()))
    lines: list[str] = []
    with Driver(FakeClient(c), "img", ["false"], keep_on_failure=True) as run:  # type: ignore[arg-type]
        assert run.command[:2] == ["sh", "-c"] and DONE_MARK in run.command[2]
        run.stream(lines.append)
        assert run.wait(10) == Exited(1)
        run.keep()
    assert lines == ["progress"]  # the mark is the driver's
    assert not c.removed


def test_keep_on_failure_without_a_mark_times_out() -> None:
    c = FakeContainer(runs_s=60)
    with Driver(FakeClient(c), "img", ["sleep", "60"], keep_on_failure=True) as run:  # type: ignore[arg-type]
        assert run.wait(1.0) == TimedOut(1.0)
        run.kill()
    assert c.removed


# -- a real container ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real() -> Iterator[tuple[Any, str]]:
    """A client and any kit image here (the command is tiny: no kit of today's sources needed)."""
    from kit.container import EngineUnavailable, connect

    try:
        client = connect()
    except EngineUnavailable as exc:
        pytest.skip(exc.reason)
    tags = [t for i in client.images.list() for t in i.tags if t.startswith(("kit:py", "kit-base:"))]
    if not tags:
        client.close()
        pytest.skip("no kit image here: python -m kit images")
    yield client, sorted(tags)[0]
    client.close()


@pytest.mark.docker
def test_a_real_container_streams_ends_and_is_removed(real: tuple[Any, str]) -> None:
    from kit.container import leftovers

    client, image = real
    lines: list[str] = []
    with Driver(client, image, ["sh", "-c", "echo one >&2; echo out; echo two >&2; exit 3"]) as run:
        run.stream(lines.append)
        ending = run.wait(60)
        logs = run.logs()
        cid = run.container.id
    assert ending == Exited(3) and ending.words() == "exited with status 3"
    assert (logs.stdout, logs.stderr) == ("out\n", "one\ntwo\n")
    assert lines == ["one", "two"]
    assert cid not in [c.id for c in leftovers(client)]  # other kit containers may be running beside


@pytest.mark.docker
def test_a_real_container_timed_out_is_killed_and_removed(real: tuple[Any, str], stop: None) -> None:
    from kit.container import leftovers

    client, image = real
    t0 = time.monotonic()
    with Driver(client, image, ["sleep", "60"]) as run:
        assert run.wait(2) == TimedOut(2)
        threading.Timer(0.5, STOP.request, args=(2,)).start()
        assert run.wait(60) == Stopped(2)
        run.kill()
        cid = run.container.id
    assert time.monotonic() - t0 < 30
    assert cid not in [c.id for c in leftovers(client)]
