"""A class graded by `grader batch` against the same submissions graded one `grader check` at a time.

    python bench/class_throughput.py [--n 40] [--device cuda|cpu] [--jobs J] [--sequential-budget-s S]
                                     [--executor local|dask] [--workers W]

Generates N submissions of one bundled problem (`relu` on cuda, `cpu_hardswish` on cpu): PyTorch-op
variants, one in ten wrong, each file distinct. Both modes grade with the same settings (trials, timing
cap, torch.compile baseline unless --no-compile-baseline). The batch runs first with --jobs J; then the
sequential loop, stopped once it has used --sequential-budget-s, in which case its wall time for N is
extrapolated from the mean per submission and the table says so. Verdicts of the two modes are compared submission by submission.

`--executor dask` grades the batch through a Dask cluster the batch starts here (`--cluster local:W`): one
worker per GPU lane (W defaults to the GPUs torch sees; 2 on cpu), each holding J gradings at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

VARIANTS = {
    "relu": (["torch.relu(x)", "torch.clamp_min(x, 0.0)", "x.clamp(min=0)", "F.relu(x)",
              "torch.where(x > 0, x, torch.zeros_like(x))"], "x.abs()"),
    "cpu_hardswish": (["F.hardswish(x)", "x * torch.clamp(x + 3, 0, 6) / 6", "x * F.relu6(x + 3) / 6"],
                      "x * F.relu6(x) / 6"),
}


def submission(k: int, expr: str) -> str:
    return (f"# generated submission {k}\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
            f"class ModelNew(nn.Module):\n    def forward(self, x):\n        return {expr}\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--device", choices=["cuda", "cpu"])
    ap.add_argument("--jobs", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--max-timing-s", type=float, default=0.5)
    ap.add_argument("--sequential-budget-s", type=float, default=400.0)
    ap.add_argument("--no-compile-baseline", action="store_true", help="skip torch.compile in both modes")
    ap.add_argument("--executor", choices=["local", "dask"], default="local", help="where the batch grades")
    ap.add_argument("--workers", type=int, help="dask: worker processes, one per GPU (default: every GPU; 2 on cpu)")
    args = ap.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    problem = "relu" if device == "cuda" else "cpu_hardswish"
    right, wrong = VARIANTS[problem]
    work = Path(tempfile.mkdtemp(prefix="kg-class-"))
    subs = work / "subs"
    for k in range(args.n):
        folder = subs / f"s{k:03d}"
        folder.mkdir(parents=True)
        expr = wrong if k % 10 == 9 else right[k % len(right)]
        (folder / f"{problem}.py").write_text(submission(k, expr))
        (folder / "submitted_at").write_text("2026-01-01T00:00:00Z\n")
    (work / "a.toml").write_text(
        f'name = "bench"\ndue = 2026-01-02T00:00:00Z\n[[problems]]\nproblem = "{problem}"\ncorrectness = 5\n'
        f'performance = 5\n[grading]\ndevice = "{device}"\nsandbox = "local"\ntrials = {args.trials}\n'
        f"max_timing_s = {args.max_timing_s}\ncompile_baseline = {'false' if args.no_compile_baseline else 'true'}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

    executor = []
    if args.executor == "dask":
        workers = args.workers or (torch.cuda.device_count() if device == "cuda" else 2)
        executor = ["--executor", "dask", "--cluster", f"local:{workers}"]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(work / "a.toml"), str(subs), "--out",
                           str(work / "out"), "--jobs", str(args.jobs), *executor], env=env, capture_output=True,
                          text=True)
    batch_s = time.monotonic() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 1
    batch_verdicts = {}
    for k in range(args.n):
        rep = json.loads((work / "out" / "results" / f"s{k:03d}" / "report.json").read_text())
        batch_verdicts[k] = rep["problems"][problem]["score"]["status"]

    seq_verdicts, t0 = {}, time.monotonic()
    for k in range(args.n):
        if time.monotonic() - t0 > args.sequential_budget_s:
            break
        p = subprocess.run([sys.executable, "-m", "grader", "check", str(subs / f"s{k:03d}" / f"{problem}.py"),
                            "--problem", problem, "--device", device, "--sandbox", "local", "--trials",
                            str(args.trials), "--max-timing-s", str(args.max_timing_s), "--json"]
                           + (["--no-compile-baseline"] if args.no_compile_baseline else []),
                           env=env, capture_output=True, text=True)
        seq_verdicts[k] = json.loads(p.stdout.strip().splitlines()[-1])["status"]
    seq_s = time.monotonic() - t0
    done = len(seq_verdicts)
    seq_full = seq_s / done * args.n
    agree = sum(seq_verdicts[k] == batch_verdicts[k] for k in seq_verdicts)

    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "-"
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}")
    print(f"problem {problem} on {device}, {args.n} submissions, trials {args.trials}, max_timing_s "
          f"{args.max_timing_s}, torch.compile baseline {'off' if args.no_compile_baseline else 'on'}; "
          f"batch --jobs {args.jobs} {' '.join(executor)}")
    print(f"{'mode':<44}{'graded':>8}{'wall s':>10}{'s/submission':>14}  verdicts")
    print(f"{'grader batch':<44}{args.n:>8}{batch_s:>10.1f}{batch_s / args.n:>14.2f}  "
          f"{dict(Counter(batch_verdicts.values()))}")
    label = "grader check loop" + ("" if done == args.n else f" ({done} run, rest extrapolated)")
    print(f"{label:<44}{done:>8}{seq_full:>10.1f}{seq_s / done:>14.2f}  {dict(Counter(seq_verdicts.values()))}")
    print(f"batch is {seq_full / batch_s:.2f}x faster; verdicts agree on {agree}/{done} submissions graded both ways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
