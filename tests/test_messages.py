"""What `grader check` says reads right: the CUDA-without-GPU refusal, compile errors at the solution's own
line, the summary's runtime row, live lines in the result's statistic, no spinner after the verdict."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console

from kgtest import FIXTURES, run_grader

from grader.cli.display import LiveProgress, summary
from grader.models import Phase, ProgressEvent, Report, Status, TimingStats

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@no_gpu
@pytest.mark.parametrize("device, needle", [
    ([], "kb_add_cuda.py:27: builds CUDA code (cuda_sources) and this machine has no CUDA GPU"),
    (["--device", "cuda"], "--device cuda: this machine has no CUDA GPU"),
])
def test_cuda_without_a_gpu_is_refused_before_compiling_and_says_where_to_grade(device, needle):
    proc = run_grader("check", str(FIXTURES / "kb_add_cuda.py"), "--problem", str(FIXTURES / "kb_add.py"),
                      "--sandbox", "local", *device, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr.strip()
    assert needle in err and "machine with an NVIDIA GPU" in err and "\n" not in err


def test_compile_error_names_the_solutions_own_line_and_shows_the_first_errors():
    proc = run_grader("check", str(FIXTURES / "add_compile_error.py"), "--problem", str(FIXTURES / "add_problem.py"),
                      "--device", "cpu", "--sandbox", "local", env={"COLUMNS": "250"})
    assert proc.returncode == 1
    text = " ".join(proc.stdout.split())
    assert "verdict COMPILE_ERROR" in text
    # the message and the compiler row: the solution's line 7, where `undefined_symbol_here` is written
    assert "add_compile_error.py:7:" in text.split("compiler")[0], text
    compiler = text.split("compiler", 1)[1]
    assert "add_compile_error.py:7:" in compiler and "undefined_symbol_here" in compiler
    assert "as generated)" in compiler and "(the whole log: --json, field compile_log)" in compiler


def render(table) -> str:
    console = Console(file=io.StringIO(), width=250, force_terminal=False)
    console.print(table)
    return " ".join(console.file.getvalue().split())


def test_summary_shows_the_runtime_the_speedup_used():
    loop = TimingStats(clock="host", runs=200, median_ms=3.16, mean_ms=3.3, std_ms=0.2, min_ms=3.0, max_ms=4.0,
                       rel_sem=0.004, stopped_by="time_cap", l2_flushed=False)
    report = Report(status=Status.passed, message="", problem="p", solution="s", device="cpu", runtime=loop,
                    runtime_ms=9.065, speedup_basis="the grader's own clock: the events missed work",
                    baseline_ms=6.703, speedup=0.7394, flags=["timing_mismatch"])
    text = render(summary(report))
    assert ("runtime 9.065 ms (the grader's own clock: the events missed work); the timing loop's median "
            "was 3.16 ms eager 6.703 ms") in text
    assert "speedup 0.74x vs eager" in text
    plain = report.model_copy(update={"runtime_ms": 3.16, "speedup_basis": ""})
    assert "runtime 3.16 ms (median of 200, ±0.40% s.e.) eager" in render(summary(plain))


def event(**kw) -> ProgressEvent:
    return ProgressEvent(**{"phase": Phase.timing, "kind": "timing", **kw})


def test_live_lines_show_the_median_as_the_result_does():
    out = io.StringIO()
    with LiveProgress(Console(file=out, force_terminal=False, width=200), "grading x") as live:
        live(event(label="eager", index=120, median_ms=0.1327, rel_err=0.02))
    assert out.getvalue().splitlines() == ["grading x", "timing: eager: run 120, median 0.1327 ms (±2.00% s.e.)"]


def test_no_row_keeps_spinning_after_the_verdict():
    out = io.StringIO()
    with LiveProgress(Console(file=out, force_terminal=True, width=200)) as live:
        live(ProgressEvent(phase=Phase.load, kind="start", message="starting local workers"))
        live(ProgressEvent(phase=Phase.compile, kind="start", message="importing"))
        assert [r[0] for r in live.rows.values()] == ["run", "run"]
        live(ProgressEvent(phase=Phase.done, kind="end", message="compile error", ok=False))
        assert [r[0] for r in live.rows.values()] == ["fail", "fail"]
    assert not any(ch in str(live._render()) for ch in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")


def test_cpu_problem_shows_its_size_and_no_gpu_floor():
    proc = run_grader("problems", "show", "cpu_softmax", "--no-source")
    assert proc.returncode == 0, proc.stderr
    assert "size       inputs 2.1 MB, outputs 2.1 MB" in proc.stdout
    assert "floor" not in proc.stdout and "H100" not in proc.stdout
