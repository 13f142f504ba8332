"""Forged verdicts: a solution that lies about equality, about time, or about the result itself.

The verdict is decided in the trusted grader from raw bytes and its own clock, so none of these can
change it; these tests prove it on the real CLI.
"""

from __future__ import annotations

import json
import platform

import pytest
from adv_helpers import MATMUL, SOLUTIONS, explain, grade, overruled_by_the_graders_clock


def test_patched_comparisons_and_fake_report_lines_do_not_pass_a_wrong_answer():
    proc, report = grade(SOLUTIONS / "forge_compare.py")
    assert report["status"] == "incorrect", explain(report)
    assert proc.returncode == 1
    assert "tampering" in report["flags"]
    # stdout holds exactly one line, the grader's report; stderr only the grader's progress events.
    assert len(proc.stdout.strip().splitlines()) == 1
    for line in proc.stderr.strip().splitlines():
        event = json.loads(line)
        assert "phase" in event and "speedup" not in event, line


def test_writes_to_every_descriptor_change_nothing():
    proc, report = grade(SOLUTIONS / "fd_spray.py")
    # The channel sits on a descriptor above 63 and the log is a pipe the grader only reads into the
    # report's log: the right answer still passes, with its honest (plain PyTorch) speedup.
    assert report["status"] == "passed", explain(report)
    assert report["speedup"] < 5
    assert len(proc.stdout.strip().splitlines()) == 1


def test_tensor_subclass_claiming_equality_is_incorrect():
    proc, report = grade(SOLUTIONS / "tensor_subclass.py")
    assert report["status"] == "incorrect", explain(report)
    assert "tampering" in report["flags"]


def test_stopped_clocks_and_fake_events_do_not_shorten_the_timing():
    # time.perf_counter & co. return 0, Event.elapsed_time returns 1e-6; each call really takes 2 ms.
    proc, report = grade(SOLUTIONS / "clock_patch.py")
    assert report["status"] == "passed", explain(report)
    assert report["runtime_ms"] >= 1.5, "the worker's timer was fooled"
    assert report["speedup"] < 0.5
    assert "tampering" in report["flags"] and report["speedup_trusted"] is False


def test_patched_harness_clock_is_caught_by_the_graders_own_clock():
    # The worker's own clock runs 100x slow: it reports ~0.002 ms for a 0.2 ms call (a claimed ~1.5x).
    proc, report = grade(SOLUTIONS / "harness_clock.py")
    assert report["status"] == "passed", explain(report)
    assert report["runtime"]["median_ms"] < 0.01, "the forgery did not take (test is moot)"
    assert overruled_by_the_graders_clock(report), explain(report)
    assert report["speedup"] < 0.1, "the speedup reported is the forged one"


def test_subtly_scaled_harness_clock_cannot_lift_the_speedup():
    # The worker's clock runs at 0.7x: every figure it reports is 30% short, an honest ~1x reads ~1.4x.
    proc, report = grade(SOLUTIONS / "scaled_timer.py", problem=MATMUL)
    assert report["status"] == "passed", explain(report)
    # On a busy machine the interleaved rounds can spread wider than the 30% forged (in CI beside the other
    # tests: 27 ms a call by the slowed clock against eager's 21.5 ms for the same matmul): the speedup is then
    # withheld as noisy, which holds it back as well as the grader's clock would.
    noisy = "noisy_timing" in report["flags"] and report["speedup_trusted"] is False
    assert overruled_by_the_graders_clock(report) or noisy, explain(report)
    assert report["speedup"] < 1.3, explain(report)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the patch writes x86-64 machine code")
def test_clock_patched_below_python_cannot_lift_the_speedup():
    # Compiled code rewrites libc's clock_gettime so CLOCK_MONOTONIC runs at half speed in the worker: no
    # Python-level binding in the harness escapes it. The grader's clock is in another process.
    proc, report = grade(SOLUTIONS / "libc_clock_patch.py", problem=MATMUL)
    assert report["status"] == "passed", explain(report)
    assert overruled_by_the_graders_clock(report), explain(report)
    assert report["speedup"] < 1.3, explain(report)
