"""Everything written to OUT_DIR besides the ledger, rendered from the ledger alone (so a resumed or
regraded batch rewrites all of it consistently):

- `gradebook.csv`: Canvas's gradebook import format (Student, ID, SIS User ID, SIS Login ID, Section, a
  "Points Possible" row, one column per problem and a total);
- `results/<student>/report.json` (every attempt, current one first) and `results/<student>/<problem>.log`;
- `gradescope/<student>/results.json` and `prairielearn/<student>/results.json`;
- `leaderboard.md` (pseudonyms only) and `baselines.json` (the pinned reference timings and their drift).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from grader.judge import problems

from ..models import Report
from .assignment import Assignment, ProblemEntry
from .formats import (
    GradescopeLeaderboardEntry,
    GradescopeResults,
    GradescopeTest,
    PrairieLearnResults,
    PrairieLearnTest,
)
from .ledger import Attempt, Ledger
from .scoring import ProblemScore, StudentScore, late_days, penalty_pct, score_problem, score_student

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
VISIBILITY_ORDER = ["visible", "after_published", "after_due_date", "hidden"]  # least to most hidden


class ProblemRecord(BaseModel):
    score: ProblemScore
    same_code_as: list[str]
    attempts: list[Attempt]   # newest first; the current one is marked


class StudentReport(BaseModel):
    """results/<student>/report.json"""

    student: str
    pseudonym: str
    score: StudentScore
    problems: dict[str, ProblemRecord]


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def reference_as_solution(out: Path, entry: ProblemEntry, problems_dir: str | None) -> Path:
    """The problem's own Model handed in as a solution: grading it times the baselines (trusted code)."""
    source = problems.resolve(entry.problem, problems_dir).read_text()
    path = out / "baselines" / f"{entry.name}.py"
    write_text(path, source + "\n\nModelNew = Model  # the reference graded as its own solution\n")
    return path


def points_of(a: Assignment, entry: ProblemEntry, student: str, when: datetime, report: Report) -> float:
    return score_problem(a, entry, report.status.value, report.message, report,
                         penalty_pct(a, late_days(a, student, when))).points


def pseudonym(secret: str, student: str) -> str:
    return "anon-" + hmac.new(secret.encode(), student.encode(), hashlib.sha256).hexdigest()[:8]


def stricter(a: str, b: str) -> str:
    return max(a, b, key=VISIBILITY_ORDER.index)


def write_all(a: Assignment, ledger: Ledger, out: Path) -> list[StudentScore]:
    every = ledger.attempts()
    by_student: dict[str, list[Attempt]] = defaultdict(list)
    for att in every:
        by_student[att.student].append(att)
    same = defaultdict(set)   # identical files of different students, per problem
    for att in every:
        if att.current and att.sha256:
            same[(att.problem, att.sha256)].add(att.student)
    secret = ledger.meta("secret")
    scores = []
    for student, atts in sorted(by_student.items()):
        current = {x.problem: x for x in atts if x.current}
        when = max(x.submitted_at for x in (current.values() or atts))
        results = {p: (x.status, x.message or "", x.report) for p, x in current.items()}
        score = score_student(a, student, when, results)
        scores.append(score)
        record = StudentReport(student=student, pseudonym=pseudonym(secret, student), score=score, problems={
            ps.problem: ProblemRecord(
                score=ps, attempts=sorted((x for x in atts if x.problem == ps.problem), key=lambda x: -x.attempt),
                same_code_as=sorted(same[(ps.problem, current[ps.problem].sha256)] - {student})
                if ps.problem in current and current[ps.problem].sha256 else [])
            for ps in score.problems})
        folder = out / "results" / student
        write_text(folder / "report.json", record.model_dump_json(indent=1))
        for entry in a.problems:
            write_text(folder / f"{entry.name}.log", problem_log(a, record, entry))
        write_text(out / "gradescope" / student / "results.json",
                   gradescope(a, record).model_dump_json(indent=1, exclude_none=True))
        write_text(out / "prairielearn" / student / "results.json",
                   prairielearn(a, record).model_dump_json(indent=1, exclude_none=True))
    write_text(out / "gradebook.csv", gradebook(a, scores))
    if a.show.leaderboard:
        write_text(out / "leaderboard.md", leaderboard(a, scores, secret))
    write_text(out / "baselines.json", json.dumps(
        [{**r, "timings": json.loads(r["timings"])} for r in ledger.baseline_rows()], indent=1))
    return scores


