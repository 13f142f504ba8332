"""Points from a verdict: correctness gates the performance points, a rubric turns speedup into them, lateness
takes its share. A pure function of the report and the assignment, so changing a rubric and re-exporting
re-scores the class without grading anything again."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel

from ..models import Report
from .assignment import Assignment, ProblemEntry

MISSING = "missing"   # the status of a problem the student handed in no file for


class ProblemScore(BaseModel):
    problem: str
    status: str
    message: str
    correctness: float
    correctness_max: float
    performance: float
    performance_max: float
    speedup: float | None = None
    note: str = ""
    points: float              # after the late penalty
    max_points: float


class StudentScore(BaseModel):
    student: str
    submitted_at: datetime
    late_days: int
    penalty_pct: float
    problems: list[ProblemScore]
    total: float
    max_total: float


def late_days(assignment: Assignment, student: str, when: datetime) -> int:
    """Days late, a started day counting as one; extensions move the due date for that student."""
    due = assignment.due.timestamp() + assignment.extensions.get(student, 0) * 86400
    late_s = when.timestamp() - due
    return max(0, math.ceil(late_s / 86400))


def penalty_pct(assignment: Assignment, days: int) -> float:
    late = assignment.late
    if days and late.max_days is not None and days > late.max_days:
        return 100.0
    return min(100.0, late.percent_per_day * max(0, days - late.grace_days))


def speedup_of(report: Report, against: str) -> float | None:
    return report.speedup_compile if against == "compile" else report.speedup


def score_problem(assignment: Assignment, entry: ProblemEntry, status: str, message: str, report: Report | None,
                  penalty: float) -> ProblemScore:
    rubric = assignment.rubric_of(entry)
    correct = report is not None and report.passed
    perf, note, speedup = 0.0, "", None
    if correct:
        speedup = speedup_of(report, rubric.against)
        if speedup is None:
            note = f"no {rubric.against} timing to score"
        elif assignment.grading.require_trusted_timing and not report.speedup_trusted:
            note = "no performance points: the grader's cross-checks disagreed with the solution's timings (" \
                   + ", ".join(report.flags) + "); ask the course staff"
        else:
            perf = round(entry.performance * rubric.fraction(speedup), 2)
    earned = (entry.correctness if correct else 0.0) + perf
    return ProblemScore(problem=entry.name, status=status, message=message,
                        correctness=entry.correctness if correct else 0.0, correctness_max=entry.correctness,
                        performance=perf, performance_max=entry.performance, speedup=speedup, note=note,
                        points=round(earned * (1 - penalty / 100), 2), max_points=entry.correctness + entry.performance)


def score_student(assignment: Assignment, student: str, when: datetime,
                  results: dict[str, tuple[str, str, Report | None]]) -> StudentScore:
    """`results`: problem name -> (status, message, report or None) of the current attempt."""
    days = late_days(assignment, student, when)
    penalty = penalty_pct(assignment, days)
    problems = []
    for entry in assignment.problems:
        status, message, report = results.get(entry.name, ("not graded", "not graded yet", None))
        problems.append(score_problem(assignment, entry, status, message, report, penalty))
    return StudentScore(student=student, submitted_at=when, late_days=days, penalty_pct=penalty, problems=problems,
                        total=round(sum(p.points for p in problems), 2), max_total=assignment.max_points)
