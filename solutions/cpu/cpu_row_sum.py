"""Reference CPU solution for problem `cpu_row_sum`: row sums with four independent accumulators."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>

torch::Tensor row_sum_cpu(torch::Tensor x) {
    TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 2,
                "expected a 2-D CPU float32 tensor");
    x = x.contiguous();
    const int64_t rows = x.size(0), cols = x.size(1);
    auto y = torch::empty({rows}, x.options());
    const float* in = x.data_ptr<float>();
    float* out = y.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r) {
        const float* p = in + r * cols;
        float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
        int64_t c = 0;
        for (; c + 4 <= cols; c += 4) { a0 += p[c]; a1 += p[c + 1]; a2 += p[c + 2]; a3 += p[c + 3]; }
        for (; c < cols; ++c) a0 += p[c];
        out[r] = (a0 + a1) + (a2 + a3);
    }
    return y;
}
"""

_ext = load_inline(
    name="cpu_row_sum_ref_ext",
    cpp_sources=cpp_source,
    functions=["row_sum_cpu"],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.row_sum_cpu(x)
