"""What every sandbox backend must do, checked against the real thing with the echo worker.

test_local.py and test_docker.py import these tests and pin the `backend` fixture, so the two
backends are held to the same behaviour; each file adds what only its backend promises.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import HERE, REPO, echo_spec, processes_with, wait_gone
from grader.protocol.wire import ProtocolError
from sandbox import BACKENDS, SandboxError, WorkerSpec
from sandbox.common import MULTICAST_ENV, remove_tree
from sandbox.local import namespaces_available
from sandbox.toolchain import TOOLCHAIN_ENV


def _network_isolated(backend: str) -> bool:
    return backend != "local" or namespaces_available()


def _kill_tree_contained(backend: str) -> bool:
    """Whether processes that leave the worker's session still die with it."""
    return backend != "local" or namespaces_available()


# -- the channel and the folders ------------------------------------------------------------------

def test_channel_round_trips_frames(start):
    s = start()
    assert s.ask(op="echo", data="hello") == {"op": "echo", "data": "hello"}
    big = "z" * (3 << 20)  # several socket buffers' worth
    assert s.ask(op="echo", data=big)["data"] == big
    for i in range(50):
        assert s.ask(op="echo", data=i)["data"] == i
    assert s.worker.poll() is None
    assert s.worker.stop_cause() is None


def test_files_readable_and_exchange_shared(start, tmp_path):
    given = tmp_path / "given.txt"
    given.write_text("from the caller")
    s = start(files={"given": str(given)})
    assert s.ask(op="read", path=s.worker.paths["given"]) == {"ok": True, "value": "from the caller"}

    inside = s.ask(op="env")["env"]["KG_EXCHANGE"]
    (s.worker.exchange / "to_worker").write_text("host wrote this")
    assert s.ask(op="read", path=f"{inside}/to_worker")["value"] == "host wrote this"
    assert s.ask(op="write", path=f"{inside}/to_host", data="worker wrote this")["ok"]
    assert (s.worker.exchange / "to_host").read_text() == "worker wrote this"


def test_python_path_shows_packages_not_the_checkout(start, backend):
    from sandbox.local import isolation

    if backend == "local" and isolation() != "bwrap":
        pytest.skip("without bubblewrap the local worker sees the host's file system")
    s = start()
    repo_inside = s.ask(op="env")["env"]["PYTHONPATH"].split(":")[1]  # echo_spec puts REPO second
    listing = s.ask(op="listdir", path=repo_inside)["value"]
    assert {"grader", "sandbox"} <= set(listing)
    # Reference solutions, hidden tests and anything else in the checkout stay out of reach.
    assert not {"solutions", "tests", "problems", "README.md"} & set(listing), listing


def test_python_path_shows_only_the_named_packages(start, backend):
    # A wheel puts the grader in a site-packages beside numpy & co: those come from the Python
    # installation; shown again one by one they would lose the folders beside them (numpy.libs).
    from sandbox.local import isolation

    if backend == "local" and isolation() != "bwrap":
        pytest.skip("without bubblewrap the local worker sees the host's file system")
    s = start(WorkerSpec(module="echo_worker", pythonpath=[str(HERE), str(REPO)], packages=["echo_worker", "grader"]))
    here_inside, repo_inside = s.ask(op="env")["env"]["PYTHONPATH"].split(":")
    assert s.ask(op="listdir", path=repo_inside)["value"] == ["grader"]
    assert s.ask(op="listdir", path=here_inside)["value"] == ["echo_worker.py"]


def test_a_dotted_package_shows_that_subpackage_and_its_parents_init_only(start, backend):
    # The jail's part of the grader (grader.jail.MOUNTED): the judge beside it stays out of reach.
    from sandbox.local import isolation

    if backend == "local" and isolation() != "bwrap":
        pytest.skip("without bubblewrap the local worker sees the host's file system")
    s = start(WorkerSpec(module="echo_worker", pythonpath=[str(HERE), str(REPO)],
                         packages=["echo_worker", "grader.protocol", "grader.errors", "grader.models"]))
    repo_inside = s.ask(op="env")["env"]["PYTHONPATH"].split(":")[1]
    assert s.ask(op="listdir", path=f"{repo_inside}/grader")["value"] == ["__init__.py", "errors.py", "models.py",
                                                                          "protocol"]
    assert s.ask(op="listdir", path=f"{repo_inside}/grader/judge")["ok"] is False


