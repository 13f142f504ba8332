"""Precision: grading a problem in another dtype, and auditing a correct candidate against float64.

A float32 solution that quietly computes in TF32 or bf16 can pass a float32 tolerance (a GEMM of
positive inputs hides input rounding in its large sums) and win a speedup it did not earn. The
audit reruns one correctness trial's seed through the reference in float64 (the trusted reference
worker: model and floating inputs cast, same seed) and measures, in this process and chunk by
chunk, how far the candidate's output and eager PyTorch's output are from it.

The yardstick is a second float64 run from inputs and weights rounded to fewer mantissa bits
(TF32's 10 for a float32 problem): the error a computation at that lower precision cannot avoid
on these very inputs. Summation order alone (tiled, split-K, tree reductions) moves a float32
result far less than that, however the problem's data are distributed, so the three conditions
below flag a reduced-precision candidate and leave honest ones alone:

    candidate_err > RATIO * eager_err           far above what eager PyTorch gets in this dtype
    candidate_err > PROBE_FRACTION * probe_err  of the size that rounding the inputs causes
    candidate_err > FLOOR_ULPS * eps(dtype)     above the dtype's own rounding of the output
"""

from __future__ import annotations

import math

import torch

from grader.jail.float64 import VARIANTS  # noqa: F401  (the engine reads it here)

RATIO = 4.0            # eager's error can sit 10x below a naive loop's on a long sum: see module docstring
PROBE_FRACTION = 0.5
FLOOR_ULPS = 4.0
CHUNK = 1 << 24
# Mantissa bits of the rounding the yardstick run applies, by the problem's dtype: TF32 below float32,
# 5 bits below float16, fp8 e4m3's 3 below bfloat16. float64 problems are not audited.
PROBE_BITS = {torch.float32: 10, torch.float16: 5, torch.bfloat16: 3}
HOST_SHARE = 0.25       # the trusted side keeps the float64 outputs: at most this share of free memory


# ---------------------------------------------------------------- trusted side

def audited_dtype(expected: list) -> torch.dtype | None:
    """The dtype the audit judges by: the first floating output's, when it has a yardstick."""
    for e in expected:
        if e.is_floating_point():
            return e.dtype if e.dtype in PROBE_BITS else None
    return None


def skip_reason(expected: list) -> str:
    """Why this trial cannot be audited here, or '' when it can."""
    dtype = audited_dtype(expected)
    if dtype is None:
        kinds = sorted({str(e.dtype).removeprefix("torch.") for e in expected})
        return f"not audited: no float32/float16/bfloat16 output ({', '.join(kinds)})"
    import psutil

    need = 2 * sum(e.numel() * 8 for e in expected if e.is_floating_point())
    if need > HOST_SHARE * psutil.virtual_memory().available:
        return f"skipped: two float64 copies of the outputs ({need >> 20} MiB) would not fit in the grader's memory"
    return ""


def rel_l2(outs: list, refs: list, device: str = "cpu") -> float:
    """||out - ref|| / ||ref|| over every floating output together, in float64, chunk by chunk.

    Elements where either side is not finite are left out (correctness already judged them)."""
    num = den = 0.0
    for o, r in zip(outs, refs):
        if not r.is_floating_point():
            continue
        o, r = o.reshape(-1), r.reshape(-1)
        for s in range(0, r.numel(), CHUNK):
            rc = r[s:s + CHUNK].to(device=device, dtype=torch.float64)
            oc = o[s:s + CHUNK].to(device=device, dtype=torch.float64)
            keep = rc.isfinite() & oc.isfinite()
            num += float((oc - rc).where(keep, 0.0).square().sum())
            den += float(rc.where(keep, 0.0).square().sum())
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return math.sqrt(num / den)


def assess(cand: list, eager: list, ref64: list, probe64: list, dtype: torch.dtype, device: str = "cpu"):
    """Errors of the candidate and of eager against float64, and whether the candidate's says lower precision.

    Returns a PrecisionAudit (imported here: the worker imports this module and must stay light)."""
    from grader.models import PrecisionAudit

    def errors(dev: str) -> tuple[float, float, float]:
        return rel_l2(cand, ref64, dev), rel_l2(eager, ref64, dev), rel_l2(probe64, ref64, dev)

    try:
        cand_err, eager_err, probe_err = errors(device) if device == "cuda" else errors("cpu")
    except (RuntimeError, AssertionError):  # no CUDA in this process, or the GPU is full
        cand_err, eager_err, probe_err = errors("cpu")
    bits = PROBE_BITS[dtype]
    floor = FLOOR_ULPS * torch.finfo(dtype).eps
    flagged = cand_err > RATIO * eager_err and cand_err > PROBE_FRACTION * probe_err and cand_err > floor
    name = str(dtype).removeprefix("torch.")
    if flagged:
        note = (f"error {cand_err:.3g} is {_times(cand_err, eager_err)} eager {name}'s ({eager_err:.3g}) and "
                f"{cand_err / probe_err if probe_err else math.inf:.2g}x that of inputs rounded to {bits} mantissa "
                f"bits ({probe_err:.3g}): it computes in lower precision than {name}")
    else:
        note = f"consistent with {name}: eager {eager_err:.3g}, inputs rounded to {bits} mantissa bits {probe_err:.3g}"
    return PrecisionAudit(candidate_err=cand_err, eager_err=eager_err, probe_err=probe_err, probe_bits=bits,
                          dtype=name, flagged=flagged, note=note)


def _times(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b > 0 else "far above"
