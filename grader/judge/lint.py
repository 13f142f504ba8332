"""Degenerate answers a problem must reject: `grader problems lint` and the `weak_check` flag.

A problem whose reference output is (nearly) all zeros, nearly constant, or equal to one of its
inputs, within its own tolerance, is passed by a kernel that does nothing. The lint runs every
problem's reference once on the CPU at a reduced size (grader.judge.problems.small_sizes) and checks that
each of those three answers fails the comparison the grader would make. Problem files are trusted
code; each runs in a child process with a time limit so that one slow model cannot stall the rest.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, Field

from grader.errors import UsageError
from grader.judge import problems

from .compare import CHUNK, compare, tolerance

DEGENERATE = ("zeros", "constant", "input")
SEEDS = (1, 2)  # two input draws: a constant must fit both, as it would have to fit the grader's trials


class LintResult(BaseModel):
    """One problem's lint: which degenerate answers pass its check at the reduced size."""

    path: str
    status: Literal["clean", "weak", "error", "timeout"]
    passes: list[str] = Field(default_factory=list, description="degenerate answers that pass: zeros, "
                                                                "constant, input N")
    outputs: list[str] = Field(default_factory=list, description="shape and dtype of each reference output")
    sizes: dict[str, int] = Field(default_factory=dict, description="constants overridden for the reduced size")
    note: str = ""
    seconds: float = 0.0


def value_range(t: torch.Tensor) -> tuple[float, float] | None:
    """(min, max) of a real tensor, chunk by chunk; None when it is empty, complex or holds NaN/Inf."""
    e = t.reshape(-1)
    if e.numel() == 0 or e.dtype.is_complex or e.dtype == torch.bool:
        return None
    lo, hi = float("inf"), float("-inf")
    for s in range(0, e.numel(), CHUNK):
        c = e[s:s + CHUNK].double()
        if not c.isfinite().all():
            return None
        lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
    return lo, hi


def merge_ranges(ranges: list | None, outs: list) -> list:
    """Each output's range, widened by another run's outputs (None stays None: that output is no constant)."""
    new = [value_range(o) for o in outs]
    if ranges is None:
        return new
    return [None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1])) for a, b in zip(ranges, new)]


def nearly_constant(ranges: list, tols: list) -> bool:
    """Whether one constant per output (the midpoint of its range over every run seen) passes (atol, rtol) for
    all of them: the check cannot tell a kernel that ignores its inputs from a real one."""
    def flat(r, tol) -> bool:
        lo, hi = r
        near = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
        return (hi - lo) / 2 <= tol[0] + tol[1] * near

    return bool(ranges) and all(r is not None and flat(r, t) for r, t in zip(ranges, tols))


def constant_passes(expected: torch.Tensor, atol: float, rtol: float, value: float) -> bool:
    """Whether the constant `value` everywhere matches the output within (atol, rtol), as grader.judge.compare
    judges."""
    e = expected.reshape(-1)
    if not e.dtype.is_floating_point:
        return not e.dtype.is_complex and bool((e == value).all())
    for s in range(0, e.numel(), CHUNK):
        c = e[s:s + CHUNK].double()
        if not ((c - value).abs() <= atol + rtol * c.abs()).all():
            return False
    return True


def degenerate_passes(runs: list[tuple[list, list]], meta) -> list[str]:
    """The degenerate answers (of DEGENERATE) the grader's comparison would accept on every one of the runs,
    each a (outputs, inputs) pair from its own seed. The constant is one value for all runs."""
    tols = [tolerance(o.dtype, meta) for o in runs[0][0]]
    found = []
    if all(constant_passes(o, *t, value=0.0) for outs, _ in runs for o, t in zip(outs, tols)):
        found.append("zeros")
    ranges = None
    for outs, _ in runs:
        ranges = merge_ranges(ranges, outs)
    if nearly_constant(ranges, tols):
        found.append("constant")
    picks = []
    for outs, inputs in runs:
        tensors = [(k, x) for k, x in enumerate(inputs) if isinstance(x, torch.Tensor)]
        picks.append(tuple(next((k for k, x in tensors if tuple(x.shape) == tuple(o.shape)
                                 and compare(x.detach().to(o.dtype), o, *t).ok), None) for o, t in zip(outs, tols)))
    if None not in picks[0] and all(p == picks[0] for p in picks):
        found.append("input " + ",".join(str(k) for k in dict.fromkeys(picks[0])))
    return found


def lint_file(path: str) -> LintResult:
    """Run one problem's reference at its reduced size and try the degenerate answers on it."""
    from grader.jail.runner import as_outputs

    t0 = time.monotonic()
    p = Path(path)
    sizes: dict[str, int] = {}
    try:
        meta = problems.load_meta(p)
        sizes = problems.small_sizes(p, meta)
        mod = problems.load_module(p, sizes)
        with problems.cuda_calls_stay(), torch.no_grad():
            torch.manual_seed(0)
            init = mod.get_init_inputs()
            torch.manual_seed(0)
            model = mod.Model(*init)
            runs = []
            for seed in SEEDS:
                torch.manual_seed(seed)
                inputs = list(mod.get_inputs())
                runs.append((as_outputs(model(*inputs)), inputs))
    except Exception as e:  # noqa: BLE001 - a problem's own failure is the finding
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        return LintResult(path=path, status="error", sizes=sizes, seconds=round(time.monotonic() - t0, 2),
                          note=msg if isinstance(e, UsageError) else f"{type(e).__name__}: {msg}")
    found = degenerate_passes(runs, meta)
    outs = runs[0][0]
    note = ""
    if meta is not None and outs and outs[0].is_floating_point() and str(outs[0].dtype)[6:] != meta.dtype:
        note = f"metadata says dtype {meta.dtype}, the output is {str(outs[0].dtype)[6:]}"
    return LintResult(path=path, status="weak" if found else "clean", passes=found, sizes=sizes, note=note,
                      outputs=[f"{tuple(o.shape)} {str(o.dtype)[6:]}" for o in outs],
                      seconds=round(time.monotonic() - t0, 2))


def _child_init() -> None:
    torch.set_num_threads(1)  # a shared machine: one core per lint


def _ready() -> bool:
    return True


def lint_files(paths: list[Path], timeout_s: float = 120.0, on_result=None) -> list[LintResult]:
    """Lint each file in a child process (restarted after a timeout); `on_result` sees each as it comes."""
    ctx = multiprocessing.get_context("spawn")
    pool = None
    results = []
    try:
        for path in paths:
            if pool is None:
                pool = ctx.Pool(1, initializer=_child_init)
                pool.apply(_ready)  # a fresh child imports torch first: that is not the problem's time
            job = pool.apply_async(lint_file, (str(path),))
            try:
                r = job.get(timeout_s)
            except multiprocessing.TimeoutError:
                pool.terminate()
                pool.join()
                pool = None
                r = LintResult(path=str(path), status="timeout", note=f"reference did not finish in {timeout_s:g}s")
            except Exception as e:  # noqa: BLE001 - the child died (e.g. out of memory)
                pool.terminate()
                pool.join()
                pool = None
                r = LintResult(path=str(path), status="error", note=f"lint process failed: {type(e).__name__}: {e}")
            results.append(r)
            if on_result:
                on_result(r)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return results
