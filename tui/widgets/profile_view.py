"""The Profile tab: Nsight Compute's figures per kernel from the last grading made with profiling on."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from grader.cli.display import profile_table
from grader.models import Report

HINT = ("No profile yet. Turn on 'profile' in Settings (F6) and grade on a GPU: after a passing grading, Nsight "
        "Compute measures each kernel of one forward inside the sandbox (duration, DRAM and SM throughput as a "
        "share of peak, achieved occupancy, registers per thread, the limiting unit).")


class ProfileView(VerticalScroll):
    def compose(self):
        yield Static(HINT, id="profile-table")

    def show(self, report: Report | None) -> None:
        table = profile_table(report) if report is not None else None
        self.query_one("#profile-table", Static).update(table if table is not None else HINT)
