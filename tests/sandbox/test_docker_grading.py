"""`grader check --sandbox docker` end to end, each verdict compared with `--sandbox local`.

Real subprocesses, a real engine and image; solutions are plain PyTorch (nothing to compile), so
each grading takes seconds. Skipped without an engine or image unless KG_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO, require_backend, wait_gone
from kgtest import grader_env, report_of
from sandbox.common import remove_tree
from sandbox.local import namespaces_available

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROBLEM = REPO / "tests" / "fixtures" / "add_problem.py"
XDIST = bool(os.environ.get("PYTEST_XDIST_WORKER"))   # another test process may run Docker gradings too
FAST = ["--device", "cpu", "--no-compile-baseline", "--max-timing-s", "0.3", "--trials", "2", "--json"]

HEAD = "import torch\nimport torch.nn as nn\n"
SOLUTIONS = {
    "pass": HEAD + "class ModelNew(nn.Module):\n    def forward(self, a, b):\n        return a + b\n",
    "incorrect": HEAD + "class ModelNew(nn.Module):\n    def forward(self, a, b):\n        return a - b\n",
    "timeout": HEAD + ("class ModelNew(nn.Module):\n    def forward(self, a, b):\n"
                       "        while True:\n            pass\n"),
    "memory": HEAD + (
        "class ModelNew(nn.Module):\n"
        "    def forward(self, a, b):\n"
        "        hoard = []\n"
        "        for _ in range(512):\n"
        "            hoard.append(torch.ones(4 << 20))  # 16 MiB each, written\n"
        "        return a + b\n"),
    "network": HEAD + (
        "import socket\n"
        "def _reachable(host, port):\n"
        "    if not host.startswith('127.') and sorted(n for _, n in socket.if_nameindex()) != ['lo']:\n"
        "        return True  # an interface is there: count it as network without sending a packet\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=3).close()\n"
        "        return True\n"
        "    except OSError:\n"
        "        return False\n"
        "class ModelNew(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        for host, port in [('127.0.0.1', PORT), ('1.1.1.1', 53)]:\n"
        "            if _reachable(host, port):\n"
        "                raise RuntimeError(f'NETWORK REACHABLE: {host}:{port}')\n"
        "    def forward(self, a, b):\n"
        "        return a + b\n"),
    "forkbomb": HEAD + (
        "import subprocess, sys, time\n"
        "BOMB = 'import os, time\\nwhile True:\\n    try:\\n        os.fork()\\n    except OSError:\\n        pass\\n"
        "    time.sleep(0.005)\\n'\n"
        "subprocess.Popen([sys.executable, '-c', BOMB, 'MARKER'], start_new_session=True)\n"
        "class ModelNew(nn.Module):\n"
        "    def forward(self, a, b):\n"
        "        time.sleep(0.05)\n"
        "        return a + b\n"),
}
EXPECTED = {"pass": "passed", "incorrect": "incorrect", "timeout": "timeout", "memory": "resource_limit",
            "network": "passed", "forkbomb": "resource_limit"}
EXTRA = {"timeout": ["--timeout", "10"], "memory": ["--memory-limit-mb", "1024"]}


@pytest.fixture(scope="module", autouse=True)
def _docker():
    require_backend("docker")


@pytest.fixture
def short_dir():
    """Scratch folders with short paths: the local worker dials its socket by full path (108 bytes at most)."""
    made = []

    def make(_name: str) -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="kgs-", dir="/tmp")))
        return made[-1]

    yield make
    for d in made:
        remove_tree(d)


def docker_client():
    import docker
    return docker.from_env()


def start_grading(solution: Path, sandbox: str, *extra: str, scratch: Path, **popen) -> subprocess.Popen:
    """`grader check` as a user runs it, its workers' folders under `scratch`."""
    return subprocess.Popen([sys.executable, "-m", "grader", "check", str(solution), "--problem", str(PROBLEM),
                             "--sandbox", sandbox, *FAST, *extra], cwd=REPO,
                            env=grader_env({"KG_SANDBOX_DIR": str(scratch)}), **popen)


def grade(solution: Path, sandbox: str, *extra: str, scratch: Path) -> tuple[dict, int]:
    """Run `grader check` to the end; returns the report and the grader's pid."""
    proc = start_grading(solution, sandbox, *extra, scratch=scratch, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    return report_of(out, err), proc.pid


def assert_nothing_left(scratch: Path, grader_pid: int) -> None:
    assert list(scratch.iterdir()) == [], f"folders left behind: {list(scratch.iterdir())}"
    left = docker_client().containers.list(all=True, filters={"label": f"org.kgrader.owner-pid={grader_pid}"})
    assert left == [], f"containers left behind: {left}"


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.floods) if c == "forkbomb" else c
                                  for c in SOLUTIONS])
def test_docker_verdict_matches_local(case, tmp_path, short_dir):
    marker = f"kggrade-{uuid.uuid4().hex}"
    server = accepted = None
    source = SOLUTIONS[case].replace("MARKER", marker)
    if case == "network":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.2)
        accepted = []
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    accepted.append(server.accept()[0])
                except OSError:
                    pass

        threading.Thread(target=serve, daemon=True).start()
        source = source.replace("PORT", str(server.getsockname()[1]))
    solution = tmp_path / f"{case}.py"
    solution.write_text(source)

    verdicts = {}
    try:
        for sandbox in ("docker", "local"):
            if sandbox == "local" and case in ("network", "forkbomb") and not namespaces_available():
                continue  # the local backend contains these only inside namespaces
            scratch = short_dir(sandbox)
            report, pid = grade(solution, sandbox, *EXTRA.get(case, []), scratch=scratch)
            assert report["sandbox"] == sandbox
            verdicts[sandbox] = report["status"]
            assert report["status"] == EXPECTED[case], f"{sandbox}: {report['status']}: {report['message']}"
            assert_nothing_left(scratch, pid)
            assert wait_gone(marker, 15) == [], f"{sandbox}: processes of the solution survived the grading"
    finally:
        if server is not None:
            stop.set()
            server.close()
    if accepted is not None:
        assert accepted == [], "a worker reached the host's loopback server"
    assert len(set(verdicts.values())) == 1, verdicts


def test_crashed_docker_grader_is_cleaned_up_by_the_next(tmp_path, short_dir):
    """SIGKILL a grader mid-grading: its containers are reaped by the next grader, folders included."""
    solution = tmp_path / "spin.py"
    solution.write_text(SOLUTIONS["timeout"])
    scratch = short_dir("crash")
    proc = start_grading(solution, "docker", "--timeout", "120", scratch=scratch,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = docker_client()
    label = {"label": f"org.kgrader.owner-pid={proc.pid}"}
    deadline = time.monotonic() + 120
    while len(client.containers.list(filters=label)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(client.containers.list(filters=label)) == 2, "the grader never started its two workers"
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Orphaned until the next grader; under pytest-xdist a Docker grading in the other test process may be
    # that next grader already, so both counts may have dropped to none by now.
    assert len(client.containers.list(all=True, filters=label)) in ((0, 2) if XDIST else (2,))
    assert len(list(scratch.iterdir())) in ((0, 2) if XDIST else (2,))

    other = tmp_path / "pass.py"
    other.write_text(SOLUTIONS["pass"])
    report, pid = grade(other, "docker", scratch=scratch)
    assert report["status"] == "passed"
    assert client.containers.list(all=True, filters=label) == []
    assert_nothing_left(scratch, pid)
