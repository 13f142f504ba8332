"""Can a busy machine turn a CPU grading into a false speedup? The same solutions graded idle, then beside busy
processes, in one run.

    python bench/cpu_noise.py                              # cpu_hardswish and cpu_softmax, 3 gradings each way
    python bench/cpu_noise.py --solutions cpu_relu --runs 2 --busy 2

Per solution: the speedups of each grading idle and busy (`*` marks one reported untrusted: flagged
`noisy_timing`, `coarse_own_clock` or `timing_mismatch`), how far the median trusted busy speedup moved from the
idle one, and whether the goal holds: within 10%, or every busy grading flagged.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.judge.engine import grade  # noqa: E402
from grader.models import GradeRequest  # noqa: E402


def spin() -> None:
    while True:
        pass


def grade_many(name: str, runs: int, max_timing_s: float) -> list[tuple[float | None, bool]]:
    out = []
    for _ in range(runs):
        r = grade(GradeRequest(solution=str(ROOT / "solutions" / "cpu" / f"{name}.py"), problem=name, device="cpu",
                               sandbox="local", trials=2, baseline_compile=False, max_timing_s=max_timing_s))
        out.append((r.speedup, r.speedup_trusted))
        print(f"  {name}: {r.status.value} {r.speedup}x trusted={r.speedup_trusted} {r.flags}", file=sys.stderr,
              flush=True)
    return out


def fmt(results: list[tuple[float | None, bool]]) -> str:
    return " ".join(f"{s:.2f}{'' if t else '*'}" if s is not None else "-" for s, t in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solutions", default="cpu_hardswish,cpu_softmax")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--busy", type=int, default=1, help="busy processes beside the busy gradings")
    ap.add_argument("--max-timing-s", type=float, default=3.0)
    args = ap.parse_args()
    rows = []
    for name in args.solutions.split(","):
        idle = grade_many(name, args.runs, args.max_timing_s)
        hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
        for h in hogs:
            h.start()
        try:
            busy = grade_many(name, args.runs, args.max_timing_s)
        finally:
            for h in hogs:
                h.kill()
        base = [s for s, t in idle if t and s] or [s for s, _ in idle if s]
        moved_from = statistics.median(base) if base else None
        trusted_busy = [s for s, t in busy if t and s]
        moved = max((abs(s / moved_from - 1) for s in trusted_busy), default=0.0) if moved_from else None
        ok = moved is not None and moved <= 0.10
        rows.append((name, fmt(idle), fmt(busy), moved, ok))
    print(f"{'solution':<16} {'idle speedups':<22} {'busy speedups':<22} {'worst trusted move':>18}  goal")
    for name, idle, busy, moved, ok in rows:
        shown = f"{moved:.1%}" if moved is not None else "n/a"
        print(f"{name:<16} {idle:<22} {busy:<22} {shown:>18}  {'met' if ok else 'MISSED'}")
    print("* = reported untrusted (noisy_timing, coarse_own_clock or timing_mismatch); a busy speedup that is"
          " untrusted does not count toward the move")


if __name__ == "__main__":
    main()
