"""Live grading: the phase, a progress bar, the verdict, compile errors to jump to, and a scrolling log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, ProgressBar, RichLog, Static
from textual.widgets.option_list import Option

from grader.cli.display import runtime_text, timing_detail
from grader.judge.compile_map import Diagnostic
from grader.models import Phase, PrecisionAudit, ProgressEvent, Report

from .plain import plain_text

PHASE_TITLES = {Phase.load: "start workers", Phase.compile: "compile", Phase.correctness: "correctness",
                Phase.timing: "timing", Phase.baseline: "baselines", Phase.done: "done"}
# Where each phase starts on the progress bar (out of 100).
PHASE_SPAN = {Phase.load: (0, 5), Phase.compile: (5, 40), Phase.correctness: (40, 60), Phase.timing: (60, 80),
              Phase.baseline: (80, 100)}
STATUS_STYLE = {"passed": "bold green", "incorrect": "bold red", "compile_error": "bold red",
                "runtime_error": "bold red", "timeout": "bold yellow", "resource_limit": "bold yellow",
                "policy_violation": "bold magenta", "cancelled": "bold yellow", "error": "bold red"}


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g} ms"


@dataclass
class Outcome:
    """What the panel shows of one finished run; the screen keeps one per problem and shows it on reopening."""

    owner: str
    what: str
    phase: Text
    results: object
    status: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


class GradePanel(Vertical):
    """Shows one problem's run at a time: `owner` names the problem, `what` the attempt or check (border title)."""

    class JumpTo(Message):
        def __init__(self, diagnostic: Diagnostic) -> None:
            super().__init__()
            self.diagnostic = diagnostic

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.running: str | None = None      # "grade" or "check" while one runs
        self.phase: Phase | None = None
        self.started = 0.0
        self.phase_started = 0.0
        self.detail = ""
        self.max_timing_s = 10.0
        self.diagnostics: list[Diagnostic] = []
        self.last_status: str | None = None
        self.owner: str | None = None
        self.what = ""
        self._phase_r = None     # what #phase and #results show, kept for summary_text()
        self._results_r = None

    def compose(self) -> ComposeResult:
        yield Static(Text("ready · ctrl+r submits, ctrl+t checks that it compiles", style="dim"), id="phase")
        yield ProgressBar(total=100, show_eta=False, id="progress")
        yield Static("", id="results")
        errors = OptionList(id="errors")
        errors.border_title = "compile errors · enter or F8 jumps to the line"
        yield errors
        log = RichLog(id="log", wrap=True, markup=False, highlight=False, max_lines=5000, min_width=20)
        log.border_title = "log"
        yield log

    def on_mount(self) -> None:
        self.query_one("#errors").display = False
        self.set_interval(0.5, self._tick)

    # ------------------------------------------------------------ driving it

    def _own(self, owner: str | None, what: str) -> None:
        self.owner, self.what = owner, what
        self.border_title = " · ".join(x for x in (owner, what) if x)

    def begin(self, kind: str, title: str, owner: str, what: str, max_timing_s: float = 10.0) -> None:
        """A new run: its lines go under a heading naming the problem, the attempt (or check) and the time."""
        self.running = kind
        self.phase = None
        self._own(owner, what)
        self.started = self.phase_started = time.monotonic()
        self.query_one("#log", RichLog).write(Text(f"── {owner} · {what} · started {time.strftime('%H:%M:%S')} ──",
                                                   style="bold reverse"))
        self.max_timing_s = max_timing_s
        self.detail = ""
        self.set_diagnostics([])
        self._set_results("")
        self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        self.write(title, style="bold")
        self._set_phase(Text.assemble(("● ", "cyan"), title))
        self.add_class("-running")

    def reset(self, owner: str, hint: str = "") -> None:
        """Back to idle for a newly opened problem (the log is kept)."""
        self.running = None
        self._own(owner, "")
        self.phase = None
        self.last_status = None
        self.set_diagnostics([])
        self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        self._set_results(Text(hint, style="yellow") if hint else "")
        self._set_phase(Text("ready · ctrl+r submits, ctrl+t checks that it compiles", style="dim"))

    def write(self, line: str, style: str = "") -> None:
        stamp = f"{time.monotonic() - self.started:6.1f}s  " if self.started else "         "
        self.query_one("#log", RichLog).write(Text.assemble((stamp, "dim"), (line, style)))

    def event(self, ev: ProgressEvent) -> None:
        bar = self.query_one("#progress", ProgressBar)
        title = PHASE_TITLES.get(ev.phase, ev.phase.value)
        if ev.phase is not self.phase and ev.phase is not Phase.done:
            self.phase = ev.phase
            self.phase_started = time.monotonic()
        lo, hi = PHASE_SPAN.get(ev.phase, (100, 100))
        if ev.kind == "start":
            self.detail = ev.message
            if ev.phase is Phase.baseline and ev.label == "compile":
                lo = (lo + hi) / 2
            bar.update(progress=max(bar.progress, lo))
            self.write(f"{title}: {ev.message}")
        elif ev.kind == "trial":
            mark = "✓" if ev.ok else "✗"
            self.detail = f"trial {ev.index}/{ev.total} {mark}  {ev.message}"
            if ev.index and ev.total:
                bar.update(progress=lo + (hi - lo) * ev.index / ev.total)
            self.write(f"correctness trial {ev.index}/{ev.total} {mark} {ev.message}",
                       style="" if ev.ok else "red")
        elif ev.kind == "timing":
            self.detail = timing_detail(ev)
            frac = min((time.monotonic() - self.phase_started) / max(self.max_timing_s, 0.1), 0.95)
            if ev.phase is Phase.baseline:
                lo, hi = (lo, (lo + hi) / 2) if ev.label == "eager" else ((lo + hi) / 2, hi)
            bar.update(progress=max(bar.progress, lo + (hi - lo) * frac))
        elif ev.kind == "end":
            if ev.phase is not Phase.done:
                bar.update(progress=max(bar.progress, hi))
                self.write(f"{title}: {ev.message or 'done'}", style="green" if ev.ok else "red")
        elif ev.kind == "log":
            self.write(ev.message, style="dim")
        self._render_phase()

    def finish(self, report: Report) -> None:
        if report.compile_cached:
            self.write("compile: from the cache (no rebuild)", style="green")
        if report.compile_log:
            self.write(report.compile_log[-6000:], style="dim")
        self.running = None
        self.remove_class("-running")
        self.last_status = report.status.value
        bar = self.query_one("#progress", ProgressBar)
        bar.update(progress=100)
        style = STATUS_STYLE.get(report.status.value, "bold")
        self._set_phase(Text.assemble(("■ ", style), (report.status.value.upper().replace("_", " "), style),
                                      f"  in {report.duration_s:.1f}s",
                                      ("  · compile cached", "green") if report.compile_cached else ""))
        self._set_results(results_table(report))
        self.write(f"verdict: {report.status.value} — {report.message}", style=style)

    def finish_check(self, ok: bool, message: str) -> None:
        self.running = None
        self.remove_class("-running")
        self.query_one("#progress", ProgressBar).update(progress=100)
        style = "bold green" if ok else "bold red"
        self._set_phase(Text.assemble(("■ ", style), ("COMPILES" if ok else "DOES NOT COMPILE", style),
                                      f"  in {time.monotonic() - self.started:.1f}s"))
        self._set_results(Text(message, style="" if ok else "red"))
        self.write(f"compile check: {message}", style=style)

    def stop(self, status: str, message: str) -> None:
        """Cancelled, or refused before grading began (then nothing ran, and the log gets no line)."""
        ran = self.running is not None
        self.running = None
        self.remove_class("-running")
        self.last_status = status
        self.set_diagnostics([])
        if not ran:
            self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        style = STATUS_STYLE.get(status, "bold")
        self._set_phase(Text.assemble(("■ ", style), (status.upper(), style)))
        self._set_results(Text(message, style=style.replace("bold ", "")))
        if ran:
            self.write(f"{status}: {message}", style=style)

    def outcome(self) -> Outcome:
        return Outcome(self.owner or "", self.what, self._phase_r, self._results_r, self.last_status,
                       list(self.diagnostics))

    def show_outcome(self, o: Outcome) -> None:
        self.running = None
        self._own(o.owner, o.what)
        self.last_status = o.status
        self.query_one("#progress", ProgressBar).update(total=100, progress=100)
        self._set_phase(o.phase)
        self._set_results(o.results)
        self.set_diagnostics(o.diagnostics)

    def set_diagnostics(self, diags: list[Diagnostic]) -> None:
        self.diagnostics = diags
        errors = self.query_one("#errors", OptionList)
        errors.clear_options()
        for i, d in enumerate(diags):
            style = "red" if d.severity == "error" else "yellow"
            loc = f"line {d.editor_line}" if d.editor_line else f"{d.file}:{d.line}"
            errors.add_option(Option(Text.assemble((f"{loc:>9} ", "bold"), (d.severity, style), f": {d.message}"),
                                     id=str(i)))
        errors.display = bool(diags)

    @on(OptionList.OptionSelected, "#errors")
    def _jump(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.JumpTo(self.diagnostics[int(event.option.id)]))

    # ------------------------------------------------------------ rendering

    def _set_phase(self, text: Text) -> None:
        self._phase_r = text
        self.query_one("#phase", Static).update(text)

    def _set_results(self, renderable) -> None:
        self._results_r = renderable
        self.query_one("#results", Static).update(renderable)

    def summary_text(self, width: int = 100) -> str:
        """The phase line and the results as plain text (tests, headless runs)."""
        return plain_text(self._phase_r, self._results_r, width=width)

    def _render_phase(self) -> None:
        if not self.running:
            return
        if self.running == "check":
            title = "compile check"
        else:
            title = PHASE_TITLES.get(self.phase, "starting") if self.phase else "starting"
        spin = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[int(time.monotonic() * 4) % 10]
        t = Text.assemble((f"{spin} ", "cyan"), (title, "bold"),
                          (f"  {time.monotonic() - self.phase_started:4.0f}s", "dim"))
        if self.detail:
            t.append(f"\n{self.detail}")
        self._set_phase(t)

    def _tick(self) -> None:
        if not self.running:
            return
        self._render_phase()
        if self.running == "check" or self.phase in (Phase.load, Phase.compile):
            # Compiles report nothing until they end: creep towards the phase's end (half-way at 30 s).
            lo, hi = (0, 95) if self.running == "check" else PHASE_SPAN[self.phase]
            elapsed = time.monotonic() - self.phase_started
            bar = self.query_one("#progress", ProgressBar)
            bar.update(progress=max(bar.progress, lo + (hi - lo) * 0.9 * (1 - 0.5 ** (elapsed / 30))))


