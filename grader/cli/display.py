"""Human-facing output of `grader check`: live progress while grading, a summary table after."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from grader.jail import backends
from grader.judge.compile_map import located_errors
from grader.models import Phase, ProgressEvent, Report

PHASE_TITLES = {Phase.load: "start workers", Phase.compile: "compile", Phase.correctness: "correctness",
                Phase.timing: "timing", Phase.baseline: "baselines"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class LiveProgress:
    """Renders ProgressEvents: a redrawn panel on a terminal, one line per event elsewhere (CI logs)."""

    def __init__(self, console: Console, header: str = ""):
        self.console = console
        self.header = header  # printed with the first event, so that a usage error comes alone
        self.rows: dict[Phase, list] = {}   # phase -> [state, detail, started]
        self.live: Live | None = None
        self._last_line = 0.0

    def __enter__(self):
        return self

    def _start(self) -> None:
        if self.header:
            self.console.print(self.header, highlight=False)
            self.header = ""
        if self.console.is_terminal and self.live is None:
            self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False,
                             get_renderable=self._render)
            self.live.__enter__()

    def __exit__(self, *exc):
        if self.live:
            self.live.__exit__(*exc)

    def __call__(self, ev: ProgressEvent) -> None:
        self._start()
        if ev.phase is Phase.done:
            # The verdict ends every row still running: the phase it stopped in failed, the rest were done.
            for row in self.rows.values():
                if row[0] == "run":
                    row[0] = "ok" if ev.ok else "fail"
            if self.live:
                self.live.refresh()
            return
        row = self.rows.setdefault(ev.phase, ["run", "", time.monotonic()])
        if ev.kind == "start":
            row[0], row[1] = "run", ev.message
        elif ev.kind == "trial":
            row[1] = f"trial {ev.index}/{ev.total} {'ok' if ev.ok else 'FAILED'}  {ev.message}"
            if not ev.ok:
                row[0] = "fail"
        elif ev.kind == "timing":
            row[1] = timing_detail(ev)
        elif ev.kind == "end":
            row[0] = "ok" if ev.ok else "fail"
            row[1] = ev.message or row[1]
        if not self.live:
            # A log file gets one timing line every few seconds, not one per progress report.
            if ev.kind == "timing" and time.monotonic() - self._last_line < 3:
                return
            self._last_line = time.monotonic()
            detail = ev.message if ev.kind == "log" else row[1]
            if ev.kind == "end":
                detail = ("done" if ev.ok else "FAILED") + (f": {detail}" if detail else "")
            self.console.print(f"{PHASE_TITLES.get(ev.phase, ev.phase.value)}: {detail}", highlight=False)

    def _render(self):
        lines = []
        for phase, (state, detail, started) in self.rows.items():
            if state == "run":
                mark = Text(SPINNER[int(time.monotonic() * 8) % len(SPINNER)], style="cyan")
            else:
                mark = Text("✓" if state == "ok" else "✗", style="green" if state == "ok" else "red")
            line = Text.assemble(mark, " ", (f"{PHASE_TITLES.get(phase, phase.value):<13}", "bold"),
                                 f"{time.monotonic() - started:5.1f}s  " if state == "run" else "        ",
                                 detail[:160])
            lines.append(line)
        return Group(*lines)


def count_text(n: float | None, unit: str, unknown: str = "unknown") -> str:
    """1.5e9, 'FLOP' -> '1.5 GFLOP': `problems show` and the TUI's problem view write counts this way."""
    if n is None:
        return unknown
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:.3g} {unit}"


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g} ms"


def timing_detail(ev: ProgressEvent) -> str:
    """A live timing line, in the statistic the result reports: the median."""
    err = f" (±{ev.rel_err * 100:.2f}% s.e.)" if ev.rel_err is not None else ""
    return f"{ev.label}: run {ev.index}, median {_ms(ev.median_ms)}{err}"


