"""Reference CUDA solution for problem `cumsum`: one 1024-thread block per row; each thread scans 8 consecutive
values, a warp-shuffle scan of the thread totals gives the offsets, and a carry moves along the row."""

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

#define CS_THREADS 1024
#define CS_PER 8
__global__ void __launch_bounds__(CS_THREADS) cumsum_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float warp_tot[32];
    __shared__ float carry_sh;
    const long long base = (long long)blockIdx.x * D;
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (threadIdx.x == 0) carry_sh = 0.f;
    __syncthreads();
    for (int c0 = 0; c0 < D; c0 += CS_THREADS * CS_PER) {
        const int i0 = c0 + threadIdx.x * CS_PER;
        float v[CS_PER];
        float run = 0.f;
        #pragma unroll
        for (int k = 0; k < CS_PER; ++k) {
            const float t = (i0 + k < D) ? x[base + i0 + k] : 0.f;
            run += t;
            v[k] = run;
        }
        // inclusive scan of the thread totals within the warp
        float incl = run;
        #pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const float u = __shfl_up_sync(FULL_MASK, incl, o);
            if (lane >= o) incl += u;
        }
        if (lane == 31) warp_tot[wid] = incl;
        __syncthreads();
        if (wid == 0) {
            float w = warp_tot[lane];
            #pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const float u = __shfl_up_sync(FULL_MASK, w, o);
                if (lane >= o) w += u;
            }
            warp_tot[lane] = w;  // inclusive prefix over warps
        }
        __syncthreads();
        const float carry = carry_sh;
        const float offset = carry + (wid > 0 ? warp_tot[wid - 1] : 0.f) + (incl - run);
        #pragma unroll
        for (int k = 0; k < CS_PER; ++k)
            if (i0 + k < D) y[base + i0 + k] = v[k] + offset;
        __syncthreads();
        if (threadIdx.x == 0) carry_sh = carry + warp_tot[31];
        __syncthreads();
    }
}

torch::Tensor cumsum_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda_f32(x, "x");
    TORCH_CHECK(x.dim() == 2, "expected a 2-D tensor, scanned along dim 1");
    auto y = torch::empty_like(x);
    cumsum_rows_kernel<<<(unsigned)x.size(0), CS_THREADS, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), x.size(1));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor cumsum_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="cumsum_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["cumsum_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.cumsum_cuda(x)
