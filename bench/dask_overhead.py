"""What the Dask executor adds to each grading: a scheduler and a worker started as separate processes (Dask's
own CLI, as on a cluster), then, one task at a time as the batch hands them over:

    python bench/dask_overhead.py [--n 200] [--report REPORT.json]

- a no-op task: submit to result, the scheduler's and the network's share of every grading;
- an echo of a grading's payload: the `Task` JSON out and a `TaskResult` JSON back holding a real report
  (REPORT.json, e.g. a `grader check --json` report; default: a passed report with 5 trials built here);
- `capacity()`'s question to the scheduler (the runner asks it at most every 2 s).

Prints a table (median and 90th percentile, ms).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def echo(payload: str) -> str:
    return payload


def noop() -> None:
    return None


def sample_report() -> str:
    from grader.models import Report, Status, TrialResult

    return Report(status=Status.passed, message="correct on 5 trials; 1.02x vs eager", problem="relu",
                  solution="/subs/s000/relu.py", device="cuda",
                  trials=[TrialResult(index=i, label="trial", ok=True) for i in range(1, 6)],
                  compile_log="x" * 4000, worker_log="y" * 4000).model_dump_json()


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--report", help="a grader check --json report to carry back (default: one built here)")
    args = ap.parse_args()
    import dask
    from distributed import Client

    from grader.batch.executors import Task, TaskResult
    from grader.models import GradeRequest, Report

    report = Report.model_validate_json(Path(args.report).read_text().strip().splitlines()[-1]) if args.report \
        else Report.model_validate_json(sample_report())
    task = Task(key="s000/relu", request=GradeRequest(solution="/subs/s000/relu.py", problem="relu")).model_dump_json()
    result = TaskResult(key="s000/relu", report=report, log="z" * 8000, wall_s=30.0).model_dump_json()

    work = Path(tempfile.mkdtemp(prefix="kg-dask-bench-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    cli = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen(cli + ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(work / "s.json")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        while not (work / "s.json").exists():
            time.sleep(0.1)
        address = json.loads((work / "s.json").read_text())["address"]
        procs.append(subprocess.Popen(cli + ["worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                                             "127.0.0.1"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        with Client(address) as client:
            client.wait_for_workers(1, timeout=120)
            client.submit(noop, pure=False).result()   # warm: the worker imports this module once
            rows = [
                ("no-op task, submit to result", timed(lambda: client.submit(noop, pure=False).result(), args.n)),
                (f"grading payload: Task {len(task)} B out, TaskResult {len(result)} B back",
                 timed(lambda: TaskResult.model_validate_json(
                     client.submit(echo, result, pure=False).result()), args.n)),
                ("capacity(): scheduler_info of every worker", timed(
                    lambda: client.scheduler_info(n_workers=-1), args.n)),
            ]
    finally:
        for p in procs[::-1]:
            p.terminate()
            p.wait()

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"dask {dask.__version__}; python {platform.python_version()}; {args.n} tasks one at a time")
    print(f"{'what':<66}{'median ms':>11}{'p90 ms':>10}")
    for name, ms in rows:
        print(f"{name:<66}{statistics.median(ms):>11.2f}{statistics.quantiles(ms, n=10)[-1]:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
