"""KernelBench's own published eval method, reimplemented from its description, for comparison runs.

    python bench/kb_eval.py PROBLEM.py SOLUTION.py [--trials 5] [--perf-trials 100] [--no-compile]

One process, no sandbox, as KernelBench's `eval_kernel_against_ref` does it: the problem's source and then
the solution's are executed into one namespace; seed 42 for the init inputs and both models' weights; the
correctness trials' seeds drawn from torch.manual_seed(42) with torch.randint(0, 2**32 - 1); each trial
seeds torch (CPU and CUDA) with its own seed, calls get_inputs() (on the host) and moves the tensors to the
GPU; outputs must match in shape and within torch.allclose(atol=rtol=1e-4), KernelBench's fp32 tolerance.
Timing: 3 warm-up calls, then N trials, each preceded by an L2 flush (filling a 256 MiB int64 buffer, as
GPU MODE's reference harness does) and timed with CUDA events around one call; the figure is the mean. The
eager and torch.compile (inductor, default mode) baselines are timed the same way on the same inputs.

Prints one JSON line: correct, message, runtime_ms, eager_ms, compile_ms, wall_s (this process, imports
and the solution's compile included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

T0 = time.perf_counter()

import torch  # noqa: E402

SEED = 42
ATOL = RTOL = 1e-4


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    torch.cuda.manual_seed(seed)


def to_cuda(xs: list) -> list:
    return [x.cuda() if isinstance(x, torch.Tensor) else x for x in xs]


def flush_l2() -> None:
    dummy = torch.empty((32, 1024, 1024), dtype=torch.int64, device="cuda")
    dummy.fill_(42)
    del dummy


def time_cuda_events(fn, inputs: list, trials: int, warmup: int = 3) -> float:
    """Mean milliseconds of `trials` calls, each alone between two CUDA events after an L2 flush."""
    with torch.no_grad():
        for _ in range(warmup):
            fn(*inputs)
        torch.cuda.synchronize()
        times = []
        for _ in range(trials):
            flush_l2()
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn(*inputs)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
    return statistics.fmean(times)


def evaluate(problem: str, solution: str, trials: int, perf_trials: int, compile_baseline: bool) -> dict:
    ctx: dict = {"__name__": "kb_eval_context"}
    exec(compile(open(problem).read(), problem, "exec"), ctx)
    get_inputs, get_init_inputs = ctx["get_inputs"], ctx["get_init_inputs"]
    set_seed(SEED)
    init = to_cuda(get_init_inputs())
    with torch.no_grad():
        set_seed(SEED)
        ref = ctx["Model"](*init)
    exec(compile(open(solution).read(), solution, "exec"), ctx)  # load_inline compiles here
    torch.cuda.synchronize()
    with torch.no_grad():
        set_seed(SEED)
        new = ctx["ModelNew"](*init)
        ref, new = ref.cuda(), new.cuda()
    torch.cuda.synchronize()

    torch.manual_seed(SEED)
    seeds = [torch.randint(0, 2**32 - 1, (1,)).item() for _ in range(trials)]
    with torch.no_grad():
        for k, seed in enumerate(seeds):
            set_seed(seed)
            inputs = to_cuda(get_inputs())
            expected = ref(*inputs)
            torch.cuda.synchronize()
            got = new(*inputs)
            torch.cuda.synchronize()
            if expected.shape != got.shape:
                return {"correct": False, "message": f"trial {k}: shape {list(got.shape)} != {list(expected.shape)}"}
            if not torch.allclose(expected, got, atol=ATOL, rtol=RTOL):
                err = (expected - got).abs().max().item()
                return {"correct": False, "message": f"trial {k}: max abs difference {err:.3g}"}
            del inputs, expected, got

    set_seed(SEED)
    inputs = to_cuda(get_inputs())
    out = {"correct": True, "message": f"{trials}/{trials} trials match",
           "runtime_ms": time_cuda_events(new, inputs, perf_trials),
           "eager_ms": time_cuda_events(ref, inputs, perf_trials)}
    if compile_baseline:
        out["compile_ms"] = time_cuda_events(torch.compile(ref), inputs, perf_trials)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problem")
    ap.add_argument("solution")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--perf-trials", type=int, default=100)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    args = ap.parse_args()
    try:
        result = evaluate(args.problem, args.solution, args.trials, args.perf_trials, not args.no_compile)
    except Exception as e:  # KernelBench records these as runtime errors; so do we
        result = {"correct": False, "message": f"{type(e).__name__}: {e}"[:500]}
    result["wall_s"] = round(time.perf_counter() - T0, 2)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
