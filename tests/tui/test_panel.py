"""The grading panel belongs to the problem and attempt it shows: errors and F8 never cross to another problem,
the log is grouped per run under a heading, and the Report's newer fields are shown."""

from __future__ import annotations

import re

import pytest

from grader.models import PrecisionAudit, Report, Status, TimingStats
from tui_testlib import app_on, open_problem, paste_fixture, post_finished, wait_for

GRADE_TIMEOUT = 900


def _log(app) -> list[str]:
    return [line.text for line in app.main.panel.query_one("#log").lines]


async def test_compile_errors_and_f8_stay_with_their_problem(make_app):
    async with app_on(make_app, "cpu_hardswish", fixture="python_syntax_error.py") as (app, pilot):
        main = app.main
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: main.busy is None and main.panel.diagnostics, 60, "the check's error")
        assert main.panel.diagnostics[0].editor_line == 20

        await open_problem(pilot, app, "relu")                           # a CUDA problem: "no gpu" on this machine
        assert main.panel.diagnostics == []
        assert not main.query_one("#errors").display
        assert "line 20" not in main.panel.summary_text()
        assert "relu" in str(main.panel.border_title) and "cpu_hardswish" not in str(main.panel.border_title)
        await pilot.press("f8")
        assert main.editor.cursor_location == (0, 0)              # nothing to jump to in relu.py

        await open_problem(pilot, app, "cpu_hardswish")                  # back: its errors are back, F8 works again
        assert [d.editor_line for d in main.panel.diagnostics] == [20]
        assert "DOES NOT COMPILE" in main.panel.summary_text()
        await pilot.press("f8")
        assert main.editor.cursor_location[0] == 19


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_a_grading_that_ends_after_another_problem_opened_stays_with_its_own(make_app):
    # A C++ compile error: the grading compiles for a while, long enough to open another problem meanwhile.
    async with app_on(make_app, "cpu_softmax", fixture="softmax_compile_error.py") as (app, pilot):
        main = app.main
        await pilot.press("ctrl+r")
        assert main.busy == "grading"
        await open_problem(pilot, app, "cpu_hardswish")
        assert main.busy and "cpu_softmax · attempt #1" in str(main.panel.border_title)   # whose live run it is
        await wait_for(pilot, lambda: main.busy is None, GRADE_TIMEOUT, "the verdict")
        assert app.workspace.load_history("cpu_softmax").attempts[0].status == "compile_error"
        # cpu_hardswish is open: the verdict and the errors of cpu_softmax are not on its panel.
        assert main.panel.diagnostics == []
        assert "COMPILE ERROR" not in main.panel.summary_text()
        assert "cpu_hardswish" in str(main.panel.border_title)
        await pilot.press("f8")
        assert main.editor.cursor_location == (0, 0)

        await open_problem(pilot, app, "cpu_softmax")
        assert "COMPILE ERROR" in main.panel.summary_text()
        assert "#1" in str(main.panel.border_title)
        assert [d.editor_line for d in main.panel.diagnostics if d.editor_line][0] == 13
        await pilot.press("f8")
        assert main.editor.cursor_location[0] == 12


HEADING = re.compile(r"── (?P<problem>\w+) · (?P<what>attempt #\d+|compile check) · started \d\d:\d\d:\d\d ──")


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_the_log_groups_lines_per_run_under_a_heading(make_app):
    async with app_on(make_app, "cpu_hardswish") as (app, pilot):
        main = app.main
        for name in ("cpu_hardswish", "cpu_softmax"):
            await open_problem(pilot, app, name)
            await paste_fixture(pilot, app, "python_syntax_error.py")
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: main.busy is None and main.panel.diagnostics, 60, "the check")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: main.busy is None, GRADE_TIMEOUT, "the verdict")
        await pilot.pause()
        log = " ".join(" ".join(_log(app)).split())                 # the log wraps lines at spaces: undo that
        heads = list(HEADING.finditer(log))
        assert [(m["problem"], m["what"]) for m in heads] == [
            ("cpu_hardswish", "compile check"), ("cpu_softmax", "compile check"), ("cpu_softmax", "attempt #1")], log
        assert heads[0].start() == 0                                 # nothing ungrouped before the first run
        for m, end in zip(heads, [h.start() for h in heads[1:]] + [len(log)]):
            body = log[m.end():end]
            stamps = [float(x) for x in re.findall(r"(?:^| )(\d+\.\d)s ", body)]
            assert stamps and stamps[0] < 60 and stamps == sorted(stamps), body  # from the group's own start
        assert "verdict: compile_error" in log[heads[2].end():]


def _report(**over) -> Report:
    stats = dict(clock="host", runs=100, std_ms=0.01, min_ms=0.9, max_ms=1.2, rel_sem=0.004, stopped_by="rel_err",
                 l2_flushed=False)
    base = dict(status=Status.passed, message="correct on 2 trials; 1.85x vs eager", problem="cpu_softmax",
                solution="solution.py", device="cpu", sandbox="local", speedup=1.85, speedup_trusted=True,
                runtime_ms=0.98, runtime=TimingStats(median_ms=1.0, mean_ms=1.0, **stats), baseline_ms=1.85,
                max_abs_err=2.4e-8, max_rel_err=1.1e-6, duration_s=21.5)
    base.update(over)
    return Report(**base)


async def test_results_show_cache_precision_basis_and_dims(make_app):
    async with app_on(make_app, "cpu_softmax") as (app, pilot):
        main = app.main
        report = _report(compile_cached=True, speedup_basis="median of CUDA events",
                         precision=PrecisionAudit(candidate_err=3.1e-3, eager_err=2.0e-7, flagged=True,
                                                  note="looks like float16 arithmetic"),
                         dims={"batch_size": 64, "dim": 512})
        post_finished(app, report, main.editor.text)
        await wait_for(pilot, lambda: main.panel.last_status == "passed", 10, "the result")
        text = main.panel.summary_text(width=200)
        assert "cached" in text
        assert "0.98 ms" in text and "median of CUDA events" in text
        assert re.search(r"precision\s+.*candidate 0\.0031.*eager 2e-07", text), text
        assert "lower precision than asked" in text and "float16" in text
        assert "batch_size=64" in text and "dim=512" in text
        assert any("compile: from the cache" in line for line in _log(app))

        # Unset fields add no rows.
        post_finished(app, _report(), main.editor.text)
        await pilot.pause(0.3)
        text = main.panel.summary_text(width=200)
        assert "precision" not in text and "dims" not in text and "cached" not in text
