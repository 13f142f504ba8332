"""The main screen: problem browser, problem view, editor with the grading panel, and history."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import traceback
from pathlib import Path

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane, TextArea
from textual.worker import get_current_worker

from grader.errors import UsageError
from grader.jail import backends
from grader.judge.compile_map import diagnostics

from ..catalog import ProblemInfo
from ..compile_check import CompileCheck
from ..grading import build_request, choose_device, run_grade
from ..messages import (
    CheckFinished,
    CheckOutput,
    GradeCancelled,
    GradeFailed,
    GradeFinished,
    GradeProgress,
    InputsDescribed,
)
from ..starter import starter_source
from ..widgets.browser import ProblemBrowser
from ..widgets.editor import KernelEditor
from ..widgets.grade_panel import GradePanel, Outcome
from ..widgets.history_view import HistoryView
from ..widgets.problem_view import ProblemView
from ..widgets.profile_view import ProfileView
from ..workspace import Attempt
from .diff import DiffScreen

SNAPSHOT_NAME = "solution.py"   # what the grader sees; a unique folder per submission
TABS = Binding.Group("Tabs", compact=True)   # one footer entry for F2/F3/F4, so all the app keys fit in 140 columns


class MainScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("ctrl+r", "submit", "Submit", priority=True, tooltip="Grade the editor's solution"),
        Binding("ctrl+t", "check", "Check", priority=True,
                tooltip="Compile the inline C++/CUDA without running anything (works without a GPU)"),
        Binding("ctrl+g", "cancel", "Cancel", priority=True, tooltip="Stop the grading or check"),
        Binding("f8", "next_error", "Next error", priority=True, tooltip="Jump the editor to the next compile error"),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+o", "focus_browser", "Problems", priority=True),
        # Function keys are the app's in every widget: TextArea would take F6/F7 as "select line"/"select all".
        Binding("f2", "tab('problem')", "Problem", priority=True, group=TABS),
        Binding("f3", "tab('solution')", "Solution", priority=True, group=TABS),
        Binding("f4", "tab('history')", "History", priority=True, group=TABS),
        Binding("f5", "tab('profile')", "Profile", priority=True, group=TABS),
        Binding("f6", "settings", "Settings", priority=True),
        Binding("f7", "toggle_sidebar", "Sidebar", priority=True, tooltip="Show or hide the problem browser"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.problem: ProblemInfo | None = None        # open in the editor
        self.dirty = False
        self._saved_text = ""
        self._cancel = threading.Event()
        self._check: CompileCheck | None = None
        self._error_index = -1
        self._graded_problem: str | None = None
        self._outcomes: dict[str, Outcome] = {}        # problem name -> what its last run left on the panel
        self.status_plain = ""
        self.backend = backends.CUDA                   # the editor's kernel language, read from its imports

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield ProblemBrowser(self.app.catalog, id="sidebar")
            with TabbedContent(initial="problem", id="tabs"):
                with TabPane("Problem", id="problem"):
                    yield ProblemView(id="problem-view")
                with TabPane("Solution", id="solution"):
                    with Container(id="solution-split"):
                        self._editor = KernelEditor("", id="editor")
                        self._editor.border_title = "no problem open"
                        yield self._editor
                        self._panel = GradePanel(id="grade-panel")
                        yield self._panel
                with TabPane("History", id="history"):
                    yield HistoryView(id="history-view")
                with TabPane("Profile", id="profile"):
                    yield ProfileView(id="profile-view")
        yield Static("", id="status-bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(2.0, self._autosave_tick)
        self.refresh_badges()
        self.update_status()
        self.query_one("#search").focus()

    # ------------------------------------------------------------ helpers

    @property
    def editor(self) -> KernelEditor:
        return self._editor

    @property
    def panel(self) -> GradePanel:
        return self._panel

    @property
    def busy(self) -> str | None:
        return self.panel.running

    def update_status(self) -> None:
        app = self.app
        parts = []
        gpu = app.gpu
        if gpu is None:
            parts.append(Text("GPU: checking…", style="dim"))
        elif gpu.available:
            parts.append(Text(f"GPU: {gpu.name}", style="green"))
        else:
            parts.append(Text("no CUDA GPU: edit, ctrl+t compile-checks, CPU problems grade", style="yellow"))
        if self.problem is not None:
            device, _ = choose_device(app.settings, self.problem, gpu)
            parts.append(Text.assemble((f"{self.problem.name} → {device or 'cannot grade here'}",
                                        "bold" if device else "bold yellow"),
                                       (f" · {backends.label(self.backend, device or 'cuda')}", "cyan")))
            path = app.workspace.solution_path(self.problem.name)
            try:
                shown = str(path.relative_to(Path.cwd()))
            except ValueError:
                shown = str(path)
            parts.append(Text(shown + (" ● unsaved" if self.dirty else " ✓ saved"),
                              style="yellow" if self.dirty else "dim"))
        parts.append(Text(f"sandbox {app.settings.sandbox}", style="dim"))
        line = Text("  │  ").join(parts)
        self.status_plain = line.plain
        for bar in self.query("#status-bar").results(Static):  # none while the screen unmounts
            bar.update(line)

    def refresh_badges(self) -> None:
        browser = self.query_one(ProblemBrowser)
        ws = self.app.workspace
        folder = ws.root / "history"
        if not folder.is_dir():
            return
        for f in folder.glob("*.json"):
            h = ws.load_history(f.stem)
            browser.set_badge(h.problem, _badge(h))

    # ------------------------------------------------------------ browsing and opening

    @on(ProblemBrowser.Highlighted)
    def _preview(self, event: ProblemBrowser.Highlighted) -> None:
        self.preview(event.problem)

    @on(ProblemBrowser.Opened)
    def _open(self, event: ProblemBrowser.Opened) -> None:
        self.open_problem(event.problem)

    def preview(self, problem: ProblemInfo) -> None:
        inputs = self.app.describer.cached(problem.path)
        self.query_one(ProblemView).show(problem, inputs)
        if inputs is None:
            self.load_inputs(problem)

    @work(thread=True, exclusive=True, group="describe", exit_on_error=False)
    def load_inputs(self, problem: ProblemInfo) -> None:
        worker = get_current_worker()
        # A newer preview cancels this worker: its question is then skipped, not queued behind the others.
        inputs = self.app.describer.describe(problem.path, wanted=lambda: not worker.is_cancelled)
        if inputs is not None:
            self.post_message(InputsDescribed(problem, inputs))

    @on(InputsDescribed)
    def _described(self, message: InputsDescribed) -> None:
        self.query_one(ProblemView).set_inputs(message.problem, message.inputs)

    def open_problem(self, problem: ProblemInfo, tab: str = "solution") -> None:
        self.save_now()
        ws = self.app.workspace
        text = ws.read_solution(problem.name)
        if text is None:
            device, _ = choose_device(self.app.settings, problem, self.app.gpu)
            if device is None:
                device = "cpu" if problem.device == "cpu" else "cuda"
            text = starter_source(problem.name, problem.path, problem.meta, device)
            ws.write_solution(problem.name, text)
            self.notify(f"Started {ws.solution_path(problem.name).name} from the template", timeout=3)
        self.problem = problem
        self._saved_text = text
        self.editor.load_text(text)
        self.backend = backends.detect_source(text)
        self.dirty = False
        self.editor.border_title = f"{problem.name} · ModelNew"
        self.editor.border_subtitle = "ctrl+r submit · ctrl+t compile check · F8 next error"
        self.preview(problem)
        self.query_one(HistoryView).show(ws.load_history(problem.name))
        self.query_one(ProblemBrowser).select(problem.name)
        if not self.busy:
            self._show_panel_of(problem)
        if self.size.width < 100:   # small terminal: the editor needs the room; ctrl+o brings the list back
            self.query_one("#sidebar").display = False
        self.action_tab(tab)
        self.update_status()

    def open_by_name(self, name: str) -> bool:
        p = next((p for p in self.app.catalog if p.name == name), None)
        if p is None:
            self.notify(f"No problem named {name}", severity="error")
            return False
        self.open_problem(p)
        return True

    # ------------------------------------------------------------ saving

    @on(TextArea.Changed, "#editor")
    def _changed(self) -> None:
        if self.problem is None:
            return
        dirty = self.editor.text != self._saved_text
        backend = backends.detect_source(self.editor.text)
        if dirty != self.dirty or backend is not self.backend:
            self.dirty, self.backend = dirty, backend
            self.update_status()

    def _autosave_tick(self) -> None:
        if self.problem is not None and self.app.settings.autosave and self.editor.text != self._saved_text:
            self.save_now()

    def save_now(self) -> None:
        if self.problem is None:
            return
        text = self.editor.text
        if text == self._saved_text and not self.dirty:
            return
        try:
            self.app.workspace.write_solution(self.problem.name, text)
        except OSError as e:
            self.notify(f"Could not save: {e}", severity="error", timeout=10)
            return
        self._saved_text = text
        self.dirty = False
        if self.is_mounted:
            self.update_status()

    def action_save(self) -> None:
        if self.problem is None:
            self.notify("No problem open", severity="warning")
            return
        self.dirty = True
        self.save_now()
        self.notify(f"Saved {self.app.workspace.solution_path(self.problem.name)}", timeout=2)

    # ------------------------------------------------------------ grading

    def action_submit(self) -> None:
        if self.busy:
            self.notify(f"A {self.busy} is running; ctrl+g cancels it", severity="warning")
            return
        if self.problem is None:
            self.notify("Open a problem first (ctrl+o, then enter)", severity="warning")
            return
        problem, settings = self.problem, self.app.settings
        device, why = choose_device(settings, problem, self.app.gpu)
        if device is None:
            self.action_tab("solution")
            self.panel.stop("no gpu", why)
            self.notify(why, title="Cannot grade here", severity="warning", timeout=10)
            return
        self.save_now()
        source = self.editor.text
        folder = Path(tempfile.mkdtemp(prefix="kernel-tui-"))
        snapshot = folder / SNAPSHOT_NAME
        snapshot.write_text(source)
        try:
            request = build_request(settings, problem, snapshot, device)
        except ValidationError as e:
            shutil.rmtree(folder, ignore_errors=True)
            self.notify(str(e.errors()[0]["msg"]), severity="error")
            return
        self.action_tab("solution")
        self._cancel = threading.Event()
        self._graded_problem = problem.name
        number = self.app.workspace.load_history(problem.name).next_number()
        self.panel.begin("grading", f"grading {problem.name} on {device} ({settings.sandbox} sandbox)",
                         problem.name, f"attempt #{number}", settings.max_timing_s)
        self.grade_worker(request, problem, number, source, folder)

    @work(thread=True, group="grade", exit_on_error=False)
    def grade_worker(self, request, problem: ProblemInfo, number: int, source: str, folder: Path) -> None:
        from grader.judge.engine import Cancelled

        cancel = self._cancel
        try:
            report = run_grade(request, lambda ev: self.post_message(GradeProgress(ev)), cancel)
            msg = GradeFinished(report, source, SNAPSHOT_NAME)
        except Cancelled:
            msg = GradeCancelled(source)
        except UsageError as e:
            msg = GradeFailed(str(e), source)
        except Exception as e:  # noqa: BLE001 - shown to the user, never swallowed
            msg = GradeFailed(f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-6)}", source)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        msg.problem, msg.number = problem, number
        self.post_message(msg)

    @on(GradeProgress)
    def _progress(self, message: GradeProgress) -> None:
        self.panel.event(message.event)

    @on(GradeFinished)
    def _finished(self, message: GradeFinished) -> None:
        report, problem = message.report, message.problem
        self.panel.finish(report)
        if report.profile is not None:
            self.query_one(ProfileView).show(report)
        diags = []
        if report.status.value in ("compile_error", "runtime_error"):
            diags = diagnostics("\n".join([report.compile_log, report.message, report.worker_log]), message.source,
                                message.solution_name)
            if report.status.value == "runtime_error":
                diags = [d for d in diags if d.editor_line]
        self._set_diagnostics(diags, problem)
        attempt = self._record(problem, message.number, lambda n: Attempt.from_report(n, report, message.source))
        open_here = self.problem is not None and self.problem.name == problem.name
        if not (open_here and any(d.editor_line for d in diags)):   # else the error's own notice says it all
            style = "information" if report.passed else "warning"
            self.notify(f"#{attempt.number}: {report.message[:200]}", title=f"{problem.name}: {report.status.value}",
                        severity=style, timeout=6)
        self._keep(problem)

    @on(GradeCancelled)
    def _cancelled(self, message: GradeCancelled) -> None:
        self.panel.stop("cancelled", "grading cancelled; every worker was stopped")
        self._record(message.problem, message.number,
                     lambda n: Attempt(number=n, status="cancelled", message="cancelled", source=message.source))
        self._keep(message.problem)

    @on(GradeFailed)
    def _failed(self, message: GradeFailed) -> None:
        self.panel.stop("error", message.text.splitlines()[0])
        for line in message.text.splitlines()[1:]:
            self.panel.write(line, style="dim")
        self.notify(message.text.splitlines()[0], title="Grading refused", severity="error", timeout=10)
        self._keep(message.problem)

    def _show_panel_of(self, problem: ProblemInfo) -> None:
        """The panel as `problem`'s last run left it in this session, else ready (or why it cannot grade here)."""
        kept = self._outcomes.get(problem.name)
        if kept is not None:
            self.panel.show_outcome(kept)
            return
        self.panel.reset(problem.name)
        device, why = choose_device(self.app.settings, problem, self.app.gpu)
        if device is None and self.app.gpu is not None:
            self.panel.stop("no gpu", why)

    def _keep(self, problem: ProblemInfo) -> None:
        """A run of `problem` ended: keep its panel for it; if another problem is open now, show that one's."""
        self._outcomes[problem.name] = self.panel.outcome()
        if self.problem is not None and self.problem.name != problem.name:
            self._show_panel_of(self.problem)

    def _record(self, problem: ProblemInfo, number: int, make) -> Attempt:
        ws = self.app.workspace
        history = ws.load_history(problem.name)
        attempt = make(max(number, history.next_number()))   # the number its log heading announced
        history = ws.add_attempt(problem.name, attempt)
        if self.problem is not None and self.problem.name == problem.name:
            self.query_one(HistoryView).show(history)
        self.query_one(ProblemBrowser).set_badge(problem.name, _badge(history))
        return attempt

    def _set_diagnostics(self, diags, problem: ProblemInfo) -> None:
        self._error_index = -1
        self.panel.set_diagnostics(diags)
        mapped = [d for d in diags if d.editor_line]
        if mapped and self.problem is not None and self.problem.name == problem.name:
            self.notify(f"line {mapped[0].editor_line}: {mapped[0].message[:120]} — F8 jumps there",
                        severity="error", timeout=8)

    # ------------------------------------------------------------ compile-only check

    def action_check(self) -> None:
        if self.busy:
            self.notify(f"A {self.busy} is running; ctrl+g cancels it", severity="warning")
            return
        if self.problem is None:
            self.notify("Open a problem first", severity="warning")
            return
        self.save_now()
        source = self.editor.text
        self._check = CompileCheck(source, SNAPSHOT_NAME, sandbox=self.app.settings.sandbox)
        self.action_tab("solution")
        self.panel.begin("check", f"compile check of {self.problem.name} (nothing of the solution runs)",
                         self.problem.name, "compile check")
        self.check_worker(self._check, source, self.problem)

    @work(thread=True, group="check", exit_on_error=False)
    def check_worker(self, check: CompileCheck, source: str, problem: ProblemInfo) -> None:
        try:
            result = check.run(on_line=lambda line: self.post_message(CheckOutput(line)))
        except Exception as e:  # noqa: BLE001
            from ..compile_check import CheckResult
            result = CheckResult(False, f"check failed: {type(e).__name__}: {e}")
        msg = CheckFinished(result, source)
        msg.problem = problem
        self.post_message(msg)

    @on(CheckOutput)
    def _check_line(self, message: CheckOutput) -> None:
        self.panel.write(message.line, style="dim")

    @on(CheckFinished)
    def _check_done(self, message: CheckFinished) -> None:
        r = message.result
        self._check = None
        if r.cancelled:
            self.panel.stop("cancelled", "compile check cancelled; the compilers were stopped")
        else:
            self.panel.finish_check(r.ok, r.message)
            self._set_diagnostics(r.diagnostics, message.problem)
        self._keep(message.problem)

    # ------------------------------------------------------------ cancel, errors, tabs

    def action_cancel(self) -> None:
        if self.busy == "grading":
            self._cancel.set()
            self.panel.write("cancelling: stopping the workers…", style="yellow")
        elif self.busy == "check" and self._check is not None:
            self._check.cancel()
            self.panel.write("cancelling the compile check…", style="yellow")
        else:
            self.notify("Nothing to cancel", timeout=2)

    def stop_all(self) -> None:
        """Ask every background job to stop (quitting); they end within a second or so."""
        self._cancel.set()
        if self._check is not None:
            self._check.cancel()

    async def wait_idle(self, timeout: float = 20.0) -> None:
        workers = [w for w in self.app.workers if w.group in ("grade", "check") and not w.is_finished]
        if workers:
            try:
                await asyncio.wait_for(self.app.workers.wait_for_complete(workers), timeout)
            except asyncio.TimeoutError:
                pass

    def action_next_error(self) -> None:
        if self.problem is None or self.panel.owner != self.problem.name:
            self.notify("No compile errors of this problem to jump to", timeout=3)
            return
        mapped = [d for d in self.panel.diagnostics if d.editor_line]
        if not mapped:
            self.notify("No compile errors to jump to" if not self.panel.diagnostics else
                        "These errors are in code the editor cannot map (generated or non-literal sources)",
                        timeout=3)
            return
        self._error_index = (self._error_index + 1) % len(mapped)
        self.jump(mapped[self._error_index])

    @on(GradePanel.JumpTo)
    def _jump_to(self, message: GradePanel.JumpTo) -> None:
        if message.diagnostic.editor_line:
            self.jump(message.diagnostic)
        else:
            self.notify("This error is in generated code; no editor line", timeout=3)

    def jump(self, d) -> None:
        self.action_tab("solution")
        self.editor.go_to(d.editor_line, d.editor_col)
        self.app.clear_notifications()
        self.notify(f"line {d.editor_line}: {d.message[:160]}", timeout=5)

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        if tab == "solution" and self.problem is not None:
            self.editor.focus()
        elif tab == "history":
            self.query_one("#attempts").focus()

    def action_focus_browser(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = True
        self.query_one("#search").focus()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        if not sidebar.display and self.focused is not None and sidebar in self.focused.ancestors:
            # Focus must not stay on a hidden widget.
            pane = self.query_one("#tabs", TabbedContent).active_pane
            target = next((w for w in pane.query("*") if w.focusable), None) if pane is not None else None
            self.set_focus(target)

    def action_settings(self) -> None:
        self.app.action_settings()

    # ------------------------------------------------------------ history actions

    @on(HistoryView.DiffRequested)
    def _diff(self, message: HistoryView.DiffRequested) -> None:
        if self.problem is not None:
            self.app.push_screen(DiffScreen(message.attempt, self.editor.text, self.problem.name))

    @on(HistoryView.RestoreRequested)
    def _restore(self, message: HistoryView.RestoreRequested) -> None:
        if self.problem is None:
            return
        self.editor.replace(message.attempt.source, (0, 0), self.editor.document.end)  # undoable
        self.action_tab("solution")
        self.notify(f"Restored attempt #{message.attempt.number}; ctrl+z undoes", timeout=4)

    def load_reference(self) -> None:
        if self.problem is None:
            return
        ref = self.problem.reference_solution()
        if ref is None:
            self.notify(f"No reference solution for {self.problem.name}", severity="warning")
            return
        ws = self.app.workspace
        backup = ws.solution_path(self.problem.name).with_suffix(".py.bak")
        backup.write_text(self.editor.text)
        self.editor.replace(ref.read_text(), (0, 0), self.editor.document.end)
        self.save_now()
        self.notify(f"Loaded {ref.name}; your previous text is in {backup.name}", timeout=5)

    def on_unmount(self) -> None:
        self.stop_all()
        self.save_now()


def _badge(history) -> Text | None:
    if not history.attempts:
        return None
    best = history.best_speedup()
    if best is not None:
        return Text(f"✓ {best:.2f}x", style="green")
    last = history.attempts[-1]
    return Text("✗", style="red") if last.status not in ("cancelled",) else Text("·", style="dim")
