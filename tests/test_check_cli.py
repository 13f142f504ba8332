"""`grader check` end to end on the CPU: real subprocesses, real compiles, real sandboxed workers."""

import json

import pytest

from grader.judge import engine
from kgtest import FIXTURES, report_of, run_grader

# One test process: one grading (`passed`) serves several tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("check-cli")]

PROBLEM = str(FIXTURES / "add_problem.py")
FAST = ["--device", "cpu", "--sandbox", "local", "--no-compile-baseline", "--max-timing-s", "0.5", "--json"]


def check(solution: str, *extra: str, problem: str = PROBLEM):
    proc = run_grader("check", str(FIXTURES / solution), "--problem", problem, *FAST, *extra)
    return proc, report_of(proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def passed():
    return check("add_pass.py")


def test_honest_solution_passes_with_timings(passed):
    proc, report = passed
    assert proc.returncode == 0, report["message"]
    assert report["status"] == "passed"
    assert report["speedup"] > 0 and report["runtime_ms"] > 0 and report["baseline_ms"] > 0
    assert report["runtime"]["clock"] == "host" and report["runtime"]["runs"] >= 10
    assert report["max_abs_err"] == 0.0
    # five correctness trials, plus the outputs produced while timed; the grader's own clock ran its windows
    labels = [t["label"] for t in report["trials"]]
    assert labels.count("trial") == 5 and "timed" in labels
    counted = engine.CPU_ROUNDS * engine.CPU_ROUND_WINDOWS
    assert len(report["windows_ms"]["candidate"]) == len(report["windows_ms"]["reference"]) == counted
    assert report["trusted_runtime_ms"] is not None and report["speedup_basis"]
    assert not set(report["flags"]) - {"noisy_timing"}  # a busy CI machine may leave the mean loose
    assert report["speedup_compile"] is None


def test_progress_streams_as_json_lines_on_stderr(passed):
    proc, _ = passed
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    phases = [e["phase"] for e in events]
    for phase in ("load", "compile", "correctness", "timing", "baseline", "done"):
        assert phase in phases
    trials = [e for e in events if e["kind"] == "trial"]
    assert [t["index"] for t in trials] == [1, 2, 3, 4, 5]


def test_wrong_answer_names_worst_element():
    proc, report = check("class/add_minus.py")   # subtracts
    assert proc.returncode == 1
    assert report["status"] == "incorrect"
    assert "worst element" in report["message"] and "max abs error" in report["message"]
    assert report["speedup"] is None


def test_wrong_shape():
    proc, report = check("add_wrong_shape.py")
    assert proc.returncode == 1
    assert report["status"] == "incorrect"
    assert "shape [1, 4096] but expected [4096]" in report["message"]


def test_compile_error_shows_compiler_message():
    proc, report = check("add_compile_error.py")
    assert proc.returncode == 1
    assert report["status"] == "compile_error"
    assert "undefined_symbol_here" in report["message"] and "error:" in report["message"]
    assert "undefined_symbol_here" in report["compile_log"]


def test_timeout_kills_the_worker():
    proc, report = check("add_spin.py", "--timeout", "15")
    assert proc.returncode == 1
    assert report["status"] == "timeout"
    assert "phase's budget of 15s ran out" in report["message"], report["message"]  # compile on a slow machine
    assert "no_custom_kernel" in report["flags"]


@pytest.mark.parametrize("args, needle", [
    (["check", "missing.py", "--problem", PROBLEM], "missing.py: no such solution file"),
    (["check", str(FIXTURES / "add_pass.py"), "--problem", "no_such_problem"], "no_such_problem: no problem"),
    (["check", str(FIXTURES / "add_pass.py"), "--problem", str(FIXTURES / "no_get_inputs_problem.py")],
     "defines no get_inputs"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    proc = run_grader(*args, "--device", "cpu")
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("solution, needle", [
    ("syntax_error.py", "syntax_error.py:3: syntax error"),
    ("no_modelnew.py", "defines no class ModelNew"),
])
def test_broken_solution_is_a_one_line_compile_error(solution, needle):
    proc, report = check(solution)
    assert proc.returncode == 1
    assert report["status"] == "compile_error"
    assert needle in report["message"] and "\n" not in report["message"]


def test_human_output_has_summary_table():
    proc = run_grader("check", str(FIXTURES / "no_modelnew.py"), "--problem", PROBLEM, "--device", "cpu")
    assert proc.returncode == 1
    text = " ".join(proc.stdout.split())  # the table wraps to the terminal's width
    assert "verdict COMPILE_ERROR" in text and "defines no class ModelNew" in text


def test_human_output_of_a_pass_reads_as_phases_and_verdict():
    # Piped (no terminal): one plain line per step, each named by its phase, then the summary table.
    proc = run_grader("check", str(FIXTURES / "add_pass.py"), "--problem", PROBLEM, *FAST[:-1])
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = proc.stdout.splitlines()
    assert "correctness: trial 5/5 ok  max abs error 0" in lines, lines
    assert "correctness: done: all 5 trials match" in lines, lines
    assert any(line.startswith("timing: done: ") and line.endswith(" ms") for line in lines), lines
    assert "verdict PASSED" in " ".join(proc.stdout.split())


def test_kernelbench_file_that_calls_cuda_runs_on_cpu():
    proc, report = check("relu_torch.py", problem=str(FIXTURES / "kernelbench_relu.py"))
    assert report["status"] == "passed", report["message"]
    assert "no_custom_kernel" in report["flags"]


def test_strict_mode_refuses_plain_pytorch():
    proc, report = check("relu_torch.py", "--strict", problem=str(FIXTURES / "kernelbench_relu.py"))
    assert proc.returncode == 1
    assert report["status"] == "policy_violation"
