"""Inside the sandbox, for `grader check --profile`: start the candidate's worker under Nsight Compute.

Run as the jailed module in place of grader.jail.worker; replaces itself with `ncu ... python -m grader.jail.worker`, so
ncu and the worker it profiles both live in the jail, under its limits, and ncu's CSV lands in the worker's
exchange folder (grader/judge/ncu.py reads it once the worker has exited). Nothing here is trusted: the candidate
can rewrite that file, which is why a profile is a hint and never part of the verdict.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

LOG_NAME = "ncu.csv"
LAUNCH_COUNT = 200          # kernels profiled at most: each is replayed once per metric pass
DURATION = "gpu__time_duration.sum"
DRAM = "dram__throughput.avg.pct_of_peak_sustained_elapsed"
SM = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
L2 = "lts__throughput.avg.pct_of_peak_sustained_elapsed"
L1 = "l1tex__throughput.avg.pct_of_peak_sustained_active"
OCCUPANCY = "sm__warps_active.avg.pct_of_peak_sustained_active"
REGISTERS = "launch__registers_per_thread"
METRICS = (DURATION, DRAM, SM, L2, L1, OCCUPANCY, REGISTERS)


def find(hint: str | None = None) -> str | None:
    """The ncu executable: `hint` (KG_NCU), PATH, the CUDA toolkit's bin, Nsight Compute's own folder."""
    cuda = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    places = [hint, shutil.which("ncu"), cuda and os.path.join(cuda, "bin", "ncu"), "/usr/local/cuda/bin/ncu",
              *sorted(glob.glob("/opt/nvidia/nsight-compute/*/ncu"), reverse=True)]
    return next((p for p in places if p and os.path.isfile(p) and os.access(p, os.X_OK)), None)


def argv(exe: str, log: str, command: list[str]) -> list[str]:
    """ncu over `command`: only the profiler's range (the one forward), clocks left alone (as the timing
    leaves them), every process the command starts, CSV in base units into `log`."""
    return [exe, "--profile-from-start", "off", "--target-processes", "all", "--clock-control", "none",
            "--launch-count", str(LAUNCH_COUNT), "--print-kernel-base", "function", "--print-units", "base",
            "--csv", "--log-file", log, "--metrics", ",".join(METRICS), *command]


def main() -> int:
    exe = find(os.environ.get("KG_NCU"))
    if exe is None:
        print("ncu: Nsight Compute is not visible inside the sandbox", file=sys.stderr, flush=True)
        return 127
    cmd = argv(exe, os.path.join(os.environ["KG_EXCHANGE"], LOG_NAME), [sys.executable, "-m", "grader.jail.worker"])
    os.execv(cmd[0], cmd)
    return 127  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
