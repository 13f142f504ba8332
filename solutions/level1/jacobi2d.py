"""Reference CUDA solution for problem `jacobi2d`: each thread produces 4 horizontally adjacent outputs: float4 loads
of its centre row and of the rows above and below (coalesced across the warp), two scalar side neighbours; the rows
above and below are re-read by neighbouring blocks through L2, so DRAM sees each value about once. Roofline: 512 MB
at 4.8 TB/s, 0.11 ms on an H200."""

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
__device__ __forceinline__ float st5(float c, float n, float s, float w, float e) { return 0.2f * ((((c + n) + s) + w) + e); }

// One thread per (row, group of 4 columns); W % 4 == 0.
__global__ void jacobi2d_vec_kernel(const float* __restrict__ x, float* __restrict__ y, int H, int W) {
    const int W4 = W / 4;
    const long long total = (long long)H * W4;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total; t += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(t / W4), c = (int)(t - (long long)r * W4) * 4;
        const long long i = (long long)r * W + c;
        const float4 m = *(const float4*)(x + i);
        if (r == 0 || r == H - 1) { *(float4*)(y + i) = m; continue; }
        const float4 u = *(const float4*)(x + i - W), d = *(const float4*)(x + i + W);
        const float l = c > 0 ? __ldg(x + i - 1) : 0.f, rr = c + 4 < W ? __ldg(x + i + 4) : 0.f;
        float4 o;
        o.x = c == 0 ? m.x : st5(m.x, u.x, d.x, l, m.y);
        o.y = st5(m.y, u.y, d.y, m.x, m.z);
        o.z = st5(m.z, u.z, d.z, m.y, m.w);
        o.w = c + 3 == W - 1 ? m.w : st5(m.w, u.w, d.w, m.z, rr);
        *(float4*)(y + i) = o;
    }
}
__global__ void jacobi2d_scalar_kernel(const float* __restrict__ x, float* __restrict__ y, int H, int W) {
    const long long total = (long long)H * W;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(i / W), c = (int)(i - (long long)r * W);
        y[i] = (r == 0 || r == H - 1 || c == 0 || c == W - 1) ? x[i] : st5(x[i], x[i - W], x[i + W], x[i - 1], x[i + 1]);
    }
}

torch::Tensor jacobi2d_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(x.dim() == 2, "expected a 2-D grid");
    auto y = torch::empty_like(x);
    const int H = x.size(0), W = x.size(1);
    if (x.numel() == 0) return y;
    if (W % 4 == 0 && W >= 8)
        jacobi2d_vec_kernel<<<fill_blocks((long long)H * W / 4, 256), 256, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), H, W);
    else
        jacobi2d_scalar_kernel<<<fill_blocks((long long)H * W, 256), 256, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), H, W);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor jacobi2d_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="jacobi2d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['jacobi2d_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor):
        return _ext.jacobi2d_cuda(x)
