"""Deciding, in the trusted process, whether a candidate's output matches the reference.

Runs on tensors rebuilt from raw bytes (grader.protocol.wire.read_tensor), so no type
or method the candidate defined takes part. Works in chunks so that outputs of
several GB are compared without a float64 copy of the whole thing.
"""

from __future__ import annotations

import torch

from grader.models import ProblemMeta, TensorCheck

# (atol, rtol) by dtype: float32 tight, half precisions looser; integers must match exactly.
DEFAULT_TOLERANCE = {
    torch.float64: (1e-7, 1e-7),
    torch.float32: (1e-4, 1e-4),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (2e-2, 2e-2),
}
CHUNK = 1 << 24        # elements per step on the CPU
CUDA_CHUNK = 1 << 26   # on the GPU: ~1 GiB of temporaries for float32, few steps for outputs of several GB


def tolerance(dtype: torch.dtype, meta: ProblemMeta | None, variant: bool = False) -> tuple[float, float]:
    """The problem's (atol, rtol) for outputs of this dtype. In a --precision variant the metadata's figures,
    set for the problem's own dtype, may only loosen the dtype's defaults: a float32 GEMM's 1e-3 is too
    tight for its bf16 variant."""
    default = DEFAULT_TOLERANCE.get(dtype, (0.0, 0.0))
    atol, rtol = default
    if meta is not None:
        atol = meta.atol if meta.atol is not None else atol
        rtol = meta.rtol if meta.rtol is not None else rtol
    if variant:
        atol, rtol = max(atol, default[0]), max(rtol, default[1])
    return atol, rtol


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype.is_complex:
        return torch.complex128
    return torch.float64 if dtype is torch.float64 else torch.float32


def compare(got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float,
            device: str = "cpu") -> TensorCheck:
    """allclose semantics (|got - expected| <= atol + rtol * |expected|), NaN only where the reference has NaN.

    Half precisions are widened to float32 (float64 stays float64); `device="cuda"` does the
    arithmetic on the GPU, chunk by chunk."""
    if tuple(got.shape) != tuple(expected.shape):
        return TensorCheck(ok=False, reason=f"shape {list(got.shape)} but expected {list(expected.shape)}")
    if got.dtype != expected.dtype:
        return TensorCheck(ok=False, reason=f"dtype {str(got.dtype)[6:]} but expected {str(expected.dtype)[6:]}")
    g, e = got.reshape(-1), expected.reshape(-1)
    exact = not (e.dtype.is_floating_point or e.dtype.is_complex)
    work = _work_dtype(e.dtype)
    chunk = CHUNK if device == "cpu" else CUDA_CHUNK
    max_abs = max_rel = 0.0
    worst = None  # (excess over tolerance, flat index, got, expected)
    nonfinite = 0

    def pieces(start: int):
        gc = g[start:start + chunk].to(device=device, dtype=work)
        ec = e[start:start + chunk].to(device=device, dtype=work)
        delta = gc - ec
        diff = delta.abs() if delta.is_complex() else delta.abs_()  # |complex| is real; in place only for reals
        return gc, ec, diff, ec.abs()

    # First pass: per chunk, whether it is within tolerance and its largest errors, kept on the device and
    # read back once at the end, so a GPU comparison of several GB waits on the device only once.
    summary = []
    for start in range(0, e.numel(), chunk):
        _, _, diff, mag = pieces(start)
        within = (diff <= mag * rtol + atol).all()
        summary.append(torch.stack([within.to(diff.dtype), diff.max(),
                                    (diff / mag.clamp_min_(max(atol, 1e-12))).max()]))
    rows = torch.stack(summary).tolist() if summary else []
    for k, (within, chunk_abs, chunk_rel) in enumerate(rows):
        if within:
            max_abs, max_rel = max(max_abs, chunk_abs), max(max_rel, chunk_rel)
            continue
        # The slow path, only for chunks with a mismatch: equal infinities and NaN where NaN
        # is expected are fine; find the element furthest outside the tolerance.
        start = k * chunk
        gc, ec, diff, mag = pieces(start)
        same = (gc == ec) | (gc.isnan() & ec.isnan())
        diff = diff.masked_fill_(same, 0).nan_to_num_(nan=float("inf"))
        excess = diff - (mag * rtol).add_(atol).nan_to_num_(nan=0.0, posinf=0.0)
        i = int(torch.argmax(excess))
        if worst is None or float(excess[i]) > worst[0]:
            worst = (float(excess[i]), start + i, gc[i].item(), ec[i].item())
        nonfinite += int((~gc.isfinite() & ~same).sum())
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float((diff / mag.clamp_min_(max(atol, 1e-12))).max()))
    if worst is None and rows:
        worst = (float("-inf"), 0, g[0].item(), e[0].item())
    if worst is None:  # empty tensors
        return TensorCheck(ok=True, max_abs_err=0.0, max_rel_err=0.0)
    index = _unravel(worst[1], tuple(expected.shape))
    ok = worst[0] <= 0 and (not exact or max_abs == 0)
    check = TensorCheck(ok=ok, max_abs_err=max_abs, max_rel_err=max_rel, worst_index=index,
                        worst_got=_real(worst[2]), worst_expected=_real(worst[3]))
    if ok:
        return check
    where = f"[{', '.join(map(str, index))}]"
    if nonfinite:
        check.reason = (f"{nonfinite} NaN/Inf values where the reference is finite; first bad element "
                        f"{where}: got {check.worst_got}, expected {check.worst_expected}")
    else:
        check.reason = (f"max abs error {max_abs:.3g}, max rel error {max_rel:.3g} (atol {atol:g}, rtol {rtol:g}); "
                        f"worst element {where}: got {check.worst_got:.6g}, expected {check.worst_expected:.6g}")
    return check


def _real(x) -> float:
    return float(x.real) if isinstance(x, complex) else float(x)


def _unravel(flat: int, shape: tuple[int, ...]) -> list[int]:
    """`flat`'s index in a tensor of `shape`. By hand: torch.unravel_index imports sympy on its first call,
    half a second of every grading's judge."""
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return index[::-1]
