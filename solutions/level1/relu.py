"""Reference CUDA solution for problem `relu`: vectorised (float4) grid-stride elementwise kernel.

Also the honest solution for KernelBench's level1/19_ReLU.py (4096 x 393216 fp32, 6.4 GB): 64-bit indices,
any size; `python bench/kernelbench_sweep.py --only 19_ReLU` grades it beside KernelBench's own eval."""

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

__device__ __forceinline__ float op(float v) { return v > 0.f ? v : 0.f; }

__global__ void ew_kernel(const float* __restrict__ x, float* __restrict__ y, long long n, long long n4) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (long long i = start; i < n4; i += stride) {
        float4 v = x4[i];
        v.x = op(v.x); v.y = op(v.y); v.z = op(v.z); v.w = op(v.w);
        y4[i] = v;
    }
    for (long long i = n4 * 4 + start; i < n; i += stride) y[i] = op(x[i]);
}

torch::Tensor relu_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda_f32(x, "x");
    auto y = torch::empty_like(x);
    const long long n = x.numel();
    const bool aligned = ((reinterpret_cast<uintptr_t>(x.data_ptr<float>()) |
                           reinterpret_cast<uintptr_t>(y.data_ptr<float>())) & 15) == 0;
    const long long n4 = aligned ? n / 4 : 0;
    const long long work = n4 > 0 ? n4 : n;
    const int threads = 256;
    const long long blocks = std::min<long long>((work + threads - 1) / threads, 132LL * 32);
    if (n > 0) {
        ew_kernel<<<(unsigned)std::max<long long>(blocks, 1), threads, 0, cur_stream()>>>(
            x.data_ptr<float>(), y.data_ptr<float>(), n, n4);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    return y;
}
"""

cpp_source = r"""
torch::Tensor relu_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="relu_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["relu_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.relu_cuda(x)
