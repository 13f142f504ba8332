"""Attacks on how outputs reach the grader: forged descriptors, wrong counts, short or huge CUDA handles.

A solution that rewrites its worker's hand-over must end as a protocol_violation: the grader checks every
descriptor's kind and count before any driver call, and maps a CUDA handle only for the size the output's
declared dtype and shape imply, bounded by the worker's GPU memory. The first group runs on CPU gradings, where
any descriptor at all is a violation; the second needs a GPU (the CUDA path itself).
"""

from __future__ import annotations

import pytest

from adv_helpers import PROBLEMS, explain, grade, render


def _violation(report):
    assert report["status"] == "runtime_error", explain(report)
    assert "protocol_violation" in report["flags"], explain(report)
    assert "reference_failed" not in report["flags"], explain(report)


@pytest.mark.parametrize("mode", ["pipe", "file", "stray", "missing", "flood"])
def test_descriptors_on_a_cpu_grading_are_a_protocol_violation(tmp_path, mode):
    proc, report = grade(render("handover_forgery.py", tmp_path, MODE=mode))
    _violation(report)


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["pipe", "file", "stray", "missing", "flood", "short", "huge"])
def test_forged_cuda_handles_are_a_protocol_violation(tmp_path, mode):
    proc, report = grade(render("handover_forgery.py", tmp_path, MODE=mode), problem=PROBLEMS / "relu_64mb.py",
                         device="cuda")
    _violation(report)
