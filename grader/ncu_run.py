"""Inside the sandbox, for `grader check --profile`: start the candidate's worker under Nsight Compute.

Run as the jailed module in place of grader.worker; replaces itself with `ncu ... python -m grader.worker`, so
ncu and the worker it profiles both live in the jail, under its limits, and ncu's CSV lands in the worker's
exchange folder (grader/ncu.py reads it once the worker has exited). Nothing here is trusted: the candidate
can rewrite that file, which is why a profile is a hint and never part of the verdict.
"""

from __future__ import annotations

import os
import sys

from grader.ncu import LOG_NAME, argv, find


def main() -> int:
    exe = find(os.environ.get("KG_NCU"))
    if exe is None:
        print("ncu: Nsight Compute is not visible inside the sandbox", file=sys.stderr, flush=True)
        return 127
    cmd = argv(exe, os.path.join(os.environ["KG_EXCHANGE"], LOG_NAME), [sys.executable, "-m", "grader.worker"])
    os.execv(cmd[0], cmd)
    return 127  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
