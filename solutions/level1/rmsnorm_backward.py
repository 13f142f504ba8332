"""Reference CUDA solution for problem `rmsnorm_backward`: one block per row holds x and dy in registers; two row
reductions (sum of squares, then sum(g*xhat)) and one write. Roofline: 768 MB at 4.8 TB/s, 0.16 ms on an H200."""

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

__device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}
// Block-wide sum; every thread gets it. `sh` holds 32 floats; safe to call repeatedly.
__device__ __forceinline__ float block_sum(float v, float* sh) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.f;
    return warp_sum(v);
}
// A row of up to ROW_V * 4 * blockDim.x floats lives in registers (ROW_V float4 per thread, coalesced).
#define ROW_THREADS 256
#define ROW_V 8
#define LOAD_ROW(dst, src, n4)                                                    \
    _Pragma("unroll") for (int j = 0; j < ROW_V; ++j) {                          \
        const int q = threadIdx.x + j * ROW_THREADS;                               \
        dst[j] = q < (n4) ? ((const float4*)(src))[q] : make_float4(0.f, 0.f, 0.f, 0.f); \
    }
__device__ __forceinline__ float dot4(float4 a, float4 b) { return (a.x * b.x + a.y * b.y) + (a.z * b.z + a.w * b.w); }
__device__ __forceinline__ float sum4(float4 a) { return (a.x + a.y) + (a.z + a.w); }
static inline void check_row(const torch::Tensor& x) {
    const long long D = x.size(-1);
    TORCH_CHECK(D % 4 == 0 && D <= 4LL * ROW_V * ROW_THREADS, "the row length must be a multiple of 4, at most ",
                4 * ROW_V * ROW_THREADS, " (one row per block, held in registers)");
}

__global__ void __launch_bounds__(ROW_THREADS) rms_bwd_kernel(const float* __restrict__ x, const float* __restrict__ dy,
        const float* __restrict__ w, float* __restrict__ dx, int D, float eps) {
    __shared__ float sh[32];
    const long long base = (long long)blockIdx.x * D;
    const int n4 = D / 4;
    float4 xv[ROW_V], gv[ROW_V];
    LOAD_ROW(xv, x + base, n4);
    LOAD_ROW(gv, dy + base, n4);
    float ss = 0.f;
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) ss += dot4(xv[j], xv[j]);
    const float rstd = rsqrtf(block_sum(ss, sh) / D + eps);
    float sgx = 0.f;
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) {
        const int q = threadIdx.x + j * ROW_THREADS;
        if (q < n4) {
            const float4 wq = __ldg((const float4*)w + q);
            xv[j].x *= rstd; xv[j].y *= rstd; xv[j].z *= rstd; xv[j].w *= rstd;
            gv[j].x *= wq.x; gv[j].y *= wq.y; gv[j].z *= wq.z; gv[j].w *= wq.w;
            sgx += dot4(gv[j], xv[j]);
        }
    }
    const float mgx = block_sum(sgx, sh) / D;
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) {
        const int q = threadIdx.x + j * ROW_THREADS;
        if (q < n4) {
            const float4 g = gv[j], h = xv[j];
            ((float4*)(dx + base))[q] = make_float4(rstd * (g.x - h.x * mgx), rstd * (g.y - h.y * mgx),
                                                    rstd * (g.z - h.z * mgx), rstd * (g.w - h.w * mgx));
        }
    }
}

torch::Tensor rms_bwd_cuda(torch::Tensor x, torch::Tensor dy, torch::Tensor w, double eps) {
    x = x.contiguous(); dy = dy.contiguous(); w = w.contiguous();
    check_cuda(x, "x", torch::kFloat32); check_cuda(dy, "dy", torch::kFloat32); check_cuda(w, "weight", torch::kFloat32);
    TORCH_CHECK(x.sizes() == dy.sizes() && w.numel() == x.size(-1), "x and dy must match, weight must be [hidden]");
    check_row(x);
    auto dx = torch::empty_like(x);
    const int D = x.size(-1);
    const long long rows = x.numel() / D;
    if (rows) rms_bwd_kernel<<<(unsigned)rows, ROW_THREADS, 0, cur_stream()>>>(x.data_ptr<float>(), dy.data_ptr<float>(),
        w.data_ptr<float>(), dx.data_ptr<float>(), D, (float)eps);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return dx;
}
"""

cpp_source = r"""
torch::Tensor rms_bwd_cuda(torch::Tensor x, torch::Tensor dy, torch::Tensor w, double eps);
"""

_ext = load_inline(
    name="rmsnorm_backward_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['rms_bwd_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        return _ext.rms_bwd_cuda(x, dy, self.weight, self.eps)
