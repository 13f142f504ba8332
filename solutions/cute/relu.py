"""CuTe DSL (nvidia-cutlass-dsl) solution for problem `relu`: one thread per element, `cute.arch.fmax` against 0.

`cute.compile` JIT-compiles the host function and its kernel for the tensors' shapes at the first call, which
the grader makes in the compile phase; compiled functions are kept per shape. Needs the nvidia-cutlass-dsl
wheels (docs/backends.md says how to get them onto a GPU machine).
"""

import cutlass
import cutlass.cute as cute
import torch
import torch.nn as nn
from cutlass.cute.runtime import from_dlpack

THREADS = 256


@cute.kernel
def relu_kernel(gX: cute.Tensor, gY: cute.Tensor):
    tidx, _, _ = cute.arch.thread_idx()
    bidx, _, _ = cute.arch.block_idx()
    bdim, _, _ = cute.arch.block_dim()
    i = bidx * bdim + tidx
    m, n = gX.shape
    if i < m * n:
        gY[i // n, i % n] = cute.arch.fmax(gX[i // n, i % n], cutlass.Float32(0.0))


@cute.jit
def relu_launch(mX: cute.Tensor, mY: cute.Tensor):
    m, n = mX.shape
    relu_kernel(mX, mY).launch(grid=((m * n + THREADS - 1) // THREADS, 1, 1), block=(THREADS, 1, 1))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.compiled = {}  # shape -> the function cute.compile built for it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        x2, y2 = x.view(-1, x.shape[-1]), y.view(-1, x.shape[-1])
        mx, my = from_dlpack(x2, assumed_align=16), from_dlpack(y2, assumed_align=16)
        key = tuple(x2.shape)
        if key not in self.compiled:
            self.compiled[key] = cute.compile(relu_launch, mx, my)
        self.compiled[key](mx, my)
        return y
