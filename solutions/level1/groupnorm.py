"""Reference CUDA solution for problem `groupnorm`: one 1024-thread block per (image, group): the group is
contiguous, so two coalesced statistics passes and one output pass."""

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
// Sum over the whole block; every thread gets the result. `sh` holds at least 32 floats.
__device__ float block_sum(float v, float* sh) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float w = lane < nw ? sh[lane] : 0.f;
        w = warp_sum(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}
__device__ float block_max(float v, float* sh) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float w = lane < nw ? sh[lane] : -FLT_MAX;
        w = warp_max(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}

__global__ void __launch_bounds__(1024) groupnorm_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ b, float* __restrict__ y, int C, int G, int HW, float eps) {
    __shared__ float sh[32];
    const int ng = blockIdx.x, g = ng % G;
    const int cpg = C / G;
    const long long len = (long long)cpg * HW;
    const long long base = (long long)ng * len;
    float s = 0.f;
    for (long long i = threadIdx.x; i < len; i += blockDim.x) s += x[base + i];
    const float mean = block_sum(s, sh) / (float)len;
    float q = 0.f;
    for (long long i = threadIdx.x; i < len; i += blockDim.x) { const float d = x[base + i] - mean; q += d * d; }
    const float rstd = rsqrtf(block_sum(q, sh) / (float)len + eps);
    for (long long i = threadIdx.x; i < len; i += blockDim.x) {
        const int c = g * cpg + (int)(i / HW);
        y[base + i] = (x[base + i] - mean) * rstd * w[c] + b[c];
    }
}

torch::Tensor groupnorm_cuda(torch::Tensor x, int64_t groups, torch::Tensor w, torch::Tensor b, double eps) {
    x = x.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(w, "weight"); check_cuda_f32(b, "bias");
    const int N = x.size(0), C = x.size(1);
    TORCH_CHECK(C % groups == 0, "channels must divide into groups");
    const int HW = x.numel() / ((long long)N * C);
    auto y = torch::empty_like(x);
    groupnorm_kernel<<<(unsigned)(N * groups), 1024, 0, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(),
        b.data_ptr<float>(), y.data_ptr<float>(), C, (int)groups, HW, (float)eps);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor groupnorm_cuda(torch::Tensor x, int64_t groups, torch::Tensor w, torch::Tensor b, double eps);
"""

_ext = load_inline(
    name="groupnorm_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["groupnorm_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5):
        super().__init__()
        self.num_groups = num_groups
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(num_channels))
        self.bias = nn.Parameter(0.1 * torch.randn(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.groupnorm_cuda(x, self.num_groups, self.weight, self.bias, self.eps)
