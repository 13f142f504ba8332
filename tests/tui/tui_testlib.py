"""Helpers of the TUI tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from grader.models import Timeouts
from tui.settings import Settings

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"


def fast_settings(**over) -> Settings:
    base = dict(workspace="workspace", sandbox="local", device="auto", trials=2, max_timing_s=0.3,
                baseline_compile=False, timeouts=Timeouts(compile=600, correctness=120, timing=120))
    base.update(over)
    return Settings(**base)


def worker_processes() -> list[psutil.Process]:
    """Grading workers started by this test process (the local sandbox runs them as our descendants)."""
    out = []
    for p in psutil.Process(os.getpid()).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if "grader.worker" in cmd or "tui.compile_check" in cmd or "cc1plus" in cmd or "nvcc" in cmd:
            out.append(p)
    return out


async def wait_for(pilot, predicate, timeout: float, what: str, step: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
