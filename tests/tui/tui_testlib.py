"""Helpers of the TUI tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import os
import time
from contextlib import asynccontextmanager
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
        if "grader.jail.worker" in cmd or "tui.compile_check" in cmd or "cc1plus" in cmd or "nvcc" in cmd:
            out.append(p)
    return out


async def wait_for(pilot, predicate, timeout: float, what: str, step: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def open_problem(pilot, app, name: str) -> None:
    """Open NAME straight away (as `kernel-tui --problem NAME` does), once the main screen is up."""
    await wait_for(pilot, lambda: app.main.is_mounted, 10, "the main screen")
    await pilot.pause()
    app.open_problem(name)
    await wait_for(pilot, lambda: app.main.problem is not None and app.main.problem.name == name, 20,
                   f"{name} to open")
    await pilot.pause()


@asynccontextmanager
async def app_on(make_app, name: str, size=(160, 48), fixture: str | None = None):
    """A running app with NAME open (and fixtures/FIXTURE pasted into the editor): yields (app, pilot)."""
    app = make_app()
    app.probe_sandboxes = False
    async with app.run_test(size=size) as pilot:
        await open_problem(pilot, app, name)
        if fixture:
            await paste_fixture(pilot, app, fixture)
        yield app, pilot


async def paste_fixture(pilot, app, name: str) -> None:
    """Replace the editor's text with fixtures/NAME as an edit (undoable, marks the file dirty), as a paste would."""
    ed = app.main.editor
    ed.replace((FIXTURES / name).read_text(), (0, 0), ed.document.end)
    await pilot.pause()


def post_finished(app, report, source: str) -> None:
    """Hand the main screen a finished grading of `source` for the open problem, as its grading worker would."""
    from tui.messages import GradeFinished

    msg = GradeFinished(report, source, "solution.py")
    msg.problem = app.main.problem
    app.main.post_message(msg)
