"""Triton and CuTe DSL solutions graded, and their kernels timed by triton's do_bench in the same run.

For each case the grader grades the solution (jailed workers; the JIT compile and autotuning in the compile
phase's warm-up call; events, the trusted window), then this process loads the same solution and problem and
times `ModelNew.forward` and the reference with `triton.testing.do_bench` (median) on the problem's inputs.
Printed: verdict, the compile phase's seconds (imports, the JIT and autotuning), our candidate and eager
medians, do_bench's, and how far apart they are.

    python bench/triton_check.py                                   # the default cases (needs a CUDA GPU)
    python bench/triton_check.py --case solutions/triton/softmax.py:softmax --case solutions/cute/relu.py:relu

A case whose solution cannot be imported here (no nvidia-cutlass-dsl for the CuTe one) is reported and skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing_agreement import load  # noqa: E402
from grader.jail import backends  # noqa: E402
from grader.judge import problems  # noqa: E402
from grader.judge.engine import grade  # noqa: E402
from grader.models import GradeRequest, Phase, ProgressEvent  # noqa: E402

DEFAULT_CASES = ("solutions/triton/softmax.py:softmax", "solutions/cute/relu.py:relu")


def grade_case(solution: Path, problem: str, profile: bool):
    """The report, and the compile phase's seconds as the grader's own events say."""
    marks: dict[str, float] = {}

    def on_event(ev: ProgressEvent) -> None:
        if ev.phase is Phase.compile and ev.at_s is not None:
            marks[ev.kind] = ev.at_s

    report = grade(GradeRequest(solution=str(solution), problem=problem, device="cuda", sandbox="local",
                                baseline_compile=False, profile=profile), on_event)
    compile_s = marks["end"] - marks["start"] if {"start", "end"} <= marks.keys() else None
    return report, compile_s


def do_bench_pair(solution: Path, problem: str) -> tuple[float, float]:
    """do_bench medians (ms) of the candidate and of the reference, in this process, on the problem's inputs."""
    from triton.testing import do_bench

    pmod, Model = load(problems.resolve(problem), "Model")
    _, ModelNew = load(solution, "ModelNew")
    torch.manual_seed(0)
    init = pmod.get_init_inputs()
    ref, cand = Model(*init).cuda(), ModelNew(*init).cuda()
    with torch.device("cuda"):
        args = pmod.get_inputs()
    with torch.no_grad():
        cand(*args)  # its JIT compile and autotuning, outside the figure as in the grader's compile phase
        torch.cuda.synchronize()
        return do_bench(lambda: cand(*args), return_mode="median"), do_bench(lambda: ref(*args), return_mode="median")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="SOLUTION:PROBLEM (repeatable)")
    ap.add_argument("--profile", action="store_true", help="grade with --profile too and print ncu's tables")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/triton_check.py needs a CUDA GPU")
    rows = []
    for case in args.case or DEFAULT_CASES:
        sol, problem = case.rsplit(":", 1)
        solution = (ROOT / sol) if not Path(sol).is_absolute() else Path(sol)
        lang = backends.detect(solution).label
        try:
            db_c, db_r = do_bench_pair(solution, problem)
        except ImportError as e:
            print(f"  skipped {case}: {e}", file=sys.stderr, flush=True)
            continue
        torch.cuda.empty_cache()  # this process's tensors are gone: the grading has the GPU to itself
        report, compile_s = grade_case(solution, problem, args.profile)
        rows.append((f"{problem} ({lang})", report, compile_s, db_c, db_r))
        print(f"  done {case}: {report.status.value}: {report.message}", file=sys.stderr, flush=True)
        if args.profile:
            from rich.console import Console

            from grader.cli.display import profile_table

            Console().print(profile_table(report))
    print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; triton "
          f"{__import__('triton').__version__}")
    print(f"{'case':<22} {'verdict':<14} {'compile s':>9} {'ours cand/eager ms':>22} {'do_bench cand/eager':>22} "
          f"{'d cand':>7} {'d eager':>7} {'speedup ours/db':>16} {'own clock':>10}")
    for label, r, compile_s, dc, dr in rows:
        if r.runtime_ms is None:
            print(f"{label:<22} {r.status.value:<14} {compile_s or float('nan'):>9.1f}  {r.message[:90]}")
            continue
        oc, orf = r.runtime_ms, r.baseline_ms
        print(f"{label:<22} {r.status.value:<14} {compile_s or float('nan'):>9.1f} {oc:>10.4g} / {orf:<9.4g} "
              f"{dc:>10.4g} / {dr:<9.4g} {oc / dc - 1:>+7.1%} {orf / dr - 1:>+7.1%} {orf / oc:>7.3f}/{dr / dc:<7.3f} "
              f"{r.trusted_runtime_ms if r.trusted_runtime_ms is not None else float('nan'):>10.4g}"
              + ("" if r.speedup_trusted else f"  (untrusted: {', '.join(r.flags)})"))


if __name__ == "__main__":
    main()
