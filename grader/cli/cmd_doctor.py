"""`grader doctor`: one screen of what this machine offers a grading, and the fix for each thing missing."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from .doctor import Level, examine

MARKS = {Level.ok: "[green]ok  [/]", Level.warn: "[yellow]warn[/]", Level.missing: "[bold red]MISS[/]"}


def register(sub) -> None:
    p = sub.add_parser("doctor", help="what this machine offers: GPU, CUDA, torch, compilers, jail, Docker, cache",
                       description="Check what gradings need here and print the fix for each thing missing. "
                                   "Exit code: 0 when nothing a grading needs is missing, 1 otherwise.")
    p.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = examine()
    if args.json:
        print(report.model_dump_json())
    else:
        console = Console(highlight=False)
        for c in report.checks:
            # soft_wrap: one line per finding however narrow the terminal, so the fix stays under it
            console.print(f"{MARKS[c.level]} [bold]{escape(c.name)}[/]: {escape(c.detail)}", soft_wrap=True)
            if c.fix:
                console.print(f"     fix: {escape(c.fix)}", soft_wrap=True)
    return 0 if report.healthy else 1
