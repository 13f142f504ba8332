"""The batch's state: one SQLite file in OUT_DIR (`ledger.sqlite`).

Every finished grading is committed in one transaction before anything else happens, so a batch killed at
any point (SIGKILL included) loses at most the gradings that were running, and those are redone on
`--resume`. A (student, problem) has at most one current attempt; a regrade adds a new attempt and makes it
current only once it has finished, so earlier attempts stay in the history and nothing is counted twice.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from ..models import KnownBaselines, Report

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, argv TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL, problem TEXT NOT NULL, attempt INTEGER NOT NULL, run_id INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'abandoned')),
    current INTEGER NOT NULL DEFAULT 0,
    solution TEXT, sha256 TEXT, submitted_at TEXT NOT NULL, lane TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL, finished_at TEXT,
    status TEXT, message TEXT, report TEXT,
    UNIQUE (student, problem, attempt));
CREATE UNIQUE INDEX IF NOT EXISTS one_current ON attempts (student, problem) WHERE current = 1;
CREATE TABLE IF NOT EXISTS baselines (
    id INTEGER PRIMARY KEY, problem TEXT NOT NULL, lane TEXT NOT NULL, run_id INTEGER NOT NULL,
    measured_at TEXT NOT NULL, pinned INTEGER NOT NULL, timings TEXT NOT NULL, drift REAL);
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Attempt(BaseModel):
    id: int
    student: str
    problem: str
    attempt: int
    run_id: int
    state: str
    current: bool
    solution: str | None
    sha256: str | None
    submitted_at: datetime
    lane: str
    started_at: datetime
    finished_at: datetime | None
    status: str | None
    message: str | None
    report: Report | None


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        # isolation_level=None: every statement outside an explicit transaction commits at once.
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        if self.meta("secret") is None:
            self.db.execute("INSERT INTO meta VALUES ('secret', ?)", (secrets.token_hex(16),))

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def start_run(self, argv: list[str]) -> int:
        """A new run; what an earlier run left running is marked abandoned (it died with that run)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE attempts SET state = 'abandoned', finished_at = ? WHERE state = 'running'",
                            (now(),))
            return self.db.execute("INSERT INTO runs (started_at, argv) VALUES (?, ?)",
                                   (now(), json.dumps(argv))).lastrowid

    def finish_run(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (now(), run_id))

    def has_results(self) -> bool:
        return self.db.execute("SELECT 1 FROM attempts LIMIT 1").fetchone() is not None

    def needs_grading(self, student: str, problem: str) -> bool:
        """True when no attempt has finished, or the latest attempt started (a regrade) never did."""
        row = self.db.execute("SELECT state FROM attempts WHERE student = ? AND problem = ? "
                              "ORDER BY attempt DESC LIMIT 1", (student, problem)).fetchone()
        return row is None or row["state"] != "done"

    def begin(self, run_id: int, student: str, problem: str, solution: str | None, sha256: str | None,
              submitted_at: datetime, lane: str) -> int:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            n = self.db.execute("SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE student = ? AND "
                                "problem = ?", (student, problem)).fetchone()[0]
            return self.db.execute(
                "INSERT INTO attempts (student, problem, attempt, run_id, state, solution, sha256, submitted_at, "
                "lane, started_at) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (student, problem, n, run_id, solution, sha256, submitted_at.isoformat(), lane, now())).lastrowid

    def finish(self, attempt_id: int, status: str, message: str, report: Report | None) -> None:
        """The attempt's result, made current in the same transaction that retires the previous one."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute("SELECT student, problem, state FROM attempts WHERE id = ?",
                                  (attempt_id,)).fetchone()
            if row["state"] != "running":
                return
            self.db.execute("UPDATE attempts SET current = 0 WHERE student = ? AND problem = ? AND current = 1",
                            (row["student"], row["problem"]))
            self.db.execute("UPDATE attempts SET state = 'done', current = 1, finished_at = ?, status = ?, "
                            "message = ?, report = ? WHERE id = ?",
                            (now(), status, message, report.model_dump_json() if report else None, attempt_id))

    def attempts(self, current_only: bool = False) -> list[Attempt]:
        where = "WHERE current = 1" if current_only else ""
        rows = self.db.execute(f"SELECT * FROM attempts {where} ORDER BY student, problem, attempt").fetchall()
        return [Attempt(**{**dict(r), "current": bool(r["current"]),
                           "report": Report.model_validate_json(r["report"]) if r["report"] else None})
                for r in rows]

    def pinned_baselines(self, problem: str, lane: str) -> KnownBaselines | None:
        row = self.db.execute("SELECT timings FROM baselines WHERE problem = ? AND lane = ? AND pinned = 1",
                              (problem, lane)).fetchone()
        return KnownBaselines.model_validate_json(row[0]) if row else None

    def add_baselines(self, run_id: int, problem: str, lane: str, timings: KnownBaselines) -> float | None:
        """Store a measurement; the first for (problem, lane) is pinned, later ones record their drift from it."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            pinned = self.pinned_baselines(problem, lane)
            drift = None if pinned is None else timings.eager.median_ms / pinned.eager.median_ms - 1
            self.db.execute("INSERT INTO baselines (problem, lane, run_id, measured_at, pinned, timings, drift) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)", (problem, lane, run_id, now(), int(pinned is None),
                                                            timings.model_dump_json(), drift))
        return drift

    def baseline_rows(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT problem, lane, run_id, measured_at, pinned, drift, timings "
                                                 "FROM baselines ORDER BY id")]
