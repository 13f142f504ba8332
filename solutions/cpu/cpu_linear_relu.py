"""Reference CPU solution for problem `cpu_linear_relu`: dot products against weight rows, bias and ReLU
in one loop nest."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>

torch::Tensor linear_relu_cpu(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
    TORCH_CHECK(x.device().is_cpu() && w.device().is_cpu() && b.device().is_cpu(), "expected CPU tensors");
    TORCH_CHECK(x.scalar_type() == torch::kFloat32 && w.scalar_type() == torch::kFloat32 &&
                b.scalar_type() == torch::kFloat32, "expected float32");
    x = x.contiguous();
    w = w.contiguous();
    b = b.contiguous();
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    TORCH_CHECK(w.size(1) == K && b.numel() == N, "shape mismatch");
    auto y = torch::empty({M, N}, x.options());
    const float* X = x.data_ptr<float>();
    const float* W = w.data_ptr<float>();
    const float* B = b.data_ptr<float>();
    float* Y = y.data_ptr<float>();
    for (int64_t i = 0; i < M; ++i) {
        const float* xr = X + i * K;
        for (int64_t j = 0; j < N; ++j) {
            const float* wr = W + j * K;
            float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
            int64_t k = 0;
            for (; k + 4 <= K; k += 4) {
                s0 += xr[k] * wr[k]; s1 += xr[k + 1] * wr[k + 1];
                s2 += xr[k + 2] * wr[k + 2]; s3 += xr[k + 3] * wr[k + 3];
            }
            for (; k < K; ++k) s0 += xr[k] * wr[k];
            const float v = (s0 + s1) + (s2 + s3) + B[j];
            Y[i * N + j] = v > 0.f ? v : 0.f;
        }
    }
    return y;
}
"""

_ext = load_inline(
    name="cpu_linear_relu_ref_ext",
    cpp_sources=cpp_source,
    functions=["linear_relu_cpu"],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.linear_relu_cpu(x, self.linear.weight, self.linear.bias)
