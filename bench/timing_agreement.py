"""Does the grader's timing agree with triton's do_bench? A size sweep, side by side in one run.

For each case the same pair (reference `Model`, candidate `ModelNew`) is graded by `grader.judge.engine.grade()`
(jailed workers, events, the trusted window), then timed in this process by triton's `do_bench` (median) and by
KernelBench's cuda_event loop (bench/kb_eval.py: an L2 flush, a sync, events around one call, a sync; the
mean of 100 trials, as KernelBench reports). Printed: per-call
ms of each, the disagreement of ours with do_bench per call and per speedup, the grader's own-clock figure, and
the spread of runtime medians over repeated gradings of one case.

    python bench/timing_agreement.py                       # the full sweep (GPU, ~5 min on an H200)
    python bench/timing_agreement.py --cases relu:1M --repeat 2
    python bench/timing_agreement.py --candidate cuda      # relu cases graded with solutions/level1/relu.py

Cases: relu:N (N fp32 elements; memory-bound), gemm32:N and gemm16:N (N x N x N fp32 / bf16 matmul; compute-bound).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.kb_eval import time_cuda_events  # noqa: E402  (KernelBench's own loop: L2 flush, sync, events)
from grader.judge.engine import grade  # noqa: E402
from grader.models import GradeRequest  # noqa: E402

SIZES = {"4K": 1 << 10, "256K": 1 << 16, "4M": 1 << 20, "64M": 1 << 24, "256M": 1 << 26, "1G": 1 << 28, "4G": 1 << 30}
DEFAULT_CASES = ("relu:4K,relu:256K,relu:4M,relu:64M,relu:256M,relu:1G,relu:4G,"
                 "gemm32:4096,gemm16:8192")

PROBLEMS = {
    "relu": """
        import torch
        import torch.nn as nn
        N = {n}
        class Model(nn.Module):
            def forward(self, x):
                return torch.relu(x)
        def get_inputs():
            return [torch.randn(N)]
        def get_init_inputs():
            return []
    """,
    "gemm": """
        import torch
        import torch.nn as nn
        N = {n}
        class Model(nn.Module):
            def forward(self, a, b):
                return torch.matmul(a, b)
        def get_inputs():
            return [torch.randn(N, N, dtype={dtype}), torch.randn(N, N, dtype={dtype})]
        def get_init_inputs():
            return []
    """,
}
# Candidates that need no compile: the harness is what is measured. `--candidate cuda` grades relu with the
# library's own CUDA kernel instead.
CANDIDATES = {
    "relu": """
        import torch
        import torch.nn as nn
        class ModelNew(nn.Module):
            def forward(self, x):
                return torch.clamp_min(x, 0.0)
    """,
    "gemm": """
        import torch
        import torch.nn as nn
        class ModelNew(nn.Module):
            def forward(self, a, b):
                return torch.mm(a, b)
    """,
}


def load(path: Path, cls: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"kg_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, getattr(mod, cls)


def case_files(case: str, folder: Path, candidate: str) -> tuple[Path, Path, str]:
    kind, size = case.split(":")
    if kind == "relu":
        n = SIZES[size]
        text = PROBLEMS["relu"].format(n=n)
        label = f"relu {n * 4 / 2**20:g} MB" if n * 4 >= 2**20 else f"relu {n * 4 // 1024} KB"
        sol = ROOT / "solutions" / "level1" / "relu.py" if candidate == "cuda" else None
    else:
        n = int(size)
        dtype = "torch.float32" if kind == "gemm32" else "torch.bfloat16"
        text = PROBLEMS["gemm"].format(n=n, dtype=dtype)
        label = f"{'fp32' if kind == 'gemm32' else 'bf16'} gemm {n}"
        sol = None
        kind = "gemm"
    problem = folder / f"{case.replace(':', '_')}.py"
    problem.write_text(textwrap.dedent(text))
    if sol is None:
        sol = folder / f"{case.replace(':', '_')}_sol.py"
        sol.write_text(textwrap.dedent(CANDIDATES[kind]))
    return problem, sol, label


def measure(problem: Path, sol: Path) -> tuple[tuple[float, float], tuple[float, float], float]:
    """do_bench and KernelBench medians of candidate and reference, in this process, and how far do_bench's
    own figure for the candidate moves between two runs (its noise floor at this size)."""
    from triton.testing import do_bench

    pmod, Model = load(problem, "Model")
    _, ModelNew = load(sol, "ModelNew")
    torch.manual_seed(0)
    with torch.device("cuda"):
        args = pmod.get_inputs()
    ref, cand = Model().cuda(), ModelNew().cuda()
    with torch.no_grad():
        db = (do_bench(lambda: cand(*args), return_mode="median"), do_bench(lambda: ref(*args), return_mode="median"))
        again = do_bench(lambda: cand(*args), return_mode="median")
        kb = (time_cuda_events(cand, args, 100), time_cuda_events(ref, args, 100))
    return db, kb, abs(again / db[0] - 1)


def grade_once(problem: Path, sol: Path):
    report = grade(GradeRequest(solution=str(sol), problem=str(problem), device="cuda", sandbox="local",
                                baseline_compile=False, trials=2))
    if not report.passed:
        print(f"  {problem.name}: {report.status.value}: {report.message}", file=sys.stderr, flush=True)
        return None
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--repeat", type=int, default=5, help="gradings of --repeat-case for the spread")
    ap.add_argument("--repeat-case", default="relu:64M")
    ap.add_argument("--candidate", choices=("torch", "cuda"), default="torch")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/timing_agreement.py needs a CUDA GPU")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in args.cases.split(","):
            problem, sol, label = case_files(case, folder, args.candidate)
            r = grade_once(problem, sol)
            if r is None:
                continue
            (db_c, db_r), (kb_c, kb_r), db_noise = measure(problem, sol)
            ours_c, ours_r = r.runtime_ms, r.baseline_ms
            rows.append((label, ours_c, ours_r, db_c, db_r, kb_c, kb_r, r.trusted_runtime_ms, r.speedup_trusted,
                         r.runtime.graph_median_ms, db_noise))
            clocks = [s.clocks for s in (r.runtime, r.baseline)]
            print(f"  done {label}: ours {ours_c:.4g}/{ours_r:.4g} ms (events {r.runtime.median_ms:.4g}), do_bench "
                  f"{db_c:.4g}/{db_r:.4g} ms, own clock {r.trusted_runtime_ms} ms, flags {r.flags}, clocks "
                  f"{[(c.sm_mhz_min, c.sm_mhz_max, c.throttle_reasons) if c else None for c in clocks]}, "
                  f"{r.trusted_clock_s} s own clock of {r.duration_s} s; windows of {r.window_calls} calls "
                  f"{r.windows_ms}", file=sys.stderr, flush=True)
        problem, sol, repeat_label = case_files(args.repeat_case, folder, args.candidate)
        spread = [r for r in (grade_once(problem, sol) for _ in range(args.repeat)) if r is not None]
    print(f"device: {torch.cuda.get_device_name()}; candidate: {args.candidate}; torch {torch.__version__}")
    print(f"{'case':<18} {'ours cand/eager ms':>22} {'do_bench cand/eager':>22} {'KernelBench cand/eager':>24} "
          f"{'d cand':>7} {'d eager':>7} {'speedup ours/db':>16} {'d spd':>6} {'own clock':>10} {'graph':>8} "
          f"{'db noise':>8}")
    worst = 0.0
    for label, oc, orf, dc, dr, kc, kr, own, trusted, graph, noise in rows:
        d_c, d_r = oc / dc - 1, orf / dr - 1
        s_o, s_d = orf / oc, dr / dc
        worst = max(worst, abs(d_c), abs(d_r), abs(s_o / s_d - 1))
        print(f"{label:<18} {oc:>10.4g} / {orf:<9.4g} {dc:>10.4g} / {dr:<9.4g} {kc:>11.4g} / {kr:<10.4g} "
              f"{d_c:>+7.1%} {d_r:>+7.1%} {s_o:>7.3f}/{s_d:<7.3f} {s_o / s_d - 1:>+6.1%} "
              f"{own if own is not None else float('nan'):>10.4g} {graph if graph is not None else float('nan'):>8.4g} "
              f"{noise:>8.1%}" + ("" if trusted else "  (untrusted)"))
    meds = [r.runtime_ms for r in spread]
    if not meds:
        raise SystemExit(f"no grading of {repeat_label} passed: no spread to show")
    print(f"worst disagreement with do_bench: {worst:.1%}")
    print(f"{args.repeat} gradings of {repeat_label}: runtime medians {', '.join(f'{m:.4g}' for m in meds)} ms; "
          f"spread (max-min)/median {(max(meds) - min(meds)) / statistics.median(meds):.2%}")


if __name__ == "__main__":
    main()
