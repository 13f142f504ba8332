"""`grader batch`: a class graded through the real command, killed part-way, resumed and regraded; its
exports checked against Gradescope's and PrairieLearn's published formats and Canvas's import rules."""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from grader.batch import assignment as assignment_mod
from grader.batch.assignment import Assignment
from grader.batch.formats import GradescopeResults, PrairieLearnResults
from grader.batch.ledger import Ledger
from grader.batch.scoring import score_student
from grader.models import Report, Status
from kgtest import FIXTURES, ROOT, grader_env, run_grader

CLASS = FIXTURES / "class"
ASSIGNMENT = CLASS / "assignment.toml"
ON_TIME = "2026-03-01T12:00:00Z"
# student -> (solution file to copy, its name in the folder, submitted_at)
STUDENTS = {
    "alice": (FIXTURES / "add_pass.py", "add.py", ON_TIME),              # honest C++ kernel
    "bob": (CLASS / "add_minus.py", "add.py", ON_TIME),                  # wrong
    "carol": (FIXTURES / "add_compile_error.py", "add.py", ON_TIME),     # C++ that does not compile
    "dave": (CLASS / "add_spin_later.py", "add.py", ON_TIME),            # hangs in the trials
    "eve": (CLASS / "hostile.py", "add.py", ON_TIME),                    # attacks the batch, then dies
    "frank": (CLASS / "add_torch.py", "solution.py", "2026-03-03T10:00:00Z"),  # 2 days late; the only .py
    "grace": (None, "notes.txt", ON_TIME),                               # no solution file
    "heidi": (CLASS / "add_torch.py", "add.py", ON_TIME),                # same file as frank
}
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_READ_ONLY = ("Current Score", "Final Score", "Unposted Current Score", "Unposted Final Score",
                    "Current Grade", "Final Grade", "Override Score")


def make_class(root, students=tuple(STUDENTS)):
    for student in students:
        source, name, when = STUDENTS[student]
        folder = root / student
        folder.mkdir(parents=True)
        (folder / name).write_text(source.read_text() if source else "my notes, no code\n")
        (folder / "submitted_at").write_text(when + "\n")


def batch_argv(subs, out, *extra):
    return [sys.executable, "-m", "grader", "batch", str(ASSIGNMENT), str(subs), "--out", str(out), "--jobs", "2",
            *extra]


def ledger_rows(out):
    db = sqlite3.connect(f"file:{out / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        return [dict(zip([c[0] for c in cur.description], row))
                for cur in [db.execute("SELECT * FROM attempts ORDER BY id")] for row in cur.fetchall()]
    finally:
        db.close()


