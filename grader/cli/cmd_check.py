"""`grader check SOLUTION --problem P`: grade one solution, live."""

from __future__ import annotations

import argparse
import sys

import sandbox
from grader.judge import problems
from grader.models import GradeRequest, ProgressEvent, Timeouts


def register(sub) -> None:
    p = sub.add_parser("check", help="grade a ModelNew solution against a problem",
                       description="Compile, check on fresh random inputs, time against eager PyTorch and "
                                   "torch.compile, and report. Exit code: 0 passed, 1 any other verdict, 2 bad usage.")
    p.add_argument("solution", help="path of the .py file defining ModelNew")
    p.add_argument("--problem", required=True, help="bundled problem name or path of a KernelBench-format file")
    p.add_argument("--problems-dir", help="folder of extra KernelBench-format problems")
    p.add_argument("--device", choices=["cuda", "cpu"],
                   help="default: the problem's device, else cuda when a GPU is visible, else cpu")
    p.add_argument("--json", action="store_true",
                   help="print the report as one JSON line on stdout; progress goes to stderr as JSON lines")
    p.add_argument("--timeout", type=float, metavar="S", help="time limit of each phase in seconds "
                                                               "(default: compile 300, correctness 120, timing 120)")
    p.add_argument("--sandbox", choices=sandbox.CHOICES, default="auto",
                   help="worker isolation: auto (docker when its engine and image are there, else local)")
    p.add_argument("--trials", type=int, default=5, help="correctness trials (default 5)")
    p.add_argument("--no-compile-baseline", action="store_true", help="skip timing torch.compile")
    p.add_argument("--strict", action="store_true", help="refuse solutions that launch no custom kernel, or "
                                                          "that compute in lower precision than the problem's dtype")
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16"],
                   help="grade a variant of the problem in this dtype: floating inputs and both models cast, "
                        "that dtype's tolerances (default: the problem as written)")
    p.add_argument("--max-timing-s", type=float, default=10.0, help="cap of each timing loop (default 10)")
    p.add_argument("--cpu-threads", type=int, default=1, metavar="N",
                   help="CPU gradings: threads (and cores) both sides run on (default 1)")
    p.add_argument("--memory-limit-mb", type=int, help="host memory cap of each worker")
    p.add_argument("--gpu-memory-limit-mb", type=int, help="GPU memory cap of each worker")
    p.add_argument("--dims", metavar="NAME=VALUE,...", default="",
                   help="set the problem's module-level sizes (e.g. batch_size=16,dim=1024) for both sides, to "
                        "grade a smaller instance of a problem too big for this machine")
    p.add_argument("--profile", action="store_true",
                   help="after a passing CUDA grading, profile one forward with Nsight Compute (ncu) in the sandbox: "
                        "per kernel duration, DRAM and SM throughput, occupancy, registers, limiting unit")
    p.set_defaults(func=run)


def default_device(problem: str, problems_dir: str | None) -> str:
    meta = problems.load_meta(problems.resolve(problem, problems_dir))
    if meta is not None and meta.device == "cpu":
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def request_from_args(args: argparse.Namespace) -> GradeRequest:
    timeouts = Timeouts(compile=args.timeout, correctness=args.timeout, timing=args.timeout) if args.timeout \
        else Timeouts()
    return GradeRequest(solution=args.solution, problem=args.problem, problems_dir=args.problems_dir,
                        device=args.device or default_device(args.problem, args.problems_dir),
                        sandbox=args.sandbox, trials=args.trials, timeouts=timeouts,
                        baseline_compile=not args.no_compile_baseline, strict=args.strict,
                        max_timing_s=args.max_timing_s, cpu_threads=args.cpu_threads,
                        memory_limit_mb=args.memory_limit_mb, precision=args.precision,
                        gpu_memory_limit_mb=args.gpu_memory_limit_mb, dims=problems.parse_dims(args.dims),
                        profile=args.profile)


def run(args: argparse.Namespace) -> int:
    req = request_from_args(args)
    # Imported once the request is valid: the engine brings torch (seconds), which a usage error never needs.
    from rich.console import Console

    from grader.judge.engine import grade

    from .display import LiveProgress, profile_table, summary

    if args.json:
        def to_stderr(ev: ProgressEvent) -> None:
            print(ev.model_dump_json(exclude_none=True), file=sys.stderr, flush=True)

        report = grade(req, to_stderr)
        print(report.model_dump_json(), flush=True)
    else:
        console = Console()
        header = f"grading {req.solution} against {req.problem} on {req.device}" + (
            f" with {', '.join(f'{k}={v}' for k, v in req.dims.items())}" if req.dims else "")
        with LiveProgress(console, header) as live:
            report = grade(req, live)
        console.print(summary(report))
        profiled = profile_table(report)
        if profiled is not None:
            console.print(profiled)
    return 0 if report.passed else 1
