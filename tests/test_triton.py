"""Triton solutions graded for real on the CPU, through Triton's interpreter (TRITON_INTERPRET=1), in the jail."""

from __future__ import annotations

import pytest

from kgtest import FIXTURES, ROOT, report_of, run_grader

pytest.importorskip("triton")

FAST = ("--device", "cpu", "--sandbox", "local", "--json", "--no-compile-baseline", "--max-timing-s", "1",
        "--trials", "2")


def check(solution, problem: str = "cpu_softmax") -> dict:
    p = run_grader("check", str(solution), "--problem", problem, *FAST)
    return report_of(p.stdout, p.stderr)


def test_triton_softmax_passes_through_the_interpreter():
    report = check(ROOT / "solutions" / "triton" / "cpu_softmax.py")
    assert report["status"] == "passed", report["message"] + report["worker_log"][-2000:]
    assert report["backend"] == "triton"
    assert "no_custom_kernel" not in report["flags"]
    assert report["max_abs_err"] < 1e-5 and report["runtime_ms"] > 0


def test_wrong_triton_softmax_fails():
    report = check(FIXTURES / "triton_softmax_wrong.py")
    assert report["status"] == "incorrect", report["message"]
    assert report["message"].startswith("wrong output on trial 1/2")


def test_first_call_runs_in_the_compile_phase_with_private_caches():
    report = check(FIXTURES / "triton_first_call_probe.py")
    assert report["status"] == "runtime_error"
    message = report["message"]
    # Failed in the warm-up call of the compile phase, not in correctness trial 1.
    warm_up = "compile: the first call (the compile phase's warm-up) failed: ValueError: probe"
    assert message.startswith(warm_up), message
    assert "'TRITON_INTERPRET': '1'" in message
    # Triton's cache is in the worker's private home, which the sandbox deletes with the worker.
    home = message.split("'HOME': '")[1].split("'")[0]
    assert f"'TRITON_CACHE_DIR': '{home}/.triton/cache'" in message
    assert home.startswith("/kg/w/") or "kgrader-" in home
