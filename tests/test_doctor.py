"""`grader doctor`: run as a user runs it, on this machine as it is and with things taken away."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from kgtest import relocated_gxx, run_grader

SLOW_IMPORT_S = 300  # torch's import on a loaded machine


def doctor(env: dict[str, str] | None = None, *args: str) -> tuple[int, dict[str, dict]]:
    proc = run_grader("doctor", "--json", *args, env=env, timeout=SLOW_IMPORT_S)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    checks = {c["name"]: c for c in json.loads(proc.stdout.strip().splitlines()[-1])["checks"]}
    return proc.returncode, checks


def test_doctor_reports_this_machine_and_a_fix_for_everything_not_ok():
    code, checks = doctor()
    for name in ("python", "torch", "GPU", "CUDA toolkit", "jail", "Docker", "compile cache", "limits"):
        assert name in checks, sorted(checks)
    cxx = "compiler: CXX" if os.environ.get("CXX") else "compiler: c++ on PATH (torch's default)"
    assert checks[cxx]["level"] == "ok", checks[cxx]
    assert all(c["fix"] for c in checks.values() if c["level"] != "ok"), checks
    assert code == (1 if any(c["level"] == "missing" for c in checks.values()) else 0)
    import torch
    assert checks["torch"]["detail"].startswith(torch.__version__)
    from grader.judge.compile_cache import CompileCache
    assert checks["compile cache"]["detail"].startswith(str(CompileCache().root))
    from importlib.util import find_spec
    assert checks["Triton"]["level"] == ("ok" if find_spec("triton") else "warn"), checks["Triton"]


def test_plain_output_is_one_screen_with_each_fix_under_its_finding():
    proc = run_grader("doctor", timeout=SLOW_IMPORT_S)
    lines = proc.stdout.splitlines()
    assert 8 <= len(lines) <= 40, proc.stdout
    for i, line in enumerate(lines):
        if line.startswith(("warn", "MISS")):
            assert lines[i + 1].lstrip().startswith("fix: "), proc.stdout


def test_what_is_missing_comes_with_its_fix(tmp_path):
    bare = tmp_path / "bin"  # PATH with this Python and nothing else: no compilers, no bwrap, no unshare
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, checks = doctor({"PATH": str(bare), "CXX": "/nonexistent/g++", "DOCKER_HOST": f"unix://{tmp_path}/no.sock",
                           "KG_COMPILE_CACHE": str(blocker / "cache")})
    assert code == 1
    assert checks["compiler: CXX"]["level"] == "missing" and "CXX=" in checks["compiler: CXX"]["fix"]
    assert checks["jail"]["level"] == "missing" and "bubblewrap" in checks["jail"]["fix"]
    assert checks["Docker"]["level"] == "warn" and "start-dockerd" in checks["Docker"]["fix"]
    assert checks["compile cache"]["level"] == "missing" and "KG_COMPILE_CACHE" in checks["compile cache"]["fix"]
    assert checks["compile cache"]["detail"].startswith(str(blocker / "cache"))


@pytest.fixture
def bwrap_jail():
    from sandbox.local import isolation
    if isolation() != "bwrap":
        pytest.skip("needs the bubblewrap jail")


def test_compiler_outside_usr_is_run_inside_the_jail(bwrap_jail):
    if not os.access("/opt", os.W_OK):
        pytest.skip("cannot write /opt (CI runs as root)")
    gxx = relocated_gxx(Path("/opt/kgtest-cc"))
    code, checks = doctor({"CXX": str(gxx)})
    assert checks["compiler: CXX"]["level"] == "ok" and str(gxx) in checks["compiler: CXX"]["detail"]
    assert checks["C++ compiler in the jail"]["level"] == "ok", checks["C++ compiler in the jail"]
    assert "/opt/kgtest-cc" in checks["toolchain folders"]["detail"]


def test_compiler_that_needs_a_hidden_folder_is_caught_and_the_fix_works(bwrap_jail, tmp_path):
    # A wrapper reading a folder the jail does not show: runs on the host, fails in the jail.
    hidden = tmp_path / "site-config"
    hidden.mkdir()
    (hidden / "ok").write_text("")
    wrapper = tmp_path / "cc" / "g++"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\n[ -e {hidden}/ok ] || {{ echo "no {hidden}" >&2; exit 3; }}\nexec g++ "$@"\n')
    wrapper.chmod(0o755)
    _, checks = doctor({"CXX": str(wrapper)})
    inside = checks["C++ compiler in the jail"]
    assert inside["level"] == "missing" and "KG_SANDBOX_RO_PATHS" in inside["fix"], inside
    _, checks = doctor({"CXX": str(wrapper), "KG_SANDBOX_RO_PATHS": str(hidden)})
    assert checks["C++ compiler in the jail"]["level"] == "ok"
