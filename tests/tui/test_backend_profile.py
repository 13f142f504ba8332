"""The TUI names the editor's kernel language (read from its imports) in the status line, highlights Triton (it is
Python) in the editor, and shows a grading's Nsight Compute profile in the Profile tab (F5)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from grader.judge import ncu
from grader.models import Report, Status
from tui.workspace import Workspace
from tui_testlib import app_on, post_finished, wait_for

ROOT = Path(__file__).resolve().parents[2]
TRITON = (ROOT / "solutions" / "triton" / "cpu_softmax.py").read_text()
NCU_SAMPLE = (ROOT / "tests" / "fixtures" / "ncu" / "matmul_relu.csv").read_text()


async def test_status_line_names_the_backend_and_follows_edits(make_app, tmp_path):
    Workspace(tmp_path / "workspace").write_solution("cpu_softmax", TRITON)
    async with app_on(make_app, "cpu_softmax") as (app, pilot):
        main = app.main
        assert "cpu_softmax → cpu · Triton interpreter  │" in main.status_plain
        # Triton is Python: the editor's Python highlighting covers the kernel.
        ed = main.editor
        lines = TRITON.splitlines()
        deco = next(i for i, ln in enumerate(lines) if ln.startswith("@triton.jit"))
        body = next(i for i, ln in enumerate(lines) if "tl.exp(x)" in ln)
        assert ed._highlights[deco] and ed._highlights[body]
        imp = lines.index("import triton.language as tl")
        assert any(n in ("keyword", "include") for (s, e, n) in ed._highlights[imp])
        # Replacing the imports with load_inline's changes the label, live.
        ed.replace("from torch.utils.cpp_extension import load_inline\n", (0, 0), ed.document.end)
        await wait_for(pilot, lambda: "cpu_softmax → cpu · C++  │" in main.status_plain, 5,
                       "the label to follow the edit")


async def test_profile_tab_shows_the_kernels_of_a_profiled_grading(make_app):
    async with app_on(make_app, "cpu_softmax") as (app, pilot):
        await pilot.press("f5")
        await pilot.pause(0.2)
        assert "No profile yet" in _screen(app)
        report = Report(status=Status.passed, message="correct", problem="cpu_softmax", solution="solution.py",
                        device="NVIDIA H200", profile=ncu.parse_csv(NCU_SAMPLE))
        post_finished(app, report, app.main.editor.text)
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.main.query_one("#tabs").active == "profile", 5, "the Profile tab")
        await pilot.pause(0.2)
        shown = _screen(app)
        assert "matmul_tiled_kernel" in shown and "bias_relu_kernel" in shown and "3700 us" in shown
        assert "79.5%" in shown and "No profile yet" not in shown


def _screen(app) -> str:
    """The text on the screen, from Textual's own SVG export (spaces there are &#160;)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
