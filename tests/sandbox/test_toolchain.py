"""Compilers installed outside /usr: found on the host, shown to the jailed worker, chosen as the operator chose.

The compiler here is a real, relocated copy of this machine's g++ under /opt/kgtest-cc (its driver, cc1plus,
libraries and C++ headers all under that prefix, as a gcc built with --prefix=/opt/gcc has them), so the
jail must show more than the driver's own folder for a compile to work.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import Session, echo_spec, require_backend
from kgtest import FIXTURES, relocated_gxx, report_of, run_grader
from sandbox.local import LocalSandbox, isolation
from sandbox.toolchain import discover

pytestmark = pytest.mark.xdist_group("toolchain")   # one test process: one relocated g++ and one Docker image serve several tests

PREFIX = Path("/opt/kgtest-cc")
HELLO = '#include <vector>\n#include <cstdio>\nint main() { std::vector<int> v{6, 7}; std::printf("%d\\n", v[0] * v[1]); }\n'


@pytest.fixture(scope="module")
def gxx() -> Path:
    if not os.access(PREFIX.parent, os.W_OK):
        pytest.skip(f"cannot write {PREFIX.parent} (CI runs as root)")
    return relocated_gxx(PREFIX)


@pytest.fixture
def jail():
    require_backend("local")
    if isolation() != "bwrap":
        pytest.skip("needs the bubblewrap jail (apt-get install bubblewrap)")


def test_discovery_names_the_relocated_compilers_folders(gxx):
    found = discover({**os.environ, "CXX": str(gxx)})
    assert found.env["CXX"] == str(gxx)
    cxx = next(t for t in found.tools if t.role == "CXX")
    assert cxx.path == str(gxx) and cxx.version
    cc1plus = subprocess.run([gxx, "-print-prog-name=cc1plus"], capture_output=True, text=True).stdout.strip()
    vector = next(PREFIX.glob("include/c++/*/vector"))

    def shown(path) -> bool:
        return any(os.path.realpath(path).startswith(d + "/") for d in found.dirs)

    # the driver alone compiles nothing: its cc1plus and its C++ headers must be shown too
    assert shown(gxx) and shown(cc1plus) and shown(vector), found.dirs
    assert not any(d in ("/opt", "/") or d.startswith("/usr/") for d in found.dirs)


def test_bare_name_on_path_resolves_to_the_same_file_as_on_the_host(gxx):
    env = {**os.environ, "CXX": "g++", "PATH": f"{gxx.parent}{os.pathsep}{os.environ['PATH']}"}
    found = discover(env)
    assert found.path[0] == str(gxx.parent)


def _compile_in_jail(monkeypatch, tmp_path, **env) -> dict:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    src = tmp_path / "hello.cpp"
    src.write_text(HELLO)
    worker = LocalSandbox().start(echo_spec(files={"src": str(src)}))
    try:
        s = Session(worker)
        inside = worker.paths["src"]
        built = s.ask(op="exec", argv=["sh", "-c", f'"$CXX" -O1 -x c++ {inside} -o /tmp/hello && /tmp/hello'],
                      timeout=120)
        which = s.ask(op="exec", argv=["sh", "-c", 'command -v "$CXX"'])
        return {"built": built, "which": which}
    finally:
        worker.close()


def test_jailed_worker_compiles_with_cxx_outside_usr(gxx, jail, monkeypatch, tmp_path):
    got = _compile_in_jail(monkeypatch, tmp_path, CXX=str(gxx))
    assert got["built"]["ok"] and got["built"]["value"]["code"] == 0, got
    assert got["built"]["value"]["output"].strip() == "42"


def test_jailed_worker_reaches_the_compiler_through_a_symbolic_link(gxx, jail, monkeypatch, tmp_path):
    # /opt/gcc -> gcc-13.2 style: the jail shows real folders, and the name the operator uses must lead there.
    link = PREFIX.with_name(PREFIX.name + "-link")
    if not link.is_symlink():
        link.symlink_to(PREFIX.name)
    got = _compile_in_jail(monkeypatch, tmp_path, CXX=str(link / "bin" / "g++"))
    assert got["built"]["value"]["code"] == 0 and got["built"]["value"]["output"].strip() == "42", got


def test_link_inside_a_folder_the_jail_binds_anyway_is_not_made_twice(gxx, jail, monkeypatch, tmp_path):
    # bwrap refuses to make a link where a bound folder already has one: every worker would fail to start.
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "cc").symlink_to(PREFIX)
    got = _compile_in_jail(monkeypatch, tmp_path, CXX=str(shared / "cc" / "bin" / "g++"), KG_SANDBOX_RO_PATHS=str(shared))
    assert got["built"]["value"]["code"] == 0 and got["built"]["value"]["output"].strip() == "42", got


def test_jailed_worker_finds_a_bare_compiler_name_where_the_host_does(gxx, jail, monkeypatch, tmp_path):
    got = _compile_in_jail(monkeypatch, tmp_path, CXX="g++", PATH=f"{gxx.parent}{os.pathsep}{os.environ['PATH']}")
    assert got["which"]["value"]["output"].strip() == str(gxx), got
    assert got["built"]["value"]["code"] == 0 and got["built"]["value"]["output"].strip() == "42", got


@pytest.mark.slow
def test_grading_in_the_jail_compiles_with_cxx_outside_usr(gxx, jail):
    # The whole path: the grader's own workers build the solution's load_inline extension with CXX.
    # The solution's extension includes no torch header, so the compiler's work is the C++ standard library's
    # headers from the relocated prefix, not torch's (a minute on a loaded machine).
    light = FIXTURES.parent / "adversarial" / "solutions" / "cache_light_add.py"
    proc = run_grader("check", str(light), "--problem", str(FIXTURES / "add_problem.py"),
                      "--device", "cpu", "--sandbox", "local", "--json", "--no-compile-baseline",
                      "--max-timing-s", "1", "--timeout", "900",  # a loaded CI machine compiles slowly
                      env={"CXX": str(gxx), "KG_LOCAL_ISOLATION": "bwrap", "MAX_JOBS": "1"}, timeout=1800)
    report = report_of(proc.stdout, proc.stderr)
    assert report["status"] == "passed", json.dumps(report)[:3000]


# -- Docker: an image of the host's own file system has the host's compilers at the same paths --------------

WRAP = Path("/opt/kgtest-wrap/bin/kg-c++")


@pytest.fixture(scope="module")
def host_images():
    """(labelled, plain): the grader image with WRAP added, once marked as holding the host's toolchain."""
    require_backend("docker")
    if not os.access(WRAP.parents[2], os.W_OK):
        pytest.skip(f"cannot write {WRAP.parents[2]}")
    import tempfile

    import docker

    from sandbox.docker.config import LABEL_HOST_TOOLCHAIN, _find_image
    WRAP.parent.mkdir(parents=True, exist_ok=True)
    WRAP.write_text('#!/bin/sh\nexec g++ "$@"\n')
    WRAP.chmod(0o755)
    client = docker.from_env(timeout=600)
    base = _find_image(client)
    tags = {True: "kgrader-test-host-toolchain:yes", False: "kgrader-test-host-toolchain:no"}
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "kg-c++").write_bytes(WRAP.read_bytes())
        Path(ctx, "kg-c++").chmod(0o755)
        for labelled, tag in tags.items():
            label = f"LABEL {LABEL_HOST_TOOLCHAIN}=1\n" if labelled else ""
            Path(ctx, "Dockerfile").write_text(f"FROM {base}\nCOPY kg-c++ {WRAP}\n{label}")
            client.images.build(path=ctx, tag=tag, rm=True)
    yield tags
    for tag in tags.values():
        client.images.remove(tag, force=True)
    client.close()


