"""The attacks that need a GPU: run on the H100 (skipped without CUDA).

    python -m pytest -q tests/adversarial/test_gpu_attacks.py

Each is graded with `--sandbox local`; the last test checks that an honest CUDA solution still passes
with a trusted speedup after all of them, and prints its figures for the record.
"""

from __future__ import annotations

import pytest

from adv_helpers import FIXTURES, PROBLEMS, SOLUTIONS, explain, grade

pytestmark = pytest.mark.gpu

MATMUL_GPU = PROBLEMS / "matmul_gpu.py"
KB_ADD = FIXTURES / "kb_add.py"


def cuda(solution, *args, problem=KB_ADD, **kw):
    return grade(solution, *args, problem=problem, device="cuda", **kw)


def test_side_stream_work_is_not_hidden_from_the_timing():
    proc, report = cuda(SOLUTIONS / "gpu_side_stream.py", problem=MATMUL_GPU)
    assert "side_stream" in report["flags"], explain(report)
    # Every containment the grader can honestly report: the speedup corrected and marked untrusted; the timing
    # refused outright (as on the H100, where the grader's own back-to-back runs took 100x what the events
    # claimed); or the outputs of the grader's own timed calls wrong, read on the stream they were returned on
    # before the side stream finished (as on the H200).
    if report["status"] == "passed":
        assert "timing_mismatch" in report["flags"], explain(report)
        assert report["speedup_trusted"] is False and report["speedup"] < 2, explain(report)
    elif report["status"] == "incorrect":
        assert "wrong_while_timed" in report["flags"] and "timed calls" in report["message"], explain(report)
    else:
        assert report["status"] == "timeout" and report["speedup"] is None, explain(report)


def test_content_cache_is_caught_by_fresh_inputs_on_gpu():
    proc, report = cuda(SOLUTIONS / "content_cache.py", problem=MATMUL_GPU)
    # Every fresh input of the grader's own windows is a miss that the cache also keeps (256 MB each): either
    # the windows' figure replaces the cached one, or the hoard outgrows the GPU memory limit first.
    if report["status"] == "passed":
        assert "timing_mismatch" in report["flags"], explain(report)
        assert report["speedup_trusted"] is False and report["speedup"] < 3, explain(report)
    else:
        assert report["status"] in ("resource_limit", "runtime_error"), explain(report)
        assert "memory" in report["message"].lower() and report["speedup"] is None, explain(report)


def test_scaled_cuda_events_cannot_lift_the_speedup():
    # The worker's event intervals read 0.7x: an honest ~1x claims ~1.4x. The grader's own clock decides.
    proc, report = cuda(SOLUTIONS / "gpu_scaled_events.py", problem=MATMUL_GPU)
    assert report["status"] == "passed", explain(report)
    assert "timing_mismatch" in report["flags"] and report["speedup_trusted"] is False, explain(report)
    assert report["runtime_ms"] == report["trusted_runtime_ms"], "the speedup used the forged figure"
    assert report["speedup"] < 1.15, explain(report)


def test_gpu_memory_hog_is_stopped_from_outside():
    from sandbox import gpu_memory

    assert gpu_memory.available(), "NVML is missing: `pip install nvidia-ml-py`, or the GPU memory watchdog is blind"
    proc, report = cuda(SOLUTIONS / "gpu_memory_hog.py", "--gpu-memory-limit-mb", "4096", "--timeout", "120")
    assert report["status"] == "resource_limit", explain(report)
    assert "GPU memory" in report["message"], explain(report)


def test_illegal_memory_access_is_a_runtime_error():
    proc, report = cuda(SOLUTIONS / "gpu_illegal_access.py", "--timeout", "300")
    assert report["status"] == "runtime_error", explain(report)
    assert "reference_failed" not in report["flags"], explain(report)


def test_kernel_that_never_ends_times_out():
    proc, report = cuda(SOLUTIONS / "gpu_spin_kernel.py", "--timeout", "120")
    assert report["status"] == "timeout", explain(report)


def test_decoy_kernel_is_hinted_by_the_profiler():
    proc, report = cuda(SOLUTIONS / "gpu_decoy_kernel.py", "--timeout", "300")
    assert report["status"] == "passed", explain(report)
    assert "reference_kernels_remain" in report["flags"], explain(report)


def test_zz_honest_cuda_solution_still_passes_trusted_after_the_attacks():
    proc, report = cuda(FIXTURES / "kb_add_cuda.py", fast=False)
    print(f"\nkb_add_cuda: {report['status']} {report['message']} flags={report['flags']} "
          f"runtime={report['runtime_ms']} baseline={report['baseline_ms']} compile={report['baseline_compile_ms']}")
    assert report["status"] == "passed", explain(report)
    assert report["speedup_trusted"] is True and "timing_mismatch" not in report["flags"], explain(report)
    assert report["flags"] == [], explain(report)
