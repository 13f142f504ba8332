"""`grader batch ASSIGNMENT.toml SUBMISSIONS_DIR --out OUT_DIR`: grade a whole class (grader/batch/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.errors import UsageError


def register(sub) -> None:
    from grader.batch.executors import EXECUTORS

    p = sub.add_parser("batch", help="grade a whole class: one folder per student",
                       description="Grade every student's solutions, resumably, and write the gradebook, "
                                   "Gradescope and PrairieLearn results and a leaderboard to OUT_DIR "
                                   "(docs/batch.md).")
    p.add_argument("assignment", help="ASSIGNMENT.toml: problems, points, rubric, due date, late policy")
    p.add_argument("submissions", help="folder with one folder per student (the folder name is the student id)")
    p.add_argument("--out", required=True, help="output folder; its ledger.sqlite holds every result")
    p.add_argument("--jobs", type=int, default=2, help="gradings at once, per worker with --executor dask "
                                                        "(compiles overlap; each GPU runs one grading's checks "
                                                        "and timings at a time); default 2")
    p.add_argument("--gpus", help="comma-separated GPU indices, one lane each (e.g. 0,1,2,3)")
    p.add_argument("--resume", action="store_true", help="finish a batch that was stopped: grade only what is "
                                                         "missing from the ledger")
    p.add_argument("--regrade", nargs="+", default=[], metavar="STUDENT",
                   help="grade these students again; earlier attempts stay in their history")
    p.add_argument("--executor", choices=sorted(EXECUTORS), default="local",
                   help="where gradings run: this machine, or a Dask cluster (the `dask` extra; docs/scaling.md)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="dask: the scheduler of a running cluster")
    p.add_argument("--cluster", metavar="SPEC", help="dask: start a cluster for this batch: local:N (N workers on "
                                                    "this machine, one GPU each) or slurm:CONFIG.yaml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grader.batch import assignment, runner

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    gpus = None
    if args.gpus:
        gpus = [g.strip() for g in args.gpus.split(",") if g.strip()]
        if not all(g.isdigit() for g in gpus) or len(set(gpus)) != len(gpus):
            raise UsageError(f"--gpus {args.gpus}: give distinct GPU indices separated by commas, e.g. 0,1")
    if args.executor == "dask" and bool(args.scheduler) == bool(args.cluster):
        raise UsageError("--executor dask: give either --scheduler tcp://HOST:PORT (a running cluster) or "
                         "--cluster local:N | slurm:CONFIG.yaml (docs/scaling.md)")
    if args.executor != "dask" and (args.scheduler or args.cluster):
        raise UsageError(f"--{'scheduler' if args.scheduler else 'cluster'}: only with --executor dask")
    if args.executor == "dask" and gpus:
        raise UsageError("--gpus: with --executor dask each Dask worker owns one GPU; use --cluster local:N")
    path = Path(args.assignment)
    opts = runner.Options(assignment=assignment.load(path), assignment_path=path, submissions=Path(args.submissions),
                          out=Path(args.out), jobs=args.jobs, gpus=gpus, resume=args.resume, regrade=args.regrade,
                          executor=args.executor, scheduler=args.scheduler, cluster=args.cluster, argv=sys.argv[1:])
    return runner.run(opts)