def results_table(report: Report) -> Table:
    style = STATUS_STYLE.get(report.status.value, "bold")
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    t.add_row("verdict", Text(report.status.value.upper().replace("_", " "), style=style))
    t.add_row("", Text(report.message))
    if report.max_abs_err is not None:
        t.add_row("max error", f"abs {report.max_abs_err:.3g}, rel {report.max_rel_err or 0:.3g}")
    if report.compile_cached is not None:
        t.add_row("compile", Text("cached (no rebuild)", style="green") if report.compile_cached else "built")
    if report.precision is not None:
        t.add_row("precision", precision_text(report.precision))
    if report.runtime_ms is not None:
        t.add_row("runtime", runtime_text(report))
        t.add_row("eager", _ms(report.baseline_ms))
        if report.baseline_compile_ms is not None:
            t.add_row("torch.compile", _ms(report.baseline_compile_ms))
    if report.speedup is not None:
        sp = Text(f"{report.speedup:.2f}x", style="bold green" if report.speedup >= 1 else "bold yellow")
        sp.append(" vs eager")
        if report.speedup_compile is not None:
            sp.append(f", {report.speedup_compile:.2f}x vs torch.compile")
        if not report.speedup_trusted:
            sp.append("  not trusted", style="red")
        t.add_row("speedup", sp)
    if report.roofline_fraction is not None:
        t.add_row("roofline", f"{report.roofline_fraction * 100:.0f}% of the floor")
    if report.flags:
        t.add_row("flags", Text(", ".join(report.flags), style="yellow"))
    if report.dims:
        t.add_row("dims", ", ".join(f"{k}={v}" for k, v in report.dims.items()))
    t.add_row("device", f"{report.device} · {report.sandbox or '?'} sandbox")
    return t


def precision_text(audit: PrecisionAudit) -> Text:
    """The candidate's and eager PyTorch's error against the high-precision run; flagged when it drops precision."""
    t = Text(f"{audit.metric} vs {audit.reference}: candidate {audit.candidate_err:.2g}, eager {audit.eager_err:.2g}")
    if audit.flagged:
        t.append("  lower precision than asked", style="bold red")
    if audit.note:
        t.append(f"\n{audit.note}", style="dim")
    return t
