"""The batch: which gradings are missing, the baselines each GPU needs first, and the order they run in.

Scheduling, per free slot (at most `--jobs` gradings at once, `--jobs` per worker on Dask: the executor's
`capacity()`; tasks are handed over one free slot at a time, in this order; each GPU lane gets the slot in turn when
`--gpus` names several): first the baselines a lane lacks (the problem's reference graded as its own
solution: eager and torch.compile timed once per problem per GPU and pinned in the ledger), then any
re-timing that is due (every `retime_every` gradings on the lane; it records the drift, the pin stays so
every student is measured against the same reference), then the next student. Compiles overlap freely;
the device lock in the engine lets one grading at a time onto each GPU.
"""

from __future__ import annotations

import sys
from collections import defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..models import GradeRequest, KnownBaselines, Report, Status
from . import exports
from .assignment import Assignment, ProblemEntry
from .display import BatchDisplay
from .executors import EXECUTORS, Executor, ExecutorSettings, Task, TaskResult
from .ledger import Ledger
from .scoring import MISSING
from .submissions import Submission, collect

DRIFT_WARN = 0.10   # a re-timed baseline this far from the pinned one is reported


@dataclass
class Options:
    assignment: Assignment
    assignment_path: Path
    submissions: Path
    out: Path
    jobs: int = 1
    gpus: list[str] | None = None
    resume: bool = False
    regrade: list[str] = field(default_factory=list)
    executor: str = "local"
    scheduler: str | None = None
    cluster: str | None = None
    argv: list[str] = field(default_factory=list)


@dataclass
class Running:
    kind: str                  # "student" or "baseline"
    lane: str
    problem: ProblemEntry
    submission: Submission | None = None
    attempt_id: int | None = None


def lane_name(gpu: str | None, device: str) -> str:
    return f"gpu{gpu}" if gpu is not None else ("cpu" if device == "cpu" else "gpu")


