"""What `grader batch` shows while it runs: counts per verdict, the gradings in flight and an ETA, redrawn on a
terminal and one line per finished grading elsewhere (CI logs); a summary table at the end."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from grader.cli.display import PHASE_TITLES

from ..models import ProgressEvent
from .assignment import Assignment
from .scoring import StudentScore

STYLE = {"passed": "green", "incorrect": "red", "compile_error": "magenta", "timeout": "yellow",
         "runtime_error": "red", "resource_limit": "yellow", "policy_violation": "magenta", "missing": "dim"}


class BatchDisplay:
    def __init__(self, console: Console):
        self.console = console
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.active: dict[str, list] = {}   # key -> [lane, phase text, started]
        self.total = self.done = 0
        self.started_at = time.monotonic()
        self.live: Live | None = None
        self.notes: list[str] = []

    @classmethod
    def for_stdout(cls, stream: TextIO) -> BatchDisplay:
        return cls(Console(file=stream))

    def begin(self, total: int, students: int, lanes: list[str]) -> None:
        self.total = total
        self.started_at = time.monotonic()
        self.console.print(f"[bold]grading[/] {total} submission(s) of {students} student(s) on "
                           f"{', '.join(lanes)}", highlight=False)
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, get_renderable=self._render)
            self.live.__enter__()

    def close(self) -> None:
        if self.live:
            self.live.__exit__(None, None, None)
            self.live = None

    def started(self, key: str, lane: str) -> None:
        with self.lock:
            self.active[key] = [lane, "starting", time.monotonic()]

    def event(self, key: str, ev: ProgressEvent) -> None:
        with self.lock:
            row = self.active.get(key)
            if row is not None and ev.kind != "end":
                row[1] = f"{PHASE_TITLES.get(ev.phase, ev.phase.value)}: {ev.message or ev.label or ''}"[:70]

    def note(self, text: str) -> None:
        with self.lock:
            self.notes.append(text)
        self.console.print(f"[yellow]note:[/] {text}", highlight=False)

    def finished(self, key: str, status: str, message: str, points: float | None) -> None:
        with self.lock:
            row = self.active.pop(key, None)
            took = time.monotonic() - row[2] if row else 0.0
            if not key.startswith("baseline/"):
                self.counts[status] += 1
                self.done += 1
            progress = f"[{self.done}/{self.total}]" if not key.startswith("baseline/") else "[baseline]"
        pts = f" {points:g} pts" if points is not None else ""
        line = Text.assemble(f"{progress} {key}: ", (status, STYLE.get(status, "cyan")), f"{pts}  {took:.1f}s  ",
                             message[:100])
        self.console.print(line, highlight=False, soft_wrap=True)

    def eta(self) -> str:
        if not self.done:
            return "—"
        left = (time.monotonic() - self.started_at) / self.done * (self.total - self.done)
        return f"{int(left // 60)}:{int(left % 60):02d}"

    def _render(self):
        with self.lock:
            head = Text.assemble(("graded ", "bold"), f"{self.done}/{self.total}  ",
                                 *[(f"{k} {v}  ", STYLE.get(k, "")) for k, v in sorted(self.counts.items())],
                                 f"ETA {self.eta()}")
            t = Table(box=None, padding=(0, 1), show_header=False)
            for key, (lane, phase, since) in sorted(self.active.items(), key=lambda kv: kv[1][2]):
                t.add_row(Text(key, style="bold"), lane, f"{time.monotonic() - since:5.0f}s", phase)
        return Group(head, t)

    def end(self, scores: list[StudentScore], a: Assignment) -> None:
        self.close()
        elapsed = time.monotonic() - self.started_at
        t = Table(title=f"{a.name}: {len(scores)} student(s), graded in {elapsed:.0f}s")
        t.add_column("student")
        for p in a.problems:
            t.add_column(p.name)
        t.add_column("late", justify="right")
        t.add_column("total", justify="right")
        for s in scores:
            cells = [Text(f"{p.points:g} {p.status}", style=STYLE.get(p.status, "")) for p in s.problems]
            t.add_row(s.student, *cells, f"{s.late_days}d -{s.penalty_pct:g}%" if s.late_days else "",
                      f"{s.total:g}/{s.max_total:g}")
        self.console.print(t)
        counts = "  ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        self.console.print(f"this run: {counts or 'nothing left to grade'}", highlight=False)
