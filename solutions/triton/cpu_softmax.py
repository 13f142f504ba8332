"""Row softmax in Triton, for the CPU track: graded on the CPU through Triton's interpreter.

On a CPU grading the worker runs with TRITON_INTERPRET=1, so the same @triton.jit kernel that compiles for a
GPU runs here on CPU tensors (slowly: the interpreter executes each program with NumPy). Each program
handles ROWS rows at once, which keeps the interpreter's per-program cost low.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def softmax_rows_kernel(x_ptr, y_ptr, n_rows, n_cols, stride, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    offs = rows[:, None] * stride + cols[None, :]
    x = tl.load(x_ptr + offs, mask=mask, other=-float("inf"))
    x = x - tl.max(x, axis=1)[:, None]
    e = tl.exp(x)
    tl.store(y_ptr + offs, e / tl.sum(e, axis=1)[:, None], mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        n_rows, n_cols = x.shape
        rows = 16
        softmax_rows_kernel[(triton.cdiv(n_rows, rows),)](x, y, n_rows, n_cols, x.stride(0), ROWS=rows,
                                                          BLOCK=triton.next_power_of_2(n_cols))
        return y
