"""The sandbox contract (contract.py) for the local backend, plus what only it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import require_backend
from contract import *  # noqa: F401,F403 - the shared tests, collected here for this backend
from sandbox.local import isolation, namespaces_available


@pytest.fixture
def backend() -> str:
    require_backend("local")
    return "local"


def test_local_reports_namespaces():
    # Not a requirement, a record: CI's log says which local isolation the contract ran under.
    print(f"local backend namespaces: {namespaces_available()}")


def test_python_installed_under_tmp_runs_jailed_workers(tmp_path):
    # CI and many users run from a virtualenv under /tmp; the jail gives the worker its own /tmp, and
    # that must not hide the very Python the worker is started with.
    import site
    import subprocess
    import sys
    import venv

    here = Path(__file__).resolve().parent  # not conftest's: another folder's conftest may hold that name
    repo = here.parents[1]
    assert str(tmp_path).startswith("/tmp/"), "the point is a Python under /tmp"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(tmp_path / "venv")
    py = tmp_path / "venv" / "bin" / "python"
    inside_site = subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    # This interpreter's packages (torch, psutil, pydantic) by a .pth, as an editable install would.
    Path(inside_site, "host.pth").write_text("\n".join(site.getsitepackages() + sys.path[1:]) + "\n")
    script = f"""
import sys
sys.path[:0] = [{str(repo)!r}, {str(here)!r}]
from conftest import echo_spec
from grader.protocol.wire import Channel
from sandbox.local import LocalSandbox, isolation
w = LocalSandbox().start(echo_spec())
try:
    chan = Channel(w.channel)
    chan.send({{"op": "echo", "data": sys.prefix}})
    print(isolation(), chan.recv(timeout=30)["data"])
finally:
    w.close()
"""
    proc = subprocess.run([py, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [isolation(), str(tmp_path / "venv")]
