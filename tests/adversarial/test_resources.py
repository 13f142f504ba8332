"""Resource attacks: hangs, bombs, floods and crashes end in a verdict, with the grader and machine intact.

Limits are kept small here (memory, disk, timeouts) so that a failure of the defence costs little.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from adv_helpers import (ADD, FAST, FIXTURES, ROOT, SOLUTIONS, explain, grade, processes_with, render,
                         report_of, wait_gone)


def test_python_infinite_loop_times_out():
    proc, report = grade(SOLUTIONS / "python_loop.py", "--timeout", "10")
    assert report["status"] == "timeout", explain(report)
    assert report["duration_s"] < 120


def test_cpp_infinite_loop_times_out():
    # tests/fixtures/add_hang.py: a compiled extension that spins forever (GIL held, no Python to interrupt). Its
    # first call is the compile phase's warm-up (docs/backends.md), so that phase's budget is what runs out.
    proc, report = grade(FIXTURES / "add_hang.py", "--timeout", "25")
    assert report["status"] == "timeout", explain(report)
    assert "the compile phase's budget of 25s ran out" in report["message"], explain(report)
    assert report["compile_cached"] is not None, "the budget ran out before the extension was built"


def test_sleep_at_import_times_out_in_the_compile_phase():
    proc, report = grade(SOLUTIONS / "sleep_import.py", "--timeout", "10")
    assert report["status"] == "timeout", explain(report)
    assert "compile" in report["message"]


@pytest.mark.floods
def test_fork_bomb_is_stopped_and_nothing_survives(tmp_path):
    marker = f"kgbomb-{uuid.uuid4().hex}"
    proc, report = grade(render("fork_bomb.py", tmp_path, MARKER=marker), "--timeout", "60")
    # Every containment the grader can honestly report: the watchdog's process or memory limit; the phase
    # budget (the compile phase's: forward's first call is its warm-up), when a loaded machine let the bomb sleep
    # out its budget below the limits; the fork refused inside the worker (a process limit of the kernel's),
    # which ends forward() with its error.
    honest = {"resource_limit": ("process count", "host memory"), "timeout": ("compile phase's budget",),
              "runtime_error": ("BlockingIOError", "Resource temporarily unavailable")}
    assert report["status"] in honest, explain(report)
    assert any(n in report["message"] for n in honest[report["status"]]), explain(report)
    assert wait_gone(marker, 20) == [], "fork bomb processes outlived the grading"


def test_memory_bomb_hits_the_memory_limit():
    proc, report = grade(SOLUTIONS / "memory_bomb.py", "--memory-limit-mb", "1500", "--timeout", "60")
    assert report["status"] == "resource_limit", explain(report)
    assert "host memory" in report["message"] or "MemoryError" in report["message"], explain(report)


def test_disk_fill_is_bounded_and_cleaned_up(tmp_path, monkeypatch):
    # Graded in this process, with the worker's disk limits made small: 64 MiB a file, 256 MiB in all.
    from grader.judge import engine
    from grader.models import GradeRequest

    real_spec = engine.Grading.spec

    def small_disk(self, role):
        spec = real_spec(self, role)
        spec.limits.file_bytes, spec.limits.disk_bytes = 64 << 20, 256 << 20
        return spec

    monkeypatch.setattr(engine.Grading, "spec", small_disk)
    escape = [str(tmp_path / "escaped.txt"), f"/tmp/kg-escape-{uuid.uuid4().hex}",
              f"/dev/shm/kg-escape-{uuid.uuid4().hex}", str(ROOT / f"kg-escape-{uuid.uuid4().hex}")]
    solution = render("disk_fill.py", tmp_path, ESCAPE=repr(escape))
    before = {p for p in Path("/dev/shm").glob("kgrader-*")} | {p for p in Path("/tmp").glob("kgrader-*")}
    report = engine.grade(GradeRequest(solution=str(solution), problem=str(ADD), device="cpu", sandbox="local",
                                       trials=3, baseline_compile=False, max_timing_s=0.5))
    assert report.status.value == "resource_limit", report.message
    assert "disk" in report.message
    leaked = [p for p in escape if os.path.exists(p)]
    for p in leaked:
        os.unlink(p)
    from sandbox.local import isolation
    if isolation() == "bwrap":
        assert not leaked, f"the worker wrote outside its folders: {leaked}"
    after = {p for p in Path("/dev/shm").glob("kgrader-*")} | {p for p in Path("/tmp").glob("kgrader-*")}
    mine = [p for p in after - before if (p / "xchg").exists() and not any(p.glob("*.sock"))]
    assert not [p for p in mine if any(p.rglob("fill-*"))], "the filled folder was left behind"


def test_gigabyte_of_output_is_truncated_and_grader_memory_stays_bounded():
    argv = [sys.executable, "-m", "grader", "check", str(SOLUTIONS / "stdout_flood.py"), "--problem", str(ADD),
            "--device", "cpu", "--json", "--sandbox", "local", *FAST, "--timeout", "300"]
    proc = psutil.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
    peak = 0
    out: dict[str, str] = {}
    reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), proc.communicate(timeout=600))))
    reader.start()
    while reader.is_alive():
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    report = report_of(out["stdout"], out["stderr"])
    assert report["status"] == "passed", explain(report)
    assert "dropped" in report["worker_log"] or len(report["worker_log"]) <= 4000
    assert len(out["stdout"]) < 200_000, "the report carried the flood"
    assert peak < 1.5 * (1 << 30), f"the grader grew to {peak >> 20} MiB reading the flood"


def test_segfault_is_a_runtime_error_naming_the_signal():
    proc, report = grade(SOLUTIONS / "segfault.py")
    assert report["status"] == "runtime_error", explain(report)
    assert "SIGSEGV" in report["message"], explain(report)


def test_exit_zero_mid_run_is_a_runtime_error():
    proc, report = grade(SOLUTIONS / "exit_midrun.py")
    assert report["status"] == "runtime_error", explain(report)
    assert "exited with code 0" in report["message"], explain(report)


def test_compile_bomb_is_bounded_by_the_compile_timeout(tmp_path):
    marker = f"kgcbomb_{uuid.uuid4().hex[:12]}"
    t0 = time.monotonic()
    proc, report = grade(render("compile_bomb.py", tmp_path, MARKER=marker), "--timeout", "20",
                         "--memory-limit-mb", "3000")
    assert report["status"] in ("timeout", "resource_limit"), explain(report)
    assert "compile" in report["message"], explain(report)
    assert time.monotonic() - t0 < 240
    assert wait_gone(marker, 20) == [], "the compiler outlived the grading"


def test_candidate_is_stopped_while_the_baselines_are_timed(tmp_path):
    # CPU hogs started by the candidate (setsid, out of its process group) would slow the eager baseline and
    # inflate its speedup; on CPU the grader stops every process of the candidate while it times the
    # baselines (the rounds alternate), and kills them all at the end.
    import psutil

    from grader.judge import engine
    from grader.models import GradeRequest, Phase

    marker = f"kghog-{uuid.uuid4().hex}"
    seen: list[list[tuple[int, str]]] = []

    def states() -> list[tuple[int, str]]:
        out = []
        for pid in processes_with(marker):
            try:
                out.append((pid, psutil.Process(pid).status()))
            except psutil.Error:
                pass
        return out

    def on_event(ev):
        if ev.phase is Phase.baseline and ev.kind == "start" and not seen:
            seen.append(states())

    solution = render("interfere.py", tmp_path, MARKER=marker)
    try:
        report = engine.grade(GradeRequest(solution=str(solution), problem=str(ADD), device="cpu", sandbox="local",
                                           trials=3, baseline_compile=False, max_timing_s=0.5), on_event)
    finally:
        left = wait_gone(marker, 20)
    assert report.status.value == "passed", report.message
    assert seen and seen[0], "the hogs never started (test is moot)"
    assert all(state == psutil.STATUS_STOPPED for _, state in seen[0]), \
        f"candidate processes still ran while the baseline was timed: {seen}"
    assert left == []