def runtime_text(report: Report) -> str:
    """The candidate's figure the speedup used, with what it is; the timing loop's median beside it when
    a cross-check replaced that."""
    if report.runtime_ms is None:
        return "—"
    loop = report.runtime
    basis = report.speedup_basis
    if not basis and loop is not None:
        basis = f"median of {loop.runs}, ±{loop.rel_sem * 100:.2f}% s.e."
    text = _ms(report.runtime_ms) + (f"  ({basis})" if basis else "")
    if loop is not None and abs(loop.median_ms - report.runtime_ms) > 1e-3 * report.runtime_ms:
        text += f"; the timing loop's median was {_ms(loop.median_ms)}"
    return text


def summary(report: Report) -> Table:
    style = "green" if report.passed else "red"
    t = Table(show_header=False, box=None, padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("verdict", Text(report.status.value.upper(), style=f"bold {style}"))
    t.add_row("", report.message)
    t.add_row("problem", report.problem)
    t.add_row("device", report.device + (f"  ({report.sandbox} sandbox)" if report.sandbox else ""))
    if report.backend:
        t.add_row("backend", backends.label(backends.get(report.backend), "cpu" if report.device == "cpu" else "cuda"))
    if report.runtime_ms is not None:
        t.add_row("runtime", runtime_text(report))
        t.add_row("eager", _ms(report.baseline_ms))
        t.add_row("torch.compile", _ms(report.baseline_compile_ms)
                  + ("  (compiled by an earlier grading, from the cache)" if report.baseline_compile_cached else ""))
    if report.speedup is not None:
        sp = f"{report.speedup:.2f}x vs eager"
        if report.speedup_compile is not None:
            sp += f", {report.speedup_compile:.2f}x vs torch.compile"
        t.add_row("speedup", sp + ("" if report.speedup_trusted else "  [not trusted]"))
    if report.roofline_fraction is not None:
        t.add_row("roofline", f"{report.roofline_fraction * 100:.0f}% of the device's floor")
    if report.max_abs_err is not None:
        t.add_row("max error", f"abs {report.max_abs_err:.3g}, rel {report.max_rel_err:.3g}")
    if report.dtype:
        t.add_row("dtype", f"{report.dtype} (--precision variant)")
    audit = report.precision
    if audit is not None:
        if audit.candidate_err is None:
            t.add_row("precision", audit.note)
        else:
            line = (f"error vs float64: candidate {audit.candidate_err:.3g}, eager {audit.eager_err:.3g}, "
                    f"{audit.probe_bits}-bit inputs {audit.probe_err:.3g}")
            t.add_row("precision", Text(line + ("  [REDUCED PRECISION]" if audit.flagged else ""),
                                        style="red" if audit.flagged else ""))
    if report.kernels:
        t.add_row("kernels run", Text(", ".join(report.kernels[:6]) + (" ..." if len(report.kernels) > 6 else "")
                                      + "  (none defined in the solution)", style="red"))
    if report.flags:
        t.add_row("flags", ", ".join(report.flags))
    if report.dims:
        t.add_row("sizes", ", ".join(f"{k}={v}" for k, v in report.dims.items()) + "  (--dims)")
    if report.compile_log:
        errors = located_errors(report.compile_log, report.solution)
        if errors:
            t.add_row("compiler", Text("\n".join(errors + ["(the whole log: --json, field compile_log)"])))
    t.add_row("took", f"{report.duration_s:.1f}s")
    return t


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}%"


def profile_table(report: Report) -> Table | Text | None:
    """`--profile`: Nsight Compute's figures per kernel, or the line saying why there are none."""
    if report.profile is None:
        return None
    if not report.profile:
        return Text(f"profile: {report.profile_note or 'no kernels'}", style="yellow")
    t = Table(title="Nsight Compute, one forward" + (f"  ({report.profile_note})" if report.profile_note else ""),
              title_justify="left")
    for name in ("kernel", "calls", "time", "DRAM", "SM", "occupancy", "regs", "limiter"):
        t.add_column(name, justify="left" if name in ("kernel", "limiter") else "right", overflow="fold")
    for r in report.profile:
        t.add_row(r.kernel[:80], str(r.launches), "—" if r.duration_us is None else f"{r.duration_us:.4g} us",
                  _pct(r.dram_pct), _pct(r.sm_pct), _pct(r.occupancy_pct),
                  "—" if r.registers is None else str(r.registers), r.limiter or "—")
    return t
