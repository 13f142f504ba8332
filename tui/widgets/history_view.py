"""Every attempt at the open problem: a sparkline of speedups and a table; d diffs, r restores."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from ..workspace import Attempt, History
from .grade_panel import STATUS_STYLE


class AttemptTable(DataTable):
    BINDINGS = [Binding("d", "diff", "Diff", tooltip="Diff against the editor"),
                Binding("r", "restore", "Restore", tooltip="Put this attempt back into the editor")]

    def action_diff(self) -> None:
        self.query_ancestor(HistoryView).request("diff")

    def action_restore(self) -> None:
        self.query_ancestor(HistoryView).request("restore")


class HistoryView(Vertical):
    class DiffRequested(Message):
        def __init__(self, attempt: Attempt) -> None:
            super().__init__()
            self.attempt = attempt

    class RestoreRequested(Message):
        def __init__(self, attempt: Attempt) -> None:
            super().__init__()
            self.attempt = attempt

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: History | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("No problem open.", style="dim"), id="history-summary")
        yield Sparkline([], id="speedups")
        table = AttemptTable(id="attempts", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "when", "verdict", "speedup", "runtime", "device", "message")
        yield table

    def show(self, history: History | None) -> None:
        self.history = history
        table = self.query_one(AttemptTable)
        table.clear()
        spark = self.query_one(Sparkline)
        summary = self.query_one("#history-summary", Static)
        if history is None or not history.attempts:
            spark.data = []
            spark.display = False
            name = history.problem if history else "this problem"
            summary.update(Text(f"No attempts at {name} yet: ctrl+r submits the editor.", style="dim"))
            return
        attempts = history.attempts
        data = [a.speedup if a.status == "passed" and a.speedup else 0.0 for a in attempts]
        spark.data = data
        spark.display = any(data)     # all zeros would draw as full bars
        best = history.best_speedup()
        passed = sum(a.status == "passed" for a in attempts)
        s = Text.assemble((history.problem, "bold"), f"  {len(attempts)} attempts, {passed} passed")
        if best is not None:
            s.append(f", best {best:.2f}x vs eager", style="green")
        s.append("\nspeedup per attempt (failures at 0)" if any(data) else "\nno passing attempt yet", style="dim")
        s.append(" · d: diff against the editor · r: restore", style="dim")
        summary.update(s)
        for a in reversed(attempts):
            style = STATUS_STYLE.get(a.status, "")
            table.add_row(str(a.number), a.time.astimezone().strftime("%m-%d %H:%M:%S"),
                          Text(a.status, style=style),
                          f"{a.speedup:.2f}x" if a.speedup is not None else "—",
                          f"{a.runtime_ms:.4g} ms" if a.runtime_ms is not None else "—",
                          a.device, a.message[:80], key=str(a.number))

    def selected(self) -> Attempt | None:
        table = self.query_one(AttemptTable)
        if self.history is None or not self.history.attempts or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None
        return next((a for a in self.history.attempts if str(a.number) == key), None)

    def request(self, what: str) -> None:
        a = self.selected()
        if a is None:
            self.notify("No attempt selected", severity="warning")
            return
        self.post_message(self.DiffRequested(a) if what == "diff" else self.RestoreRequested(a))
