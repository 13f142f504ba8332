"""The timing locks (grader/judge/device_lock.py), held by real processes: one per CPU core, one per GPU set."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest
from kgtest import ROOT

from grader.errors import Cancelled
from grader.judge import device_lock

HOLDER = textwrap.dedent("""
    import sys, threading
    from grader.judge import device_lock
    cores = [int(c) for c in sys.argv[1].split(",")]
    with device_lock.exclusive(sys.argv[2], threading.Event(), lambda: None, cores=cores):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes it
""")


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def hold(lock_dir, cores: str, device: str = "cpu") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, cores, device], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={"TMPDIR": str(lock_dir), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.readline() == "held\n"
    return proc


def take(device: str, cores: list[int] | None, wait_s: float) -> bool:
    """Whether the locks were had without waiting; gives up (Cancelled) after `wait_s` of waiting."""
    cancel, waited = threading.Event(), []

    def on_wait():
        waited.append(True)
        threading.Timer(wait_s, cancel.set).start()

    try:
        with device_lock.exclusive(device, cancel, on_wait, cores=cores):
            return not waited
    except Cancelled:
        return False


def test_a_cpu_grading_waits_only_for_gradings_on_its_own_cores(lock_dir):
    other = hold(lock_dir, "0")
    try:
        assert take("cpu", [1], 0.3)              # another core: timed side by side
        assert not take("cpu", [0], 0.3)          # the held core: waits (here: gives up)
        assert not take("cpu", [1, 0], 0.3)       # any held core among several
        assert take("cuda", None, 0.3)            # the GPU's lock is its own
    finally:
        other.stdin.close()
        other.wait(timeout=30)
    assert take("cpu", [0], 0.3)                  # released with the process


def test_a_grading_holding_one_core_of_two_blocks_a_grading_that_needs_both(lock_dir):
    # Both ask in ascending order, whatever order their cores were listed in, so none holds one and waits.
    other = hold(lock_dir, "3,2")
    try:
        assert not take("cpu", [2], 0.2) and not take("cpu", [3], 0.2)
        assert take("cpu", [4], 0.2)
    finally:
        other.stdin.close()
        other.wait(timeout=30)
    assert [p.name for p in device_lock.lock_paths("cpu", [3, 2, 3])] == [
        "kgrader-timing-cpu-core2.lock", "kgrader-timing-cpu-core3.lock"]
