"""Reference CUDA solution for problem `causal_softmax`: one block per score row; only the unmasked prefix (keys 0..q)
is read, scaled and held in registers, max and sum are block reductions, and the masked tail is written as zeros
without being read: about 768 MB moved instead of eager's several passes over 1 GB. Roofline (the metadata counts
the full 2 GB): 0.45 ms at 4.8 TB/s on an H200."""

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
__device__ __forceinline__ float warp_max(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
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
__device__ __forceinline__ float block_max(float v, float* sh) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : -FLT_MAX;
    return warp_max(v);
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

__global__ void __launch_bounds__(ROW_THREADS) causal_softmax_kernel(const float* __restrict__ x, float* __restrict__ y,
                                                                     int S, float scale) {
    __shared__ float sh[32];
    const long long row = blockIdx.x;
    const long long base = row * S;
    const int qpos = (int)(row % S);
    const int valid = qpos + 1;          // keys 0..qpos
    const int n4 = S / 4;
    const int v4 = (valid + 3) / 4;      // float4 groups that hold a valid key
    float4 v[ROW_V];
    float m = -INFINITY;
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) {
        const int q = threadIdx.x + j * ROW_THREADS;
        float4 t = q < v4 ? ((const float4*)(x + base))[q] : make_float4(0.f, 0.f, 0.f, 0.f);
        const int k0 = 4 * q;
        t.x = (q < v4 && k0 < valid) ? t.x * scale : -INFINITY;
        t.y = (q < v4 && k0 + 1 < valid) ? t.y * scale : -INFINITY;
        t.z = (q < v4 && k0 + 2 < valid) ? t.z * scale : -INFINITY;
        t.w = (q < v4 && k0 + 3 < valid) ? t.w * scale : -INFINITY;
        v[j] = t;
        m = fmaxf(m, fmaxf(fmaxf(t.x, t.y), fmaxf(t.z, t.w)));
    }
    m = block_max(m, sh);
    float s = 0.f;
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) {
        v[j].x = expf(v[j].x - m); v[j].y = expf(v[j].y - m); v[j].z = expf(v[j].z - m); v[j].w = expf(v[j].w - m);
        s += sum4(v[j]);
    }
    const float inv = 1.f / block_sum(s, sh);
    #pragma unroll
    for (int j = 0; j < ROW_V; ++j) {
        const int q = threadIdx.x + j * ROW_THREADS;
        if (q < n4) ((float4*)(y + base))[q] = make_float4(v[j].x * inv, v[j].y * inv, v[j].z * inv, v[j].w * inv);
    }
}

torch::Tensor causal_softmax_cuda(torch::Tensor x, double scale) {
    x = x.contiguous();
    check_cuda(x, "scores", torch::kFloat32);
    TORCH_CHECK(x.dim() >= 2 && x.size(-1) == x.size(-2), "scores must be [..., seq, seq]");
    check_row(x);
    auto y = torch::empty_like(x);
    const int S = x.size(-1);
    const long long rows = x.numel() / (S ? S : 1);
    if (rows) causal_softmax_kernel<<<(unsigned)rows, ROW_THREADS, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(),
                                                                                     S, (float)scale);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor causal_softmax_cuda(torch::Tensor x, double scale);
"""

_ext = load_inline(
    name="causal_softmax_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['causal_softmax_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return _ext.causal_softmax_cuda(scores, self.scale)
