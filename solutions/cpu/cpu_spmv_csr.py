"""Reference CPU solution for problem `cpu_spmv_csr`: the CSR loop: one dot product of a row's non-zeros with the
gathered entries of x."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>
#include <cmath>
#include <cstdint>

static void check_cpu(const torch::Tensor& t, const char* name, torch::ScalarType dt) {
    TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == dt, name, " must be a CPU tensor of the expected dtype");
}

torch::Tensor spmv_cpu(torch::Tensor crow, torch::Tensor col, torch::Tensor val, torch::Tensor x) {
    check_cpu(crow, "crow", torch::kInt32); check_cpu(col, "col", torch::kInt32);
    check_cpu(val, "val", torch::kFloat32); check_cpu(x, "x", torch::kFloat32);
    crow = crow.contiguous(); col = col.contiguous(); val = val.contiguous(); x = x.contiguous();
    const int64_t rows = crow.numel() - 1, ncols = x.numel();
    TORCH_CHECK(rows >= 0 && col.numel() == val.numel(), "crow [rows + 1], col and val [nnz]");
    auto y = torch::empty({rows}, val.options());
    const int* cr = crow.data_ptr<int>();
    const int* cc = col.data_ptr<int>();
    const float* vv = val.data_ptr<float>();
    const float* xv = x.data_ptr<float>();
    float* o = y.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r) {
        float s = 0.f;
        for (int i = cr[r]; i < cr[r + 1]; ++i) {
            TORCH_CHECK(cc[i] >= 0 && cc[i] < ncols, "column index out of range");
            s += vv[i] * xv[cc[i]];
        }
        o[r] = s;
    }
    return y;
}
"""

_ext = load_inline(
    name="cpu_spmv_csr_ref_ext",
    cpp_sources=cpp_source,
    functions=['spmv_cpu'],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor, x: torch.Tensor):
        return _ext.spmv_cpu(crow, col, val, x)
