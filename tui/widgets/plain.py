"""Rich renderables as plain text: what a widget shows, for tests and headless runs."""

from __future__ import annotations

import io

from rich.console import Console


def plain_text(*renderables, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    for r in renderables:
        if r:
            console.print(r)
    return console.export_text()
