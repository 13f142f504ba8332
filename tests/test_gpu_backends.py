"""Triton, CuTe DSL and --profile on a real GPU: run on the H200 through the device tool."""

import pytest

from kgtest import ROOT, report_of, run_grader

pytestmark = pytest.mark.gpu


def grade(solution, problem: str, *args: str) -> dict:
    proc = run_grader("check", str(solution), "--problem", problem, "--device", "cuda", "--json", "--sandbox",
                      "local", "--no-compile-baseline", *args)
    report = report_of(proc.stdout, proc.stderr)
    print(f"\n{problem}: {report['status']} {report['message']}  flags={report['flags']}")
    return report


def test_triton_softmax_passes_with_its_own_kernel():
    report = grade(ROOT / "solutions" / "triton" / "softmax.py", "softmax")
    assert report["status"] == "passed", report["message"] + report["worker_log"][-2000:]
    assert report["backend"] == "triton" and "no_custom_kernel" not in report["flags"]
    assert report["speedup_trusted"], report["flags"]


def test_cute_relu_passes():
    pytest.importorskip("cutlass.cute")
    report = grade(ROOT / "solutions" / "cute" / "relu.py", "relu")
    assert report["status"] == "passed", report["message"] + report["worker_log"][-2000:]
    assert report["backend"] == "cute" and "no_custom_kernel" not in report["flags"]


@pytest.mark.parametrize("solution, problem", [("relu.py", "relu"), ("matmul.py", "matmul")])
def test_profile_names_the_solutions_kernels(solution, problem):
    from grader.judge import ncu

    if ncu.find() is None:
        pytest.skip("no Nsight Compute here")
    report = grade(ROOT / "solutions" / "level1" / solution, problem, "--profile")
    assert report["status"] == "passed", report["message"]
    rows, note = report["profile"], report["profile_note"]
    if not rows and "ERR_NVGPUCTRPERM" in note:
        pytest.skip(note)
    assert rows, note
    for row in rows:
        print(row)
    assert all(r["duration_us"] > 0 and r["registers"] and r["limiter"] for r in rows), rows
