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
