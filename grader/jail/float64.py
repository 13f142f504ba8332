"""The precision audit's worker half (grader/judge/precision.py judges): the reference run in float64,
and the dtype casts of `--precision`. Runs in the reference worker only."""

from __future__ import annotations

import copy

import torch

VARIANTS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def cast_floating(x, dtype: torch.dtype):
    """A floating tensor cast to dtype; anything else (integers, complex, non-tensors) as it is."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x.to(dtype)
    return x


def round_mantissa(t: torch.Tensor, bits: int) -> torch.Tensor:
    """Round a float64 tensor to `bits` explicit mantissa bits, to nearest with ties away from zero (as
    TF32 conversion does, cvt.rna); the exponent range is kept."""
    m, e = torch.frexp(t)
    scaled = m * float(2 ** (bits + 1))  # exact: |scaled| < 2**(bits+1)
    return torch.ldexp(torch.trunc(scaled + scaled.sign() * 0.5), (e - (bits + 1)).to(t.dtype)).where(t.isfinite(), t)


def _floating_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor) and t.is_floating_point())


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return 0


def float64_outputs(runner, seed: int, bits: int | None, budget_bytes: int | None) -> list:
    """The reference model's outputs on `seed`'s inputs, computed in float64 (inputs and weights rounded to
    `bits` mantissa bits first when given). A copy of the model is cast; the timed one stays as it is."""
    from grader.jail.runner import WorkerError, as_outputs  # late: runner imports this module

    inputs = runner.inputs(seed)
    model = runner.model
    state = list(model.parameters()) + list(model.buffers()) if isinstance(model, torch.nn.Module) else []
    need = 3 * 2 * (_floating_bytes(state) + _floating_bytes(inputs))  # float64 copies, and room for activations
    if runner.device == "cpu" and budget_bytes and _rss_bytes() + need > budget_bytes:
        raise WorkerError("resource_limit", f"the float64 run needs about {need >> 20} MiB more than the "
                                            f"worker's memory limit leaves")
    try:
        m64 = copy.deepcopy(model).to(torch.float64) if isinstance(model, torch.nn.Module) else model
        x64 = [cast_floating(x, torch.float64) for x in inputs]
        del inputs
        if bits is not None:
            x64 = [round_mantissa(x, bits) if isinstance(x, torch.Tensor) and x.dtype == torch.float64 else x
                   for x in x64]
            if isinstance(m64, torch.nn.Module):
                with torch.no_grad():
                    for t in list(m64.parameters()) + list(m64.buffers()):
                        if t.dtype == torch.float64:
                            t.copy_(round_mantissa(t, bits))
        with torch.no_grad():
            out = m64(*x64)
        runner._sync()
        return as_outputs(out)
    except torch.OutOfMemoryError as e:
        raise WorkerError("resource_limit", "the float64 run did not fit in GPU memory") from e
    finally:
        if runner.device == "cuda":
            torch.cuda.empty_cache()
