"""What both workers of a CPU grading get inside the jail, read by a solution at import."""

from __future__ import annotations

from kgtest import FIXTURES

from grader.judge import engine
from grader.models import GradeRequest

SOLUTION = """
import os
import torch.nn as nn

# Fails the grading unless the worker was started with the settings that keep both sides' timing alike.
expected = {expected!r}
seen = {{k: os.environ.get(k) for k in expected}}
assert seen == expected, f"worker environment {{seen}}, expected {{expected}}"


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
"""


def test_cpu_workers_keep_freed_memory_and_one_thread_pool_size(tmp_path):
    expected = {**engine.CPU_MALLOC, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    solution = tmp_path / "add_env.py"
    solution.write_text(SOLUTION.format(expected=expected))
    report = engine.grade(GradeRequest(solution=str(solution), problem=str(FIXTURES / "add_problem.py"), device="cpu",
                                       sandbox="local", trials=1, baseline_compile=False, max_timing_s=0.2))
    assert report.status.value == "passed", report.message