class Batch:
    def __init__(self, opts: Options, display: BatchDisplay):
        self.opts, self.display = opts, display
        self.a = opts.assignment
        self.entries = {p.name: p for p in self.a.problems}
        if opts.gpus and self.a.grading.device != "cuda":
            raise UsageError(f"{opts.assignment_path}: --gpus needs grading.device = \"cuda\"")
        self.gpus: list[str | None] = list(opts.gpus) if opts.gpus else [None]
        self.lanes = {lane_name(g, self.a.grading.device): g for g in self.gpus}
        opts.out.mkdir(parents=True, exist_ok=True)
        ledger_path = opts.out / "ledger.sqlite"
        existed = ledger_path.exists()
        self.ledger = Ledger(ledger_path)
        if existed and self.ledger.has_results() and not (opts.resume or opts.regrade):
            raise UsageError(f"{opts.out}: holds the ledger of an earlier batch; pass --resume to finish it, "
                             "--regrade STUDENT to grade someone again, or a new --out")
        self.baseline_failed: set[tuple[str, str]] = set()
        self.since_timed: dict[tuple[str, str], int] = defaultdict(int)

    def request(self, entry: ProblemEntry, solution: str, baselines: KnownBaselines | None) -> GradeRequest:
        g = self.a.grading
        return GradeRequest(solution=solution, problem=entry.problem, problems_dir=self.a.problems_dir,
                            device=g.device, sandbox=g.sandbox, trials=g.trials, timeouts=g.timeouts,
                            baseline_compile=g.compile_baseline, strict=g.strict, max_timing_s=g.max_timing_s,
                            memory_limit_mb=g.memory_limit_mb, baselines=baselines)

    def run(self) -> int:
        opts = self.opts
        subs = collect(opts.submissions, list(self.entries))
        students = {s.student for s in subs}
        unknown = sorted(set(opts.regrade) - students)
        if unknown:
            raise UsageError(f"--regrade {unknown[0]}: no such student folder in {opts.submissions}")
        if opts.regrade and not self.ledger.has_results():
            raise UsageError(f"--regrade: {opts.out} holds no earlier results; run the batch first")
        regrade = set(opts.regrade)
        if opts.regrade and not opts.resume:
            todo = [s for s in subs if s.student in regrade]
        else:
            todo = [s for s in subs if s.student in regrade or self.ledger.needs_grading(s.student, s.problem)]
        run_id = self.ledger.start_run(opts.argv)
        self.run_id = run_id
        executor: Executor = EXECUTORS[opts.executor](ExecutorSettings(
            jobs=opts.jobs, device=self.a.grading.device, scheduler=opts.scheduler, cluster=opts.cluster))
        self.display.begin(total=len(todo), students=len(students), lanes=list(self.lanes))
        pending: deque[Submission] = deque()
        for s in todo:
            if s.solution is None:   # nothing to grade: recorded at once, scores zero
                aid = self.ledger.begin(run_id, s.student, s.problem, None, None, s.submitted_at, "")
                self.ledger.finish(aid, MISSING, s.note, None)
                self.display.finished(f"{s.student}/{s.problem}", MISSING, s.note, 0.0)
            else:
                pending.append(s)
        running: dict[Future, Running] = {}
        try:
            while pending or running:
                while len(running) < executor.capacity():
                    started = self._dispatch(executor, pending, running)
                    if not started:
                        break
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    self._finished(running.pop(fut), fut.result())
        finally:
            executor.shutdown()
        self.ledger.finish_run(run_id)
        scores = exports.write_all(self.a, self.ledger, opts.out)
        self.display.end(scores, self.a)
        return 0

    def _lane_load(self, running: dict[Future, Running]) -> list[str]:
        load = {lane: 0 for lane in self.lanes}
        for r in running.values():
            load[r.lane] += 1
        return sorted(load, key=lambda lane: load[lane])

    def _dispatch(self, executor: Executor, pending: deque[Submission], running: dict[Future, Running]) -> bool:
        in_flight = {(r.problem.name, r.lane) for r in running.values() if r.kind == "baseline"}
        needed = list(dict.fromkeys(s.problem for s in pending))
        for lane in self._lane_load(running):
            for name in needed:
                key = (name, lane)
                if key in in_flight or key in self.baseline_failed:
                    continue
                pinned = self.ledger.pinned_baselines(name, lane)
                if pinned is None or self.since_timed[key] >= self.a.grading.retime_every:
                    self._start_baseline(executor, self.entries[name], lane, running)
                    return True
            for i, s in enumerate(pending):
                key = (s.problem, lane)
                if key not in self.baseline_failed and self.ledger.pinned_baselines(s.problem, lane) is None:
                    continue   # its baselines are being measured now
                del pending[i]
                self._start_student(executor, s, lane, running)
                return True
        return False

    def _submit(self, executor: Executor, key: str, req: GradeRequest, lane: str, info: Running,
                running: dict[Future, Running]) -> None:
        task = Task(key=key, request=req, gpu=self.lanes[lane])
        running[executor.submit(task, self.display.event)] = info
        self.display.started(key, lane)

    def _start_baseline(self, executor: Executor, entry: ProblemEntry, lane: str,
                        running: dict[Future, Running]) -> None:
        shim = exports.reference_as_solution(self.opts.out, entry, self.a.problems_dir)
        req = self.request(entry, str(shim), None).model_copy(update={"strict": False})
        self.since_timed[(entry.name, lane)] = 0
        self._submit(executor, f"baseline/{entry.name}@{lane}", req, lane, Running("baseline", lane, entry), running)

    def _start_student(self, executor: Executor, s: Submission, lane: str, running: dict[Future, Running]) -> None:
        entry = self.entries[s.problem]
        baselines = self.ledger.pinned_baselines(s.problem, lane)
        aid = self.ledger.begin(self.run_id, s.student, s.problem, s.solution, s.sha256, s.submitted_at, lane)
        self.since_timed[(s.problem, lane)] += 1
        self._submit(executor, f"{s.student}/{s.problem}", self.request(entry, s.solution, baselines), lane,
                     Running("student", lane, entry, s, aid), running)

    def _finished(self, r: Running, result: TaskResult) -> None:
        if r.kind == "baseline":
            return self._baseline_done(r, result)
        s = r.submission
        report = result.report
        if report is None:   # the grading itself failed: the row says how, nothing else is touched
            report = Report(status=Status.timeout if result.hung else Status.runtime_error,
                            message=result.error or "the grading failed", problem=r.problem.problem,
                            solution=s.solution or "", device=self.a.grading.device, worker_log=result.log[-4000:])
        self.ledger.finish(r.attempt_id, report.status.value, report.message, report)
        points = exports.points_of(self.a, r.problem, s.student, s.submitted_at, report)
        self.display.finished(result.key, report.status.value, report.message, points)

    def _baseline_done(self, r: Running, result: TaskResult) -> None:
        rep = result.report
        key = (r.problem.name, r.lane)
        if rep is None or not rep.passed or rep.baseline is None:
            # Students of this problem then time their own baselines: slower, still sound.
            self.baseline_failed.add(key)
            why = result.error or (rep.message if rep else "no report")
            self.display.note(f"baselines of {r.problem.name} on {r.lane} could not be measured: {why}")
            self.display.finished(result.key, "baseline_failed", why, None)
            return
        timings = KnownBaselines(eager=rep.baseline,
                                 compile=rep.baseline_compile)
        drift = self.ledger.add_baselines(self.run_id, r.problem.name, r.lane, timings)
        msg = f"eager {rep.baseline_ms:.4g} ms" + (f", compile {rep.baseline_compile_ms:.4g} ms"
                                                   if rep.baseline_compile_ms else "")
        if drift is not None:
            msg += f"; {drift * 100:+.1f}% from the pinned baseline"
            if abs(drift) > DRIFT_WARN:
                self.display.note(f"baseline of {r.problem.name} on {r.lane} drifted {drift * 100:+.1f}% "
                                  "since it was pinned; the pinned one stays in use")
        self.display.finished(result.key, "baseline", msg, None)


def run(opts: Options) -> int:
    display = BatchDisplay.for_stdout(sys.stdout)
    try:
        return Batch(opts, display).run()
    finally:
        display.close()