def test_private_writable_folders(start):
    s = start()
    env = s.ask(op="env")["env"]
    for var in ("HOME", "TMPDIR", "TORCH_EXTENSIONS_DIR"):
        folder = env[var]
        assert folder != os.environ.get(var), f"{var} is the host's"
        r = s.ask(op="write", path=f"{folder}/probe-{var}", data="ok")
        assert r["ok"], f"{var}={folder} not writable: {r}"


def test_env_has_no_host_secrets(start, monkeypatch):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("KG_TEST_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    monkeypatch.setenv("NCCL_NVLS_ENABLE", "0")   # a GPU host's multicast switch stays set in its workers
    s = start(env={"KG_GIVEN": "given"})
    env = s.ask(op="env")["env"]
    assert env["KG_GIVEN"] == "given" and env.get("NCCL_NVLS_ENABLE") == "0"
    assert {"KG_CHANNEL", "KG_EXCHANGE", "HOME", "TMPDIR", "TORCH_EXTENSIONS_DIR"} <= set(env)
    assert secret not in json.dumps(env)
    for name in ("KG_TEST_SECRET", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "SSH_AUTH_SOCK", "DOCKER_HOST"):
        assert name not in env
    # Whatever equals the host's value must be on the short list of harmless variables.
    harmless = {"LANG", "PATH", "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH",
                "NVIDIA_VISIBLE_DEVICES", "TORCH_CUDA_ARCH_LIST", *TOOLCHAIN_ENV, *MULTICAST_ENV,
                "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "TERM", "HOSTNAME", "USER", "LOGNAME", "SHLVL", "PWD", "_"}
    leaked = {k for k, v in env.items() if os.environ.get(k) == v and k not in harmless}
    assert not leaked, f"host variables leaked into the worker: {sorted(leaked)}"


# -- network ----------------------------------------------------------------------------------------

def test_no_network(start, backend):
    if not _network_isolated(backend):
        pytest.skip("the local backend isolates the network only where it may create namespaces")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    accepted = []

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                pass

    stop = threading.Event()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        s = start()
        assert s.ask(op="whoami")["interfaces"] == ["lo"], "the worker sees a network interface"
        r = s.ask(op="connect", host="127.0.0.1", port=port, timeout=3)
        assert not r["ok"], f"the worker reached the host's loopback server: {r}"
        r = s.ask(op="connect", host="1.1.1.1", port=53, timeout=3)
        assert not r["ok"], f"the worker reached the internet: {r}"
        assert not accepted
    finally:
        stop.set()
        t.join(timeout=2)
        server.close()


# -- limits -----------------------------------------------------------------------------------------

def test_memory_limit_stops_worker(start):
    s = start(memory_bytes=256 << 20)
    s.chan.send({"op": "alloc", "mb": 2048, "pause": 0.01})
    try:
        s.chan.recv(timeout=60)
        pytest.fail("the worker allocated 2 GiB under a 256 MiB limit")
    except ProtocolError:
        pass
    assert s.wait_stopped(30) is not None
    assert s.worker.stop_cause() == "memory"


@pytest.mark.floods
def test_fork_bomb_contained(start, backend):
    marker = f"kgbomb-{uuid.uuid4().hex}"
    s = start(pids=64)
    assert s.ask(op="forkbomb", marker=marker)["started"]
    assert s.wait_stopped(30) is not None, "a fork bomb ran on for 30 s"
    assert s.worker.stop_cause() == "pids"
    s.worker.close()
    assert wait_gone(marker, 15) == [], "fork bomb processes survived the worker"


def test_timeout_kill(start):
    s = start()
    s.chan.send({"op": "sleep", "s": 3600})
    time.sleep(0.3)
    t0 = time.monotonic()
    s.worker.kill("timeout")
    assert s.wait_stopped(10) is not None
    assert time.monotonic() - t0 < 10
    assert s.worker.stop_cause() == "timeout"
    s.worker.kill("memory")  # idempotent, and the first cause stays
    assert s.worker.stop_cause() == "timeout"


def test_worker_exit_code_and_no_cause(start):
    s = start()
    s.chan.send({"op": "exit", "code": 3})
    assert s.wait_stopped(15) == 3
    assert s.worker.stop_cause() is None


def test_disk_limit_on_exchange(start):
    s = start(disk_bytes=32 << 20)
    inside = s.ask(op="env")["env"]["KG_EXCHANGE"]
    s.chan.send({"op": "fill", "path": f"{inside}/big", "mb": 256})
    assert s.wait_stopped(30) is not None
    assert s.worker.stop_cause() == "disk"


def test_log_is_capped(start):
    s = start(log_bytes=64 << 10)
    assert s.ask(op="print", kb=4096)["printed_kb"] == 4096
    deadline = time.monotonic() + 10
    while "dropped" not in s.worker.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = s.worker.log()
    assert "dropped" in log
    assert len(log) < 2 * (64 << 10) + 200


# -- start-up failures ------------------------------------------------------------------------------

def test_worker_that_never_connects(sandbox, made_folders):
    spec = echo_spec(env={"KG_ECHO_NO_CONNECT": "1"}, connect_timeout_s=3)
    t0 = time.monotonic()
    with pytest.raises(SandboxError, match="did not connect"):
        sandbox.start(spec)
    assert time.monotonic() - t0 < 20
    assert made_folders and not [f for f in made_folders if os.path.exists(f)]


def test_worker_that_crashes_before_connecting(sandbox, made_folders):
    spec = echo_spec()
    spec.module = "no_such_module_kgrader"
    with pytest.raises(SandboxError, match="No module named"):
        sandbox.start(spec)
    assert made_folders and not [f for f in made_folders if os.path.exists(f)]


# -- cleanup ----------------------------------------------------------------------------------------

def test_close_leaves_nothing(start, backend):
    marker = f"kgorphan-{uuid.uuid4().hex}"
    s = start()
    assert s.ask(op="orphan", marker=marker)["started"]  # answered once the double-forked grandchild runs
    assert processes_with(marker), "the orphan did not start"
    root = s.worker.exchange.parent
    s.worker.close()
    s.worker.close()  # idempotent
    assert not root.exists()
    if _kill_tree_contained(backend):
        assert wait_gone(marker, 10) == [], "a process that left the worker's session survived close()"


CRASHING_GRADER = textwrap.dedent("""
    import json, os, signal, sys
    sys.path[:0] = [{here!r}, {repo!r}]
    from conftest import echo_spec
    from grader.protocol.wire import Channel
    from sandbox import BACKENDS
    w = BACKENDS[{backend!r}]().start(echo_spec())
    ch = Channel(w.channel)
    ch.send({{"op": "orphan", "marker": {marker!r}}}); ch.recv(timeout=30)
    container = getattr(getattr(w, "container", None), "id", None)
    print(json.dumps({{"root": str(w.exchange.parent), "container": container}}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def crash_a_grader(backend: str, marker: str) -> dict:
    """Run a grader that starts a worker and then dies by SIGKILL, cleaning nothing up."""
    code = CRASHING_GRADER.format(here=str(HERE), repo=str(REPO), backend=backend, marker=marker)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_crashed_grader_leaves_no_worker(backend):
    if not _kill_tree_contained(backend):
        pytest.skip("without namespaces the local backend cannot reach processes that left its session")
    marker = f"kgcrash-{uuid.uuid4().hex}"
    info = crash_a_grader(backend, marker)
    if backend == "docker":
        # The container outlives its grader until the next grader's start-up reaps it.
        from sandbox.docker import DockerSandbox
        DockerSandbox._reaped.clear()
        DockerSandbox()
    assert wait_gone(marker, 15) == [], "the worker outlived its crashed grader"
    if backend == "docker":
        assert not Path(info["root"]).exists(), "the crashed grader's folder was not reaped"
    else:
        remove_tree(Path(info["root"]))  # the local backend has no reaper for its folders (yet)


# -- GPU --------------------------------------------------------------------------------------------

def test_gpu_visible_when_asked(start):
    if not os.path.exists("/dev/nvidia0"):
        pytest.skip("no NVIDIA GPU on this machine")
    s = start(gpu=True)
    r = s.ask(op="cuda", timeout=120)
    assert r["cuda"] is True and r["sum"] == 1000.0, r


__all__ = [name for name in dir() if name.startswith("test_")] + ["BACKENDS"]