def descendants(pid):
    """Every process below `pid` now (the batch's gradings and their sandboxed workers)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def check_canvas(path, students, columns):
    """Canvas's gradebook import rules: the fixed columns first, a Points Possible row, one row per student
    with an id, numeric scores within the points possible, unique names, no read-only columns."""
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    header, possible, body = rows[0], rows[1], rows[2:]
    assert header[:5] == CANVAS_FIXED
    assert len(set(header)) == len(header) and all(header[5:])
    assert not any(h.startswith(CANVAS_READ_ONLY) for h in header[5:])
    assert header[5:] == columns
    assert possible[0].strip() == "Points Possible" and not any(possible[1:5])
    maxima = [float(x) for x in possible[5:]]
    assert sorted(r[0] for r in body) == sorted(students)
    for r in body:
        assert len(r) == len(header) and any(r[1:4]), r
        scores = [float(x) for x in r[5:]]
        assert all(0 <= s <= m for s, m in zip(scores, maxima)), r
        assert abs(sum(scores[:-1]) - scores[-1]) < 0.02, r
    return {r[0]: [float(x) for x in r[5:]] for r in body}


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_class_batch_survives_kill_resumes_and_regrades(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_class(subs)
    env = grader_env({"MAX_JOBS": "1"})
    proc = subprocess.Popen(batch_argv(subs, out), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    # SIGKILL part-way: once some gradings have finished and others are running.
    deadline = time.monotonic() + 1500
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "ledger.sqlite").exists():
            rows = ledger_rows(out)
            if sum(r["state"] == "done" and r["status"] != "missing" for r in rows) >= 2 and \
                    any(r["state"] == "running" for r in rows):
                break
        time.sleep(1)
    assert proc.poll() is None, "the batch ended before it could be killed:\n" + proc.stdout.read()[-3000:]
    tree = descendants(proc.pid)
    assert tree, "no gradings were running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Its gradings and their workers die with it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and [p for p in tree if alive(p)]:
        time.sleep(0.2)
    assert not [p for p in tree if alive(p)]
    before = ledger_rows(out)
    finished = {r["id"]: r for r in before if r["state"] == "done"}
    assert any(r["state"] == "running" for r in before)

    # Without --resume an existing ledger is refused, in one line.
    again = run_grader("batch", str(ASSIGNMENT), str(subs), "--out", str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--resume" in again.stderr

    resumed = subprocess.run(batch_argv(subs, out, "--resume"), cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=1500)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "graded in" in resumed.stdout   # the summary table
    after = ledger_rows(out)
    for rid, row in finished.items():   # finished results untouched, nothing graded twice
        assert next(r for r in after if r["id"] == rid) == row
    graded_before = {(r["student"], r["problem"]) for r in finished.values()}
    for r in after:
        if r["id"] not in finished and r["state"] == "done":
            assert (r["student"], r["problem"]) not in graded_before
    assert {r["state"] for r in after if r["id"] in {b["id"] for b in before if b["state"] == "running"}} \
        == {"abandoned"}
    current = {r["student"]: r for r in after if r["current"]}
    assert sorted(current) == sorted(STUDENTS)
    assert sum(r["state"] == "done" for r in after) == len(STUDENTS)

    status = {s: r["status"] for s, r in current.items()}
    assert status["alice"] == "passed", current["alice"]["message"]
    assert status["bob"] == "incorrect"
    assert status["carol"] == "compile_error"
    assert status["dave"] == "timeout"
    assert status["eve"] not in ("passed", "missing")
    assert status["frank"] == "passed" and status["heidi"] == "passed"
    assert status["grace"] == "missing"

    # Exports.
    a = assignment_mod.load(ASSIGNMENT)
    gradebook = check_canvas(out / "gradebook.csv", STUDENTS, ["HW0 add: add", "HW0 add: Total"])
    assert gradebook["frank"][-1] <= 9.0          # 2 days late, 1 grace day, 10% a day
    assert gradebook["heidi"][-1] >= 6.0 and gradebook["alice"][-1] >= 6.0
    assert all(gradebook[s][-1] == 0 for s in ("bob", "carol", "dave", "eve", "grace"))
    for student in STUDENTS:
        gs = GradescopeResults.model_validate_json((out / "gradescope" / student / "results.json").read_text())
        assert gs.score == gradebook[student][-1]
        assert [t.name for t in gs.tests] == ["add: correctness", "add: performance"]
        assert sum(t.score for t in gs.tests) * 0.9 - 0.02 <= gs.score <= sum(t.score for t in gs.tests) + 0.02
        assert gs.tests[1].visibility == "after_due_date"   # [show] performance
        assert not gs.leaderboard                          # performance is not visible yet
        assert "x vs eager" not in gs.tests[0].output       # nor leaked by the verdict line
        pl = PrairieLearnResults.model_validate_json((out / "prairielearn" / student / "results.json").read_text())
        assert abs(pl.score - gradebook[student][-1] / a.max_points) < 1e-3
        assert sum(t.max_points for t in pl.tests) == a.max_points
        report = json.loads((out / "results" / student / "report.json").read_text())
        assert report["problems"]["add"]["score"]["status"] == status[student]
        log = (out / "results" / student / "add.log").read_text()
        assert f"verdict: {status[student]}" in log
    heidi = json.loads((out / "results" / "heidi" / "report.json").read_text())
    assert heidi["problems"]["add"]["same_code_as"] == ["frank"]
    assert "compile log:" in (out / "results" / "carol" / "add.log").read_text()
    board = (out / "leaderboard.md").read_text()
    assert not any(s in board for s in STUDENTS) and board.count("| anon-") == len(STUDENTS)
    # Every student was timed against the one pinned baseline.
    baselines = json.loads((out / "baselines.json").read_text())
    assert [b["pinned"] for b in baselines][:1] == [1]
    pinned_ms = baselines[0]["timings"]["eager"]["median_ms"]
    for s in ("alice", "frank", "heidi"):
        rep = Report.model_validate_json(current[s]["report"])
        assert rep.baselines_given and rep.baseline_ms == pinned_ms

    # A regrade keeps the earlier attempt in the history.
    regraded = subprocess.run(batch_argv(subs, out, "--regrade", "heidi"), cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900)
    assert regraded.returncode == 0, regraded.stdout[-3000:] + regraded.stderr[-3000:]
    heidi_rows = [r for r in ledger_rows(out) if r["student"] == "heidi"]
    assert [(r["attempt"], r["current"], r["state"]) for r in heidi_rows] == [(1, 0, "done"), (2, 1, "done")]
    attempts = json.loads((out / "results" / "heidi" / "report.json").read_text())["problems"]["add"]["attempts"]
    assert [x["attempt"] for x in attempts] == [2, 1]
    others = {r["id"]: r for r in ledger_rows(out) if r["student"] != "heidi"}
    assert all(others[r["id"]] == r for r in after if r["student"] != "heidi")


def toml_with(tmp_path, text):
    path = tmp_path / "a.toml"
    path.write_text(text)
    return path


BASE = 'name = "hw"\ndue = 2026-03-01T23:59:00Z\n[[problems]]\nproblem = "relu"\ncorrectness = 5\nperformance = 5\n'


@pytest.mark.parametrize("text, fragment", [
    ('name = "hw"\n', "due: Field required"),
    (BASE + "[rubric]\nkind = \"linear\"\nzero_at = 2\nfull_at = 1\n", "full_at (1.0) must be above zero_at"),
    (BASE + "[late]\npercent_per_day = 150\n", "late.percent_per_day"),
    (BASE + "[grading]\ndevice = \"tpu\"\n", "grading.device"),
    ("name = \n", "not valid TOML"),
])
def test_assignment_errors_are_one_line(tmp_path, text, fragment):
    proc = run_grader("batch", str(toml_with(tmp_path, text)), str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr and "a.toml" in proc.stderr, proc.stderr


def test_unknown_regrade_student_and_bad_gpus_are_refused(tmp_path):
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    path = toml_with(tmp_path, BASE)
    proc = run_grader("batch", str(path), str(tmp_path / "subs"), "--out", str(tmp_path / "o"), "--regrade", "zed")
    assert proc.returncode == 2 and "--regrade zed" in proc.stderr
    proc = run_grader("batch", str(path), str(tmp_path / "subs"), "--out", str(tmp_path / "o"), "--gpus", "0,x")
    assert proc.returncode == 2 and "--gpus 0,x" in proc.stderr


def passed(speedup, trusted=True):
    return Report(status=Status.passed, message="ok", problem="p", solution="s", device="cpu", speedup=speedup,
                  speedup_trusted=trusted)


def test_rubrics_late_days_and_trust_gate():
    a = Assignment.model_validate({
        "name": "hw", "due": datetime(2026, 3, 1, tzinfo=timezone.utc),
        "problems": [{"problem": "p", "name": "lin", "correctness": 6, "performance": 4},
                     {"problem": "q", "name": "step", "correctness": 0, "performance": 10,
                      "rubric": {"kind": "steps", "steps": [{"speedup": 2, "fraction": 1},
                                                            {"speedup": 1, "fraction": 0.5}]}}],
        "late": {"percent_per_day": 10, "grace_days": 1, "max_days": 3}, "extensions": {"ext": 2}})
    on_time = datetime(2026, 2, 28, tzinfo=timezone.utc)

    def total(speedups, when=on_time, student="s", trusted=True):
        return score_student(a, student, when, {name: ("passed", "ok", passed(x, trusted))
                                                for name, x in zip(("lin", "step"), speedups)}).total

    assert total([1.2, 2.0]) == 20                 # full marks at full_at and the top step
    assert total([0.1, 0.99]) == 6                  # none at zero_at; below the first step
    assert total([0.65, 1.5]) == 6 + 2 + 5          # half-way up the ramp; the middle step
    assert total([1.2, 2.0], trusted=False) == 6    # untrusted timings earn no performance points
    day = 86400
    late = datetime.fromtimestamp(a.due.timestamp() + 1.5 * day, timezone.utc)   # 2 started days
    assert total([1.2, 2.0], late) == 18            # one grace day, then 10%
    assert total([1.2, 2.0], late, student="ext") == 20   # an extension moves the due date
    very = datetime.fromtimestamp(a.due.timestamp() + 3.5 * day, timezone.utc)
    assert total([1.2, 2.0], very) == 0             # past max_days
    wrong = score_student(a, "s", on_time, {"lin": ("incorrect", "no", None)})
    assert wrong.total == 0 and wrong.problems[1].status == "not graded"


def test_ledger_regrade_and_abandoned_attempts(tmp_path):
    when = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ledger = Ledger(tmp_path / "l.sqlite")
    run = ledger.start_run(["x"])
    first = ledger.begin(run, "ann", "p", "/s.py", "h", when, "cpu")
    assert ledger.needs_grading("ann", "p")
    ledger.finish(first, "passed", "ok", passed(1.0))
    assert not ledger.needs_grading("ann", "p")
    second = ledger.begin(run, "ann", "p", "/s.py", "h", when, "cpu")   # a regrade, killed before it finished
    ledger.close()
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.start_run(["x", "--resume"])
    rows = {a.id: a for a in ledger.attempts()}
    assert rows[second].state == "abandoned" and rows[first].current
    assert ledger.needs_grading("ann", "p")          # the unfinished regrade is redone
    ledger.finish(second, "passed", "late result", passed(2.0))    # a result of a dead run is not taken
    assert [a.id for a in ledger.attempts(current_only=True)] == [first]


def test_documented_assignment_schema_matches_the_code():
    import re

    text = (ROOT / "docs" / "batch.md").read_text()
    documented = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))
    assert documented == json.loads(json.dumps(Assignment.model_json_schema())), \
        "docs/batch.md is stale: regenerate its JSON Schema block from Assignment.model_json_schema()"


def test_documented_example_assignment_is_valid(tmp_path):
    import re

    text = (ROOT / "docs" / "batch.md").read_text()
    example = re.search(r"```toml\n(.*?)\n```", text, re.S).group(1)
    (tmp_path / "kernels").mkdir()
    a = assignment_mod.load(toml_with(tmp_path, example))
    assert [p.name for p in a.problems] == ["softmax", "fused"] and a.max_points == 20


@pytest.mark.gpu
@pytest.mark.slow
def test_gpu_lane_pins_baselines_on_its_device(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student, expr in (("ann", "torch.relu(x)"), ("ben", "x.clamp(min=0)"), ("cai", "x.abs()")):
        (subs / student).mkdir(parents=True)
        (subs / student / "relu.py").write_text(f"import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n"
                                                f"    def forward(self, x):\n        return {expr}\n")
    path = toml_with(tmp_path, 'name = "gpu"\ndue = 2026-03-01T23:59:00Z\n[[problems]]\nproblem = "relu"\n'
                               'correctness = 5\nperformance = 5\n[grading]\ndevice = "cuda"\nsandbox = "local"\n'
                               'trials = 2\nmax_timing_s = 0.5\n')
    proc = run_grader("batch", str(path), str(subs), "--out", str(out), "--gpus", "0", "--jobs", "3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["student"]: r for r in ledger_rows(out)}
    assert {r["lane"] for r in rows.values()} == {"gpu0"}
    assert [rows[s]["status"] for s in ("ann", "ben", "cai")] == ["passed", "passed", "incorrect"]
    for s in ("ann", "ben"):
        rep = Report.model_validate_json(rows[s]["report"])
        assert rep.baselines_given and rep.baseline_compile_ms is not None