def _ask_in_container(image: str, monkeypatch, tmp_path) -> dict:
    from sandbox.docker import DockerSandbox
    monkeypatch.setenv("CXX", WRAP.name)
    monkeypatch.setenv("PATH", f"{WRAP.parent}{os.pathsep}{os.environ['PATH']}")
    src = tmp_path / "hello.cpp"
    src.write_text(HELLO)
    worker = DockerSandbox(image=image).start(echo_spec(files={"src": str(src)}))
    try:
        s = Session(worker)
        env = s.ask(op="env")["env"]
        built = s.ask(op="exec", argv=["sh", "-c", f'"$CXX" -x c++ {worker.paths["src"]} -o /tmp/h && /tmp/h'],
                      timeout=120) if "CXX" in env else None
        return {"env": env, "built": built}
    finally:
        worker.close()


def test_container_of_the_host_file_system_uses_the_operators_compiler(host_images, monkeypatch, tmp_path):
    got = _ask_in_container(host_images[True], monkeypatch, tmp_path)
    assert got["env"]["CXX"] == WRAP.name and got["env"]["PATH"].split(":")[1] == str(WRAP.parent), got["env"]
    assert got["built"]["value"]["code"] == 0 and got["built"]["value"]["output"].strip() == "42", got["built"]


def test_other_images_keep_their_own_compilers(host_images, monkeypatch, tmp_path):
    got = _ask_in_container(host_images[False], monkeypatch, tmp_path)
    assert "CXX" not in got["env"] and str(WRAP.parent) not in got["env"]["PATH"]
