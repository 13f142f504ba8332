"""Reference CPU solution for problem `cpu_layernorm`: per row, mean and variance in double, then the affine output."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>
#include <cmath>

torch::Tensor layernorm_cpu(torch::Tensor x, torch::Tensor w, torch::Tensor b, double eps) {
    TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat32, "expected a CPU float32 tensor");
    x = x.contiguous();
    w = w.contiguous();
    b = b.contiguous();
    const int64_t D = x.size(-1), rows = x.numel() / D;
    TORCH_CHECK(w.numel() == D && b.numel() == D, "weight and bias must match the last dimension");
    auto y = torch::empty_like(x);
    const float* X = x.data_ptr<float>();
    const float* W = w.data_ptr<float>();
    const float* B = b.data_ptr<float>();
    float* Y = y.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r) {
        const float* p = X + r * D;
        double s = 0.0;
        for (int64_t i = 0; i < D; ++i) s += p[i];
        const double mean = s / D;
        double q = 0.0;
        for (int64_t i = 0; i < D; ++i) { const double d = p[i] - mean; q += d * d; }
        const float rstd = static_cast<float>(1.0 / std::sqrt(q / D + eps));
        const float m = static_cast<float>(mean);
        for (int64_t i = 0; i < D; ++i) Y[r * D + i] = (p[i] - m) * rstd * W[i] + B[i];
    }
    return y;
}
"""

_ext = load_inline(
    name="cpu_layernorm_ref_ext",
    cpp_sources=cpp_source,
    functions=["layernorm_cpu"],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(hidden))
        self.bias = nn.Parameter(0.1 * torch.randn(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.layernorm_cpu(x, self.weight, self.bias, 1e-5)
