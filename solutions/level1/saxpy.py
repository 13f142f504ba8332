"""Reference CUDA solution for problem `saxpy`: one fused pass, float4 loads and stores in a grid-stride loop (eager
runs a*x and then + y, moving 5 tensors' worth of bytes instead of 3). Roofline: 768 MB at 4.8 TB/s is 0.16 ms on an
H200; this kernel should sit at about 90% of it."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <c10/cuda/CUDAStream.h>
#include <cfloat>
#include <cstdint>

#define FULL_MASK 0xffffffffu
static inline cudaStream_t cur_stream() { return c10::cuda::getCurrentCUDAStream(); }
static inline void check_cuda(const torch::Tensor& t, const char* name, torch::ScalarType dt) {
    TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
    TORCH_CHECK(t.scalar_type() == dt, name, " has the wrong dtype");
    TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}
// Enough blocks to fill the GPU for grid-stride loops.
static inline unsigned fill_blocks(long long work_items, int threads) {
    static int sms = 0;
    if (!sms) {
        int dev = 0;
        C10_CUDA_CHECK(cudaGetDevice(&dev));
        C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    }
    const long long cap = 4LL * sms * (2048 / threads);
    const long long need = (work_items + threads - 1) / threads;
    return (unsigned)(need < cap ? (need > 0 ? need : 1) : cap);
}
__global__ void saxpy_kernel(const float4* __restrict__ x, const float4* __restrict__ y, float4* __restrict__ out,
                             long long n4, float a) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
        const float4 u = x[i], v = y[i];
        out[i] = make_float4(a * u.x + v.x, a * u.y + v.y, a * u.z + v.z, a * u.w + v.w);
    }
}
__global__ void saxpy_tail(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ out,
                           long long from, long long n, float a) {
    const long long i = from + blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + y[i];
}

torch::Tensor saxpy_cuda(torch::Tensor x, torch::Tensor y, double a) {
    x = x.contiguous(); y = y.contiguous();
    check_cuda(x, "x", torch::kFloat32); check_cuda(y, "y", torch::kFloat32);
    TORCH_CHECK(x.sizes() == y.sizes(), "x and y must have the same shape");
    auto out = torch::empty_like(x);
    const long long n = x.numel(), n4 = n / 4;
    // torch::empty allocations are 256-byte aligned, so the float4 view is safe
    if (n4) saxpy_kernel<<<fill_blocks(n4, 256), 256, 0, cur_stream()>>>(
        (const float4*)x.data_ptr<float>(), (const float4*)y.data_ptr<float>(), (float4*)out.data_ptr<float>(), n4, (float)a);
    if (n % 4) saxpy_tail<<<1, 32, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), out.data_ptr<float>(),
                                                     n4 * 4, n, (float)a);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor saxpy_cuda(torch::Tensor x, torch::Tensor y, double a);
"""

_ext = load_inline(
    name="saxpy_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['saxpy_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, a: float):
        super().__init__()
        self.a = a

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _ext.saxpy_cuda(x, y, self.a)