def _perf_line(entry: ProblemEntry, ps: ProblemScore, against: str) -> str:
    if ps.speedup is None:
        return ps.note or "not timed: performance points need a correct solution"
    line = f"{ps.speedup:.3g}x vs {against}: {ps.performance:g}/{ps.performance_max:g} points"
    return line + (f" ({ps.note})" if ps.note else "")


def verdict_line(a: Assignment, ps: ProblemScore) -> str:
    """The verdict a student reads; a passed one's message names the speedup, kept back while performance is."""
    if ps.status == "passed" and a.show.performance != "visible":
        return "passed: correct on every trial"
    return f"{ps.status}: {ps.message}"


def problem_log(a: Assignment, record: StudentReport, entry: ProblemEntry) -> str:
    rec = record.problems[entry.name]
    ps = rec.score
    lines = [f"{a.name}: {entry.name} ({entry.problem})", f"student: {record.student}",
             f"verdict: {ps.status}", f"message: {ps.message}",
             f"correctness: {ps.correctness:g}/{ps.correctness_max:g}",
             f"performance: {_perf_line(entry, ps, a.rubric_of(entry).against)}",
             f"late: {record.score.late_days} day(s), penalty {record.score.penalty_pct:g}%",
             f"points: {ps.points:g}/{ps.max_points:g}"]
    if rec.same_code_as:
        lines.append(f"same file as: {', '.join(rec.same_code_as)}")
    for att in rec.attempts:
        lines.append("")
        lines.append(f"--- attempt {att.attempt} ({'current' if att.current else att.state}), "
                     f"started {att.started_at:%Y-%m-%d %H:%M:%S} UTC on {att.lane or '-'}: {att.status or '-'}")
        rep = att.report
        if rep is None:
            continue
        if rep.runtime_ms is not None:
            lines.append(f"runtime {rep.runtime_ms:.4g} ms, eager {rep.baseline_ms:.4g} ms"
                         + (f", torch.compile {rep.baseline_compile_ms:.4g} ms" if rep.baseline_compile_ms else "")
                         + (" (baselines pinned for the batch)" if rep.baselines_given else ""))
        for t in rep.trials:
            lines.append(f"  {t.label} {t.index}: {'ok' if t.ok else 'FAILED'}  {t.message}")
        if rep.flags:
            lines.append("flags: " + ", ".join(rep.flags))
        if rep.compile_log:
            lines += ["compile log:", rep.compile_log[-6000:]]
        if rep.worker_log:
            lines += ["worker log (tail):", rep.worker_log[-3000:]]
    return "\n".join(lines) + "\n"


