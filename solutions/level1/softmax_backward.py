"""Reference CUDA solution for problem `softmax_backward`: one block per row holds y and dy in registers, one row
reduction of dy*y, one write of y*(dy - s). Roofline: 768 MB at 4.8 TB/s, 0.16 ms on an H200; eager runs three
kernels and a temporary."""

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

__global__ void __launch_bounds__(ROW_THREADS) softmax_bwd_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                                                  float* __restrict__ dx, int D) {
    __shared__ float sh[32];
    const long long base = (long long)blockIdx.x * D;
    const int n4 = D / 4;
    float4 yv[ROW_V], gv[ROW_V];
    LOAD_ROW(yv, y + base, n4);
    LOAD_ROW(gv, dy + base, n4);
    float s = 0.f;
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) s += dot4(gv[j], yv[j]);
    s = block_sum(s, sh);
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) {
        const int q = threadIdx.x + j * ROW_THREADS;
        if (q < n4) {
            const float4 a = yv[j], g = gv[j];
            ((float4*)(dx + base))[q] = make_float4(a.x * (g.x - s), a.y * (g.y - s), a.z * (g.z - s), a.w * (g.w - s));
        }
    }
}

torch::Tensor softmax_bwd_cuda(torch::Tensor y, torch::Tensor dy) {
    y = y.contiguous(); dy = dy.contiguous();
    check_cuda(y, "y", torch::kFloat32); check_cuda(dy, "dy", torch::kFloat32);
    TORCH_CHECK(y.sizes() == dy.sizes(), "y and dy must have the same shape");
    check_row(y);
    auto dx = torch::empty_like(y);
    const int D = y.size(-1);
    const long long rows = y.numel() / D;
    if (rows) softmax_bwd_kernel<<<(unsigned)rows, ROW_THREADS, 0, cur_stream()>>>(y.data_ptr<float>(), dy.data_ptr<float>(),
                                                                                  dx.data_ptr<float>(), D);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return dx;
}
"""

cpp_source = r"""
torch::Tensor softmax_bwd_cuda(torch::Tensor y, torch::Tensor dy);
"""

_ext = load_inline(
    name="softmax_backward_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['softmax_bwd_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, y: torch.Tensor, dy: torch.Tensor):
        return _ext.softmax_bwd_cuda(y, dy)
