"""Reference CUDA solution for problem `sum_all`: the classic two-pass tree reduction: a grid-stride float4 pass where
each block reduces its share (registers, then warp shuffles, then shared memory) to one partial, and one block that
sums the partials in a fixed order, so the result is deterministic. Roofline: 512 MB read at 4.8 TB/s, 0.11 ms on an
H200."""

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
__global__ void partial_sums_kernel(const float* __restrict__ x, long long n, float* __restrict__ partial) {
    __shared__ float sh[32];
    const long long n4 = n / 4, stride = (long long)gridDim.x * blockDim.x;
    float a = 0.f, b = 0.f;  // two accumulators keep two loads in flight
    const float4* x4 = (const float4*)x;
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    for (; i + stride < n4; i += 2 * stride) {
        const float4 u = x4[i], v = x4[i + stride];
        a += (u.x + u.y) + (u.z + u.w);
        b += (v.x + v.y) + (v.z + v.w);
    }
    if (i < n4) { const float4 u = x4[i]; a += (u.x + u.y) + (u.z + u.w); }
    for (long long j = n4 * 4 + blockIdx.x * (long long)blockDim.x + threadIdx.x; j < n; j += stride) a += x[j];
    const float s = block_sum(a + b, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}
__global__ void final_sum_kernel(const float* __restrict__ partial, int n, float* __restrict__ out) {
    __shared__ float sh[32];
    float a = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) a += partial[i];
    const float s = block_sum(a, sh);
    if (threadIdx.x == 0) *out = s;
}

torch::Tensor sum_all_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    auto out = torch::empty({}, x.options());
    const long long n = x.numel();
    const unsigned blocks = fill_blocks(n / 4 + 1, 512);
    auto partial = torch::empty({(long long)blocks}, x.options());
    partial_sums_kernel<<<blocks, 512, 0, cur_stream()>>>(x.data_ptr<float>(), n, partial.data_ptr<float>());
    final_sum_kernel<<<1, 1024, 0, cur_stream()>>>(partial.data_ptr<float>(), (int)blocks, out.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor sum_all_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="sum_all_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['sum_all_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor):
        return _ext.sum_all_cuda(x)
