"""SUBMISSIONS_DIR: one folder per student (the folder name is the student id), one solution file per problem."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from ..errors import UsageError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class Submission(BaseModel):
    """One student's answer to one problem; `solution` is None when the folder holds no file for it."""

    student: str
    problem: str
    solution: str | None
    sha256: str | None
    submitted_at: datetime
    note: str = ""


def submitted_at(folder: Path) -> datetime:
    """A `submitted_at` file (ISO 8601) if there is one, else the folder's modification time."""
    stamp = folder / "submitted_at"
    if stamp.is_file():
        text = stamp.read_text().strip()
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{stamp}: not an ISO 8601 date-time ({text[:40]!r}); write e.g. 2026-03-01T22:10:00Z")
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)


def solution_for(folder: Path, problem: str) -> tuple[Path | None, str]:
    """PROBLEM.py, else the folder's only .py; the note says why none was taken."""
    named = folder / f"{problem}.py"
    if named.is_file():
        return named, ""
    files = sorted(p for p in folder.glob("*.py") if p.is_file())
    if len(files) == 1:
        return files[0], ""
    if not files:
        return None, f"no solution file: expected {problem}.py"
    return None, f"no {problem}.py among {len(files)} .py files ({', '.join(p.name for p in files[:4])})"


def collect(root: Path, problems: list[str], only: set[str] | None = None) -> list[Submission]:
    """Every (student, problem) pair of the class, sorted by student then problem order."""
    if not root.is_dir():
        raise UsageError(f"{root}: no such submissions folder; pass a folder holding one folder per student")
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not STUDENT_ID.match(folder.name):
            raise UsageError(f"{folder}: a student folder name must be a plain id (letters, digits, . _ @ + -)")
        if only is not None and folder.name not in only:
            continue
        when = submitted_at(folder)
        for problem in problems:
            path, note = solution_for(folder, problem)
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path else None
            out.append(Submission(student=folder.name, problem=problem, solution=str(path.resolve()) if path else None,
                                  sha256=digest, submitted_at=when, note=note))
    if not out:
        raise UsageError(f"{root}: holds no student folders")
    return out
