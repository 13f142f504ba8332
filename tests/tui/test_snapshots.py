"""Snapshot tests of the main screens (pytest-textual-snapshot). Update with `pytest tests/tui --snapshot-update`
after checking the new pictures; every state here is reached without grading anything."""

from __future__ import annotations

from datetime import datetime, timezone

from grader.models import PrecisionAudit, Report, Status, TimingStats
from tui.workspace import Attempt, History, Workspace
from tui_testlib import FIXTURES, open_problem, post_finished, wait_for

SIZE = (140, 40)


def _prepare(tmp_path, with_solution=True, with_history=False):
    ws = Workspace(tmp_path / "workspace")
    text = (FIXTURES / "softmax_ok.py").read_text()
    if with_solution:
        ws.write_solution("cpu_softmax", text)
    if with_history:
        h = History(problem="cpu_softmax")
        speedups = [None, 0.8, 1.6, None, 2.4]
        statuses = ["compile_error", "passed", "passed", "incorrect", "passed"]
        for i, (sp, st) in enumerate(zip(speedups, statuses), 1):
            h.attempts.append(Attempt(number=i, time=datetime(2025, 1, 2, 10, i, 0, tzinfo=timezone.utc),
                                      status=st, speedup=sp, runtime_ms=(1.0 / sp if sp else None), device="cpu",
                                      message=f"attempt {i}", source=text.replace("-O2", f"-O{i % 4}")))
        ws.save_history(h)
    return ws


def _app(make_app):
    app = make_app()
    app.probe_sandboxes = False
    return app


async def _open(pilot, name="cpu_softmax"):
    await open_problem(pilot, pilot.app, name)
    pilot.app.main.editor.cursor_blink = False   # the focused editor's cursor would blink into the picture
    await pilot.pause(0.3)


def test_start_screen(snap_compare, make_app):
    async def run_before(pilot):
        await wait_for(pilot, lambda: pilot.app.main.is_mounted, 10, "the main screen")
        pilot.app.main.query_one("#search").cursor_blink = False   # focused at start: it would blink

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_problem_view(snap_compare, make_app):
    async def run_before(pilot):
        await pilot.press("ctrl+o", *"cpu_softmax", "enter")
        view = pilot.app.main.query_one("ProblemView")
        await wait_for(pilot, lambda: view.inputs is not None, 120, "input shapes")
        await pilot.pause(0.2)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_editor_with_inline_cpp(snap_compare, make_app, tmp_path):
    _prepare(tmp_path)

    async def run_before(pilot):
        await _open(pilot)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_results_panel_after_a_grading(snap_compare, make_app, tmp_path):
    _prepare(tmp_path)
    stats = dict(clock="host", runs=100, std_ms=0.01, min_ms=0.9, max_ms=1.2, rel_sem=0.004, stopped_by="rel_err",
                 l2_flushed=False)
    report = Report(status=Status.passed, message="correct on 2 trials; 1.85x vs eager (1 ms vs 1.85 ms)",
                    problem="cpu_softmax", solution="solution.py", device="cpu", sandbox="local", speedup=1.85,
                    speedup_trusted=True, runtime_ms=1.0, runtime=TimingStats(median_ms=1.0, mean_ms=1.0, **stats),
                    baseline_ms=1.85, max_abs_err=2.4e-8, max_rel_err=1.1e-6, duration_s=21.5,
                    compile_cached=True, speedup_basis="median of the host clock over 100 runs",
                    precision=PrecisionAudit(candidate_err=1.2e-7, eager_err=9.0e-8), dims={"batch_size": 64})

    async def run_before(pilot):
        await _open(pilot)
        post_finished(pilot.app, report, pilot.app.main.editor.text)
        await pilot.pause(0.3)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_compile_error_list(snap_compare, make_app, tmp_path):
    ws = _prepare(tmp_path, with_solution=False)
    src = (FIXTURES / "softmax_compile_error.py").read_text()
    ws.write_solution("cpu_softmax", src)
    report = Report(status=Status.compile_error, problem="cpu_softmax", solution="solution.py", device="cpu",
                    sandbox="local", duration_s=9.0,
                    message="main.cpp:8:15: error: 'undeclared_max' was not declared in this scope",
                    compile_log="/kg/build/tui_test_softmax_broken/main.cpp:8:15: error: 'undeclared_max' was "
                                "not declared in this scope\n    8 |     float m = undeclared_max(in);\n")

    async def run_before(pilot):
        await _open(pilot)
        post_finished(pilot.app, report, src)
        main = pilot.app.main
        # Wait on state, not on the clock: a loaded CI machine needs longer than a fixed pause.
        await wait_for(pilot, lambda: any(d.editor_line for d in main.panel.diagnostics), 20, "the error list")
        line = next(d.editor_line for d in main.panel.diagnostics if d.editor_line)
        await pilot.press("f8")
        await wait_for(pilot, lambda: main.editor.cursor_location[0] == line - 1, 20, "the jump to the error")
        await pilot.pause()

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_history_tab(snap_compare, make_app, tmp_path):
    _prepare(tmp_path, with_history=True)

    async def run_before(pilot):
        await _open(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_diff_screen(snap_compare, make_app, tmp_path):
    _prepare(tmp_path, with_history=True)

    async def run_before(pilot):
        await _open(pilot)
        await pilot.press("f4", "down", "d")
        await pilot.pause(0.2)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_settings_screen(snap_compare, make_app):
    async def run_before(pilot):
        await pilot.press("f6")
        await pilot.pause(0.2)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_narrow_terminal_stacks_the_grade_panel(snap_compare, make_app, tmp_path):
    _prepare(tmp_path)

    async def run_before(pilot):
        await _open(pilot)

    assert snap_compare(_app(make_app), terminal_size=(100, 40), run_before=run_before)
