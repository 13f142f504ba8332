"""Reference CUDA solution for problem `jacobi1d`: each thread produces 4 outputs from one float4 load of their centres
plus the two scalar neighbours (which the L1 cache already holds for the next thread), in a grid-stride loop; both
ends are copied. Roofline: 512 MB at 4.8 TB/s, 0.11 ms on an H200."""

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
__device__ __forceinline__ float avg3(float a, float b, float c) { return (a + b + c) / 3.0f; }

__global__ void jacobi1d_vec_kernel(const float* __restrict__ x, float* __restrict__ y, long long n) {
    const long long n4 = n / 4;
    for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < n4; q += (long long)gridDim.x * blockDim.x) {
        const long long i = 4 * q;
        const float4 c = *(const float4*)(x + i);
        const float l = i > 0 ? __ldg(x + i - 1) : 0.f;
        const float r = i + 4 < n ? __ldg(x + i + 4) : 0.f;
        float4 o;
        o.x = i == 0 ? c.x : avg3(l, c.x, c.y);
        o.y = avg3(c.x, c.y, c.z);
        o.z = avg3(c.y, c.z, c.w);
        o.w = i + 3 == n - 1 ? c.w : avg3(c.z, c.w, r);
        *(float4*)(y + i) = o;
    }
}
__global__ void jacobi1d_scalar_kernel(const float* __restrict__ x, float* __restrict__ y, long long from, long long n) {
    for (long long i = from + blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] = (i == 0 || i == n - 1) ? x[i] : avg3(x[i - 1], x[i], x[i + 1]);
}

torch::Tensor jacobi1d_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(x.dim() == 1, "expected a 1-D tensor");
    auto y = torch::empty_like(x);
    const long long n = x.numel();
    if (n == 0) return y;
    const long long done = n >= 8 ? (n / 4) * 4 : 0;  // the float4 kernel needs a right neighbour beyond its first group
    if (done) jacobi1d_vec_kernel<<<fill_blocks(done / 4, 256), 256, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    if (done < n) jacobi1d_scalar_kernel<<<fill_blocks(n - done, 256), 256, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), done, n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor jacobi1d_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="jacobi1d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['jacobi1d_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor):
        return _ext.jacobi1d_cuda(x)
