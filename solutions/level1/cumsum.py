"""Reference CUDA solution for problem `cumsum`: one 256-thread block per row; each thread scans 32 consecutive values
(8 float4 loads in flight), a warp-shuffle scan of the thread totals gives the offsets, and a carry moves along the row
in chunks of 8192. Enough independent loads per thread to keep HBM busy, which the first version (1024 threads, 8
scalar loads each) lacked. Roofline: 512 MB at 4.8 TB/s, 0.11 ms on an H200."""

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
#define SC_THREADS 256
#define SC_PER 32
__global__ void __launch_bounds__(SC_THREADS) scan_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float warp_tot[SC_THREADS / 32];
    const long long base = (long long)blockIdx.x * D;
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const bool vec = (D % 4) == 0;
    float carry = 0.f;
    for (int c0 = 0; c0 < D; c0 += SC_THREADS * SC_PER) {
        const int i0 = c0 + threadIdx.x * SC_PER;
        float v[SC_PER];
        if (vec && i0 + SC_PER <= D) {
            #pragma unroll
            for (int k = 0; k < SC_PER; k += 4) {
                const float4 t = *(const float4*)(x + base + i0 + k);
                v[k] = t.x; v[k + 1] = t.y; v[k + 2] = t.z; v[k + 3] = t.w;
            }
        } else {
            #pragma unroll
            for (int k = 0; k < SC_PER; ++k) v[k] = (i0 + k < D) ? x[base + i0 + k] : 0.f;
        }
        float run = 0.f;
        #pragma unroll
        for (int k = 0; k < SC_PER; ++k) { run += v[k]; v[k] = run; }  // inclusive within the thread
        float incl = run;
        #pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const float u = __shfl_up_sync(FULL_MASK, incl, o);
            if (lane >= o) incl += u;
        }
        if (lane == 31) warp_tot[wid] = incl;
        __syncthreads();
        float before_warp = 0.f, chunk_total = 0.f;
        #pragma unroll
        for (int w = 0; w < SC_THREADS / 32; ++w) {
            const float t = warp_tot[w];
            if (w < wid) before_warp += t;
            chunk_total += t;
        }
        const float offset = carry + before_warp + (incl - run);
        if (vec && i0 + SC_PER <= D) {
            #pragma unroll
            for (int k = 0; k < SC_PER; k += 4)
                *(float4*)(y + base + i0 + k) = make_float4(v[k] + offset, v[k + 1] + offset, v[k + 2] + offset, v[k + 3] + offset);
        } else {
            #pragma unroll
            for (int k = 0; k < SC_PER; ++k)
                if (i0 + k < D) y[base + i0 + k] = v[k] + offset;
        }
        carry += chunk_total;
        __syncthreads();  // warp_tot is rewritten by the next chunk
    }
}

torch::Tensor cumsum_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(x.dim() == 2, "expected a 2-D tensor, scanned along dim 1");
    auto y = torch::empty_like(x);
    if (x.numel() == 0) return y;
    scan_rows_kernel<<<(unsigned)x.size(0), SC_THREADS, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), x.size(1));
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
    functions=['cumsum_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor):
        return _ext.cumsum_cuda(x)
