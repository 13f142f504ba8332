"""The TUI's side of grading: pick the device, build the same GradeRequest the CLI builds, call grade().

Nothing here grades by itself: `run_grade` is `grader.judge.engine.grade` with the app's settings, run in a
Textual thread worker; its ProgressEvents and the Report travel to the UI as messages (tui.messages).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.models import GradeOptions, GradeRequest, ProgressEvent, Report

from .catalog import ProblemInfo
from .settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class GpuInfo:
    available: bool
    name: str = ""
    note: str = ""


_DETECT = ("import json, torch\nok = torch.cuda.is_available()\n"
           "print(json.dumps({'ok': ok, 'name': torch.cuda.get_device_name(0) if ok else '',"
           " 'cuda': torch.version.cuda or ''}))\n")


def detect_gpu(timeout: float = 60) -> GpuInfo:
    """Ask torch in a child process (so this process never creates a CUDA context)."""
    if os.environ.get("KERNEL_TUI_ASSUME_NO_GPU"):
        return GpuInfo(False, note="KERNEL_TUI_ASSUME_NO_GPU is set")
    try:
        r = subprocess.run([sys.executable, "-c", _DETECT], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        d = json.loads(r.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError) as e:
        return GpuInfo(False, note=f"could not ask torch about CUDA: {e}")
    if d["ok"]:
        return GpuInfo(True, d["name"])
    why = "this torch build has no CUDA" if not d.get("cuda") else "torch sees no CUDA GPU"
    return GpuInfo(False, note=why)


NO_GPU_HELP = ("No CUDA GPU here. You can still edit, run a compile-only check (ctrl+t), and grade "
               "CPU-track problems; set device to cpu in Settings (F6) to grade this problem on the CPU anyway.")


def choose_device(settings: Settings, problem: ProblemInfo, gpu: GpuInfo | None) -> tuple[str | None, str]:
    """(device, reason when None). Same rule as `grader check`: the problem's device, else CUDA if visible."""
    if settings.device in ("cuda", "cpu"):
        return settings.device, ""
    if problem.device == "cpu":
        return "cpu", ""
    if gpu is not None and gpu.available:
        return "cuda", ""
    if gpu is None:
        return None, "still checking for a GPU; try again in a moment"
    if problem.device == "any":
        return "cpu", ""
    return None, f"{problem.name} is a CUDA problem. " + NO_GPU_HELP


def build_request(settings: Settings, problem: ProblemInfo, solution: Path, device: str) -> GradeRequest:
    options = settings.model_dump(include=set(GradeOptions.model_fields) - {"device", "profile"})
    return GradeRequest(solution=str(solution), problem=str(problem.path), device=device,
                        profile=settings.profile and device == "cuda", **options)


def run_grade(request: GradeRequest, on_event: Callable[[ProgressEvent], None], cancel: threading.Event) -> Report:
    """grader.judge.engine.grade, imported late: it pulls in torch, which the UI does not need to start."""
    from grader.judge.engine import grade

    return grade(request, on_event, cancel)
