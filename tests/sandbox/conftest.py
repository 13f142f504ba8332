"""Fixtures for the sandbox backend tests: real backends (never mocks) and the echo worker.

KG_REQUIRE_DOCKER=1 (CI sets it) turns "no Docker engine or image here" from a skip into a failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (REPO, HERE.parent):  # the checkout, and tests/ for kgtest (also in a bare `python -c`)
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from grader.protocol.wire import Channel  # noqa: E402
from sandbox import BACKENDS, Limits, WorkerSpec  # noqa: E402
from kgtest import processes_with, wait_gone  # noqa: E402,F401  (re-exported to the tests)

BACKEND_NAMES = ["local", "docker"]


def require_backend(name: str) -> None:
    ok, why = BACKENDS[name].available()
    if ok:
        return
    if name == "docker" and os.environ.get("KG_REQUIRE_DOCKER") == "1":
        pytest.fail(f"KG_REQUIRE_DOCKER=1 but the docker backend is unavailable: {why}")
    pytest.skip(f"{name} backend unavailable: {why}")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture
def sandbox(backend):
    return BACKENDS[backend]()


def echo_spec(**limits) -> WorkerSpec:
    env = limits.pop("env", {})
    files = limits.pop("files", {})
    connect_timeout_s = limits.pop("connect_timeout_s", 60.0)
    return WorkerSpec(module="echo_worker", pythonpath=[str(HERE), str(REPO)], env=env, files=files,
                      limits=Limits(**limits), connect_timeout_s=connect_timeout_s)


class Session:
    """A started worker and a Channel on it, closed at the end of the test."""

    def __init__(self, worker):
        self.worker = worker
        self.chan = Channel(worker.channel)

    def ask(self, timeout: float = 30.0, **req) -> dict:
        self.chan.send(req)
        return self.chan.recv(timeout=timeout)

    def wait_stopped(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.worker.poll()
            if code is not None:
                return code
            time.sleep(0.05)
        return None


@pytest.fixture
def start(sandbox):
    sessions: list[Session] = []

    def _start(spec: WorkerSpec | None = None, **limits) -> Session:
        s = Session(sandbox.start(spec or echo_spec(**limits)))
        sessions.append(s)
        return s

    yield _start
    for s in sessions:
        s.worker.close()


@pytest.fixture
def made_folders(monkeypatch) -> list[str]:
    """Every temporary folder created during the test (other sessions may share /dev/shm)."""
    made: list[str] = []
    real = tempfile.mkdtemp

    def recording(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    return made


