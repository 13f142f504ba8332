"""The sandbox contract (contract.py) for the Docker backend against a real engine, plus its own promises.

Skipped when no engine or image is here, except under KG_REQUIRE_DOCKER=1 (CI), where that fails.
"""

from __future__ import annotations

import os
import uuid

import pytest

from conftest import echo_spec, require_backend, wait_gone
from contract import *  # noqa: F401,F403 - the shared tests, collected here for this backend
from contract import crash_a_grader


@pytest.fixture
def backend() -> str:
    require_backend("docker")
    return "docker"


@pytest.fixture
def engine(backend):
    import docker
    client = docker.from_env()
    yield client
    client.close()


def test_container_flags(start, engine):
    s = start(memory_bytes=512 << 20, pids=100, disk_bytes=64 << 20)
    host = engine.api.inspect_container(s.worker.container.id)["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert any(o.startswith("no-new-privileges") for o in host["SecurityOpt"])
    assert host["Memory"] == host["MemorySwap"] == 512 << 20
    assert host["PidsLimit"] == 100
    assert host["Privileged"] is False
    assert all("size=" in opts for opts in host["Tmpfs"].values())
    config = engine.api.inspect_container(s.worker.container.id)["Config"]
    assert config["User"] and not config["User"].startswith("0:") and config["User"] != "root"
    assert config["Labels"]["org.kgrader.owner-pid"] == str(os.getpid())


def test_non_root_and_read_only_root(start, tmp_path):
    given = tmp_path / "given.txt"
    given.write_text("keep me")
    s = start(files={"given": str(given)})
    me = s.ask(op="whoami")
    assert me["uid"] != 0 and me["gid"] != 0
    for path in ("/usr/kg-probe", "/etc/kg-probe", "/kg-probe", "/opt/kg-probe"):
        r = s.ask(op="write", path=path)
        assert not r["ok"], f"wrote {path} on the container's root"
    assert not s.ask(op="write", path=s.worker.paths["given"], data="changed")["ok"]
    pythonpath = s.ask(op="env")["env"]["PYTHONPATH"].split(":")
    assert not s.ask(op="write", path=f"{pythonpath[0]}/kg-probe")["ok"], "the caller's code is writable"
    assert given.read_text() == "keep me"


def test_tmpfs_is_capped(start):
    s = start(disk_bytes=16 << 20)
    r = s.ask(op="fill", path="/tmp/big", mb=64)
    assert not r["ok"] and "No space left" in r["error"], r


def test_crashed_grader_container_is_reaped(engine):
    marker = f"kgreap-{uuid.uuid4().hex}"
    info = crash_a_grader("docker", marker)
    assert engine.containers.get(info["container"]).status == "running"  # orphaned, still there
    from sandbox.docker import DockerSandbox
    from sandbox.docker.reaping import reap_stale
    assert info["container"] in reap_stale(engine)
    with pytest.raises(Exception):
        engine.containers.get(info["container"])
    assert wait_gone(marker, 15) == []
    # A live grader's containers are never reaped.
    w = DockerSandbox().start(echo_spec())
    try:
        assert w.container.id not in reap_stale(engine)
        assert w.poll() is None
    finally:
        w.close()


def test_no_container_left_by_this_session(engine):
    # Runs last in this file: everything the tests above started is gone.
    mine = [c for c in engine.containers.list(all=True, filters={"label": "org.kgrader.sandbox"})
            if c.labels.get("org.kgrader.owner-pid") == str(os.getpid())]
    assert mine == []
