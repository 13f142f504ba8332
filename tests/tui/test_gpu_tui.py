"""The TUI on a GPU machine: find the GPU, open the CUDA problem `relu`, submit a CUDA solution, read the
verdict off the screen. Skipped where no CUDA GPU is visible (tests/conftest.py).

    python -m pytest tests/tui/test_gpu_tui.py -m gpu -s -v
"""

from __future__ import annotations

import os

import pytest

from tui_testlib import FIXTURES, fast_settings, wait_for, worker_processes

SIZE = (160, 48)


@pytest.mark.gpu
async def test_grade_cuda_relu_from_the_tui(make_app, tmp_path):
    solution = os.environ.get("KERNEL_TUI_GPU_SOLUTION", str(FIXTURES / "relu_cuda.py"))
    problem = os.environ.get("KERNEL_TUI_GPU_PROBLEM", "relu")
    settings = fast_settings(sandbox=os.environ.get("KERNEL_TUI_GPU_SANDBOX", "auto"), trials=3, max_timing_s=2.0,
                             baseline_compile=True)
    app = make_app(settings=settings, gpu=None)            # gpu=None: detect it as a user's app does
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.gpu is not None, 120, "GPU detection")
        assert app.gpu.available, app.gpu.note
        app.open_problem(problem)
        await wait_for(pilot, lambda: app.main.problem is not None, 30, "the problem to open")
        main = app.main
        ed = main.editor
        ed.replace(open(solution).read(), (0, 0), ed.document.end)
        await pilot.press("ctrl+r")
        assert main.busy == "grading", main.panel.summary_text()
        await wait_for(pilot, lambda: main.busy is None, 540, "the verdict", step=1.0)
        results = main.panel.summary_text()
        print(f"\n[kernel-tui on {app.gpu.name}] {problem}: {main.panel.last_status}\n{results}")
        history = app.workspace.load_history(problem)
        a = history.attempts[-1]
        print(f"attempt #{a.number}: {a.status}, speedup {a.speedup}, runtime {a.runtime_ms} ms, device {a.device}")
        assert main.panel.last_status == "passed", results
        assert a.speedup and a.speedup > 0
    assert not worker_processes()