def gradescope(a: Assignment, record: StudentReport) -> GradescopeResults:
    tests, board = [], []
    for entry in a.problems:
        ps = record.problems[entry.name].score
        correct = ps.status == "passed"
        perf_shown = entry.visibility == "visible" and a.show.performance == "visible"
        tests.append(GradescopeTest(name=f"{entry.name}: correctness", score=ps.correctness,
                                    max_score=ps.correctness_max, status="passed" if correct else "failed",
                                    output=verdict_line(a, ps), visibility=entry.visibility))
        if entry.performance:
            tests.append(GradescopeTest(name=f"{entry.name}: performance", score=ps.performance,
                                        max_score=ps.performance_max,
                                        status="passed" if ps.performance >= ps.performance_max else "failed",
                                        output=_perf_line(entry, ps, a.rubric_of(entry).against),
                                        visibility=stricter(entry.visibility, a.show.performance)))
        if ps.speedup is not None and perf_shown:
            board.append(GradescopeLeaderboardEntry(name=f"{entry.name} speedup", value=round(ps.speedup, 4),
                                                    order="desc"))
    s = record.score
    output = f"{a.name}: {s.total:g}/{s.max_total:g} points"
    if s.late_days:
        output += f"; {s.late_days} day(s) late, {s.penalty_pct:g}% off"
    if a.show.performance == "visible":
        board.append(GradescopeLeaderboardEntry(name="total", value=s.total, order="desc"))
    duration = sum(att.report.duration_s for rec in record.problems.values() for att in rec.attempts
                   if att.current and att.report)
    return GradescopeResults(score=s.total, execution_time=round(duration, 1), output=output, tests=tests,
                             leaderboard=board if a.show.leaderboard else [],
                             extra_data={"pseudonym": record.pseudonym})


def prairielearn(a: Assignment, record: StudentReport) -> PrairieLearnResults:
    tests, hidden = [], 0
    for entry in a.problems:
        ps = record.problems[entry.name].score
        if entry.visibility != "visible":
            hidden += 1
            continue
        tests.append(PrairieLearnTest(name=f"{entry.name}: correctness", points=ps.correctness,
                                      max_points=ps.correctness_max, message=verdict_line(a, ps)))
        if entry.performance:
            perf_hidden = a.show.performance != "visible"
            tests.append(PrairieLearnTest(name=f"{entry.name}: performance", points=ps.performance,
                                          max_points=ps.performance_max,
                                          message="shown after grading closes" if perf_hidden
                                          else _perf_line(entry, ps, a.rubric_of(entry).against)))
    s = record.score
    message = f"{s.total:g}/{s.max_total:g} points"
    if s.late_days:
        message += f"; {s.late_days} day(s) late, {s.penalty_pct:g}% off"
    if hidden:
        message += f"; {hidden} hidden problem(s) count toward the score"
    return PrairieLearnResults(score=round(min(1.0, s.total / s.max_total), 6) if s.max_total else 0.0,
                               message=message, tests=tests)


def gradebook(a: Assignment, scores: list[StudentScore]) -> str:
    columns = [f"{a.name}: {p.name}" for p in a.problems] + [f"{a.name}: Total"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CANVAS_FIXED + columns)
    w.writerow(["Points Possible", "", "", "", ""] + [f"{p.correctness + p.performance:g}" for p in a.problems]
               + [f"{a.max_points:g}"])
    id_col = CANVAS_FIXED.index(a.canvas.id_column)
    for s in scores:
        row = [s.student, "", "", "", ""]
        row[id_col] = s.student
        w.writerow(row + [f"{p.points:g}" for p in s.problems] + [f"{s.total:g}"])
    return buf.getvalue()


def leaderboard(a: Assignment, scores: list[StudentScore], secret: str) -> str:
    shown = [p for p in a.problems if p.visibility == "visible"]
    ranked = sorted(scores, key=lambda s: (-s.total, pseudonym(secret, s.student)))
    lines = [f"# {a.name}: leaderboard", "",
             "Anonymous: each student finds their own name in their results (Gradescope extra_data, "
             "report.json).", "",
             "| rank | student | " + " | ".join(f"{p.name} speedup" for p in shown) + " | points |",
             "| ---: | --- | " + " | ".join("---:" for _ in shown) + " | ---: |"]
    for rank, s in enumerate(ranked, 1):
        cells = []
        for p in shown:
            ps = next(x for x in s.problems if x.problem == p.name)
            cells.append(f"{ps.speedup:.2f}x" if ps.speedup is not None else "—")
        lines.append(f"| {rank} | {pseudonym(secret, s.student)} | " + " | ".join(cells) + f" | {s.total:g} |")
    return "\n".join(lines) + "\n"
