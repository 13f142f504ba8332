"""Seconds each phase of a grading takes, cold (empty compile cache) and cached: the inputs of the throughput
model in docs/scaling.md.

    python bench/phase_times.py SOLUTION --problem P [--device cuda|cpu] [--runs 2] [--no-compile-baseline]
                                [--max-timing-s S] [--trials N]

Runs `grader check --json` RUNS times in new processes sharing one fresh compile cache (the first run is
cold, the others hit the cache) and reads each phase's span from the progress events (`at_s` of its first
and last event). `load` is the workers' start and the problem's import; `baseline` is eager and
torch.compile timed, which a batch does once per problem and GPU instead of once per grading.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("load", "compile", "correctness", "timing", "baseline")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("solution")
    ap.add_argument("--problem", required=True)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--max-timing-s", type=float, default=10.0)
    ap.add_argument("--no-compile-baseline", action="store_true")
    args = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="kg-phase-cache-")
    env = {**os.environ, "KG_COMPILE_CACHE": cache,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    rows = []
    for run in range(args.runs):
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "grader", "check", args.solution, "--problem", args.problem,
                            "--device", args.device, "--json", "--trials", str(args.trials), "--max-timing-s",
                            str(args.max_timing_s)] + (["--no-compile-baseline"] if args.no_compile_baseline else []),
                           env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        report = json.loads(p.stdout.strip().splitlines()[-1])
        spans: dict[str, list[float]] = {}
        for line in p.stderr.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict) and ev.get("at_s") is not None and ev.get("phase") in PHASES:
                spans.setdefault(ev["phase"], []).append(ev["at_s"])
        rows.append((run, report["status"], report.get("compile_cached"),
                     {ph: max(s) - min(s) for ph, s in spans.items()}, report["duration_s"], wall))
    gpu = "-"
    if args.device == "cuda":
        import torch
        gpu = torch.cuda.get_device_name(0)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {gpu}; load {os.getloadavg()[0]:.1f}")
    print(f"{args.solution} against {args.problem} on {args.device}, {args.trials} trials, max_timing_s "
          f"{args.max_timing_s}, torch.compile baseline {'off' if args.no_compile_baseline else 'on'}")
    print(f"{'run':<8}{'status':<10}{'cached':<8}" + "".join(f"{ph + ' s':>14}" for ph in PHASES)
          + f"{'grading s':>11}{'wall s':>9}")
    for run, status, cached, spans, duration, wall in rows:
        print(f"{'cold' if run == 0 else 'cached':<8}{status:<10}{str(cached):<8}"
              + "".join(f"{spans.get(ph, 0.0):>14.2f}" for ph in PHASES) + f"{duration:>11.2f}{wall:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
