"""Batch grading of a whole class: `grader batch ASSIGNMENT.toml SUBMISSIONS_DIR --out OUT_DIR`.

- `assignment`: the ASSIGNMENT.toml model (problems, points, speedup rubric, late policy, visibility).
- `submissions`: which file of which student answers which problem, and when it was handed in.
- `ledger`: the SQLite file in OUT_DIR every result is committed to; resume and regrade read it.
- `executors`: where gradings run (a registry; `local` runs each in a subprocess of this machine).
- `scoring`: points from a report and the assignment; `exports`: gradebook, Gradescope, PrairieLearn,
  leaderboard, per-student reports, all rendered from the ledger.
- `runner`: schedules baselines and gradings over GPU lanes; `display`: the live progress.
"""
