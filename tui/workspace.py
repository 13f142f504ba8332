"""The workspace folder: one solution file per problem and one history file per problem.

    workspace/
        cpu_softmax.py              your ModelNew for problem cpu_softmax
        history/cpu_softmax.json    every graded attempt (History, below)
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.models import Report

SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class Attempt(BaseModel):
    """One submission as the history keeps it; `source` is the code as it was graded."""

    model_config = ConfigDict(extra="ignore")
    number: int
    time: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    status: str = Field(description="a report status, or 'cancelled' / 'error'")
    message: str = ""
    device: str = ""
    speedup: float | None = None
    speedup_compile: float | None = None
    runtime_ms: float | None = None
    baseline_ms: float | None = None
    max_abs_err: float | None = None
    flags: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    source: str = ""

    @classmethod
    def from_report(cls, number: int, report: Report, source: str) -> Attempt:
        return cls(number=number, status=report.status.value, message=report.message, device=report.device,
                   speedup=report.speedup, speedup_compile=report.speedup_compile, runtime_ms=report.runtime_ms,
                   baseline_ms=report.baseline_ms, max_abs_err=report.max_abs_err, flags=list(report.flags),
                   duration_s=report.duration_s, source=source)


class History(BaseModel):
    model_config = ConfigDict(extra="ignore")
    schema_version: int = 1
    problem: str
    attempts: list[Attempt] = Field(default_factory=list)

    def next_number(self) -> int:
        return max((a.number for a in self.attempts), default=0) + 1

    def best_speedup(self) -> float | None:
        ok = [a.speedup for a in self.attempts if a.status == "passed" and a.speedup is not None]
        return max(ok) if ok else None


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    def solution_path(self, problem: str) -> Path:
        return self.root / f"{SAFE.sub('_', problem)}.py"

    def history_path(self, problem: str) -> Path:
        return self.root / "history" / f"{SAFE.sub('_', problem)}.json"

    def read_solution(self, problem: str) -> str | None:
        p = self.solution_path(problem)
        try:
            return p.read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def write_solution(self, problem: str, text: str) -> Path:
        p = self.solution_path(problem)
        atomic_write(p, text)
        return p

    def load_history(self, problem: str) -> History:
        p = self.history_path(problem)
        if p.is_file():
            try:
                return History.model_validate_json(p.read_text())
            except (ValidationError, OSError, ValueError):
                # Keep the broken file aside rather than overwrite what may be hand-fixable.
                p.replace(p.with_suffix(".json.broken"))
        return History(problem=problem)

    def save_history(self, history: History) -> None:
        atomic_write(self.history_path(history.problem), history.model_dump_json(indent=1) + "\n")

    def add_attempt(self, problem: str, attempt: Attempt) -> History:
        h = self.load_history(problem)
        h.attempts.append(attempt)
        self.save_history(h)
        return h
