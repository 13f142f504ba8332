"""CuTe DSL (nvidia-cutlass-dsl) solution for problem `relu` (4096 x 16384 float32).

The tensor is cut into (16, 128) tiles, one per block of 128 threads; a thread-value layout gives each thread
4 rows of 4 consecutive floats (16-byte loads and stores, a warp covering 512 contiguous bytes of a row). The
tile must divide the shape, which the problem's does. `cute.compile` JIT-compiles the host function and the
kernel for the tensors' shapes at the first call, which the grader makes in the compile phase; the compiled
function is kept per shape. Needs the nvidia-cutlass-dsl wheels (docs/backends.md).
"""

import cutlass.cute as cute
import torch
import torch.nn as nn
from cutlass.cute.runtime import from_dlpack

TILE = (16, 128)


@cute.kernel
def relu_kernel(gX: cute.Tensor, gY: cute.Tensor, tv_layout: cute.Layout):
    tidx, _, _ = cute.arch.thread_idx()
    bidx, _, _ = cute.arch.block_idx()
    tile, mine = ((None, None), bidx), (tidx, None)
    thrX = cute.composition(gX[tile], tv_layout)[mine]
    thrY = cute.composition(gY[tile], tv_layout)[mine]
    x = thrX.load()
    zero = cute.full_like(x, 0.0)
    thrY[None] = cute.where(x > zero, x, zero)


@cute.jit
def relu_launch(mX: cute.Tensor, mY: cute.Tensor):
    threads = cute.make_ordered_layout((4, 32), order=(1, 0))
    values = cute.make_ordered_layout((4, 4), order=(1, 0))
    tiler, tv_layout = cute.make_layout_tv(threads, values)
    gX, gY = cute.zipped_divide(mX, tiler), cute.zipped_divide(mY, tiler)
    relu_kernel(gX, gY, tv_layout).launch(grid=[cute.size(gY, mode=[1]), 1, 1],
                                          block=[cute.size(tv_layout, mode=[0]), 1, 1])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.compiled = {}  # shape -> the function cute.compile built for it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        x2, y2 = x.view(-1, x.shape[-1]), y.view(-1, x.shape[-1])
        if x2.shape[0] % TILE[0] or x2.shape[1] % TILE[1]:
            raise ValueError(f"this kernel needs shapes divisible by {TILE}, not {tuple(x2.shape)}")
        mx, my = from_dlpack(x2, assumed_align=16), from_dlpack(y2, assumed_align=16)
        key = tuple(x2.shape)
        if key not in self.compiled:
            self.compiled[key] = cute.compile(relu_launch, mx, my)
        self.compiled[key](mx, my)
        return y
