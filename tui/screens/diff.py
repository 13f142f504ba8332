"""A unified diff of an earlier attempt against the editor's current source."""

from __future__ import annotations

import difflib

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..workspace import Attempt


def unified(attempt: Attempt, current: str, problem: str) -> str:
    return "".join(difflib.unified_diff(attempt.source.splitlines(keepends=True), current.splitlines(keepends=True),
                                        fromfile=f"{problem} attempt #{attempt.number} ({attempt.status})",
                                        tofile=f"{problem} editor", n=3))


class DiffScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,d", "close", "Close")]

    def __init__(self, attempt: Attempt, current: str, problem: str) -> None:
        super().__init__()
        self.attempt, self.current, self.problem = attempt, current, problem
        self.diff_text = unified(attempt, current, problem)

    def compose(self) -> ComposeResult:
        text = self.diff_text
        with VerticalScroll(id="diff-box") as box:
            box.border_title = f"attempt #{self.attempt.number} → editor"
            box.border_subtitle = "esc closes"
            if text:
                yield Static(Syntax(text, "diff", theme="ansi_dark", word_wrap=False), id="diff")
            else:
                yield Static(Text("No differences: the editor holds exactly this attempt.", style="dim"), id="diff")

    def action_close(self) -> None:
        self.dismiss(None)
