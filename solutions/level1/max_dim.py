"""Reference CUDA solution for problem `max_dim`: one 256-thread block per row, float4 loads, warp-shuffle max."""

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

__global__ void row_max_kernel(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[32];
    const float* xr = x + (long long)blockIdx.x * D;
    float m = -FLT_MAX;
    if (D % 4 == 0 && (reinterpret_cast<uintptr_t>(xr) & 15) == 0) {
        const float4* x4 = reinterpret_cast<const float4*>(xr);
        for (int i = threadIdx.x; i < D / 4; i += blockDim.x) {
            const float4 v = x4[i];
            m = fmaxf(m, fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w)));
        }
    } else {
        for (int i = threadIdx.x; i < D; i += blockDim.x) m = fmaxf(m, xr[i]);
    }
    m = block_max(m, sh);
    if (threadIdx.x == 0) y[blockIdx.x] = m;
}

torch::Tensor max_dim_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda_f32(x, "x");
    const int D = x.size(-1);
    const long long rows = x.numel() / D;
    auto sizes = x.sizes().vec();
    sizes.pop_back();
    auto y = torch::empty(sizes, x.options());
    row_max_kernel<<<(unsigned)rows, 256, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), D);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor max_dim_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="max_dim_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["max_dim_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.max_dim_cuda(x)
