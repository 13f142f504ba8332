"""Reference CUDA solution for problem `bias_gelu_residual`: one float4 pass: gelu(x + bias) + residual."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <c10/cuda/CUDAStream.h>
#include <cfloat>
#include <cstdint>

#define FULL_MASK 0xffffffffu
static inline cudaStream_t cur_stream() { return c10::cuda::getCurrentCUDAStream(); }
static inline void check_cuda_f32(const torch::Tensor& t, const char* name) {
    TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
    TORCH_CHECK(t.scalar_type() == torch::kFloat32, name, " must be float32");
    TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

__device__ __forceinline__ float gelu_erf(float v) { return 0.5f * v * (1.f + erff(v * 0.70710678118654752f)); }

__global__ void bias_gelu_res_kernel(const float4* __restrict__ x, const float4* __restrict__ r,
                                     const float* __restrict__ bias, float4* __restrict__ y, int D4, long long total4) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total4; i += (long long)blockDim.x * gridDim.x) {
        const int c = (int)(i % D4) * 4;
        const float4 a = x[i], s = r[i];
        float4 o;
        o.x = gelu_erf(a.x + bias[c]) + s.x;
        o.y = gelu_erf(a.y + bias[c + 1]) + s.y;
        o.z = gelu_erf(a.z + bias[c + 2]) + s.z;
        o.w = gelu_erf(a.w + bias[c + 3]) + s.w;
        y[i] = o;
    }
}

torch::Tensor bias_gelu_residual_cuda(torch::Tensor x, torch::Tensor r, torch::Tensor b) {
    x = x.contiguous(); r = r.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(r, "residual"); check_cuda_f32(b, "bias");
    const int D = x.size(-1);
    TORCH_CHECK(D % 4 == 0 && b.numel() == D, "last dimension must be a multiple of 4 and match the bias");
    auto y = torch::empty_like(x);
    const long long total4 = x.numel() / 4;
    const int blocks = (int)std::min<long long>((total4 + 255) / 256, 132LL * 32);
    bias_gelu_res_kernel<<<blocks, 256, 0, cur_stream()>>>(reinterpret_cast<const float4*>(x.data_ptr<float>()),
        reinterpret_cast<const float4*>(r.data_ptr<float>()), b.data_ptr<float>(),
        reinterpret_cast<float4*>(y.data_ptr<float>()), D / 4, total4);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor bias_gelu_residual_cuda(torch::Tensor x, torch::Tensor r, torch::Tensor b);
"""

_ext = load_inline(
    name="bias_gelu_residual_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["bias_gelu_residual_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.bias = nn.Parameter(0.1 * torch.randn(dim))

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return _ext.bias_gelu_residual_cuda(x, residual, self.bias)
