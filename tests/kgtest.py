"""Helpers shared by the test files (a uniquely named module: each test folder has its own conftest)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def grader_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with the checkout first on the path, plus `extra`."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def run_grader(*args: str, timeout: float = 600, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a real subprocess, with this checkout first on the path."""
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout, env=grader_env(env))


def report_of(stdout: str, stderr: str = "") -> dict:
    """The report of a `grader check --json`: stdout's last line."""
    lines = stdout.strip().splitlines()
    assert lines, f"the grader printed no report; stderr:\n{stderr[-4000:]}"
    return json.loads(lines[-1])


def processes_with(marker: str) -> list[int]:
    """PIDs on this machine whose command line holds `marker` (container processes included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def wait_gone(marker: str, timeout: float = 15.0) -> list[int]:
    """Wait until no process carries `marker`; returns those left."""
    deadline = time.monotonic() + timeout
    left = processes_with(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_with(marker)
    return left


def relocated_gxx(prefix: Path) -> Path:
    """A working copy of this machine's g++ installed under `prefix` (as a gcc built with
    --prefix=/opt/... is): the driver in prefix/bin, its cc1plus, libraries and C++ headers at the same
    places relative to prefix as the original has them relative to its own. Files are hard links where
    the file system allows. Returns prefix/bin/g++; reuses a copy made before."""
    gxx = prefix / "bin" / "g++"
    if gxx.exists():
        return gxx
    import re
    import shutil

    original = shutil.which("g++") or os.environ["CXX"]

    def ask(*args: str) -> str:
        p = subprocess.run([original, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        return p.stdout + p.stderr

    install = Path(re.search(r"^install: (.+)$", ask("-print-search-dirs"), re.M).group(1)).resolve()
    old = install.parents[3]  # <old>/lib/gcc/<triplet>/<version>
    cc1plus = Path(ask("-print-prog-name=cc1plus").strip()).resolve()
    headers = [Path(line.strip()).resolve() for line in ask("-v", "-E", "-x", "c++", "-o", os.devnull, "-").splitlines()
               if line.startswith(" ") and "c++" in line and line.strip().startswith(str(old) + "/include")]
    staging = prefix.with_name(prefix.name + f".part{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)

    def place(src: Path, dst: Path) -> None:
        if dst.exists():  # a folder nested in another one already copied (c++/12/backward)
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(os.path.realpath(src), dst)
        except OSError:
            shutil.copy2(os.path.realpath(src), dst)

    for folder in {install, cc1plus.parent, *headers}:
        for path in folder.rglob("*"):
            if path.is_file():  # links followed: the copy must not point back into the original
                place(path, staging / folder.relative_to(old) / path.relative_to(folder))
    for lib in ("lib", "lib64"):  # a gcc under /opt keeps its runtime libraries there (none on Debian's /usr)
        for path in (old / lib).glob("lib*.so*") if old != Path("/usr") else ():
            if path.name.startswith(("libstdc++", "libgcc_s", "libsupc++", "libatomic", "libquadmath")):
                place(path, staging / lib / path.name)
    place(Path(original).resolve(), staging / "bin" / "g++")
    try:
        staging.rename(prefix)
    except OSError:  # another test process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return gxx
