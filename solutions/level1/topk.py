"""Reference CUDA solution for problem `topk`: one warp per row; each lane keeps a sorted top-K list of its strided
share of the row in registers (an insertion that most values skip after one compare), then K rounds of a warp argmax
over the lanes' list heads pop the answer in order. No sort of the row, one read of it. Roofline: 256 MB read at 4.8
TB/s, 0.056 ms on an H200."""

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
template <int K>
__global__ void topk_warp_kernel(const float* __restrict__ x, float* __restrict__ out, int rows, int D, int k) {
    const int warps = blockDim.x >> 5;
    const int row = blockIdx.x * warps + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const float* xr = x + (long long)row * D;
    float t[K];
    #pragma unroll
    for (int j = 0; j < K; ++j) t[j] = -INFINITY;
    auto insert = [&](float v) {
        if (v > t[K - 1]) {
            #pragma unroll
            for (int j = K - 1; j > 0; --j) t[j] = (v > t[j - 1]) ? t[j - 1] : (v > t[j] ? v : t[j]);
            t[0] = v > t[0] ? v : t[0];
        }
    };
    if ((D % 4) == 0) {
        const float4* x4 = (const float4*)xr;
        for (int i = lane; i < D / 4; i += 32) {
            const float4 v = x4[i];
            insert(v.x); insert(v.y); insert(v.z); insert(v.w);
        }
    } else {
        for (int i = lane; i < D; i += 32) insert(xr[i]);
    }
    // merge: k rounds, each takes the largest head among the lanes (ties go to the lower lane)
    for (int r = 0; r < k; ++r) {
        float best = t[0];
        int who = lane;
        #pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ob = __shfl_xor_sync(FULL_MASK, best, o);
            const int ow = __shfl_xor_sync(FULL_MASK, who, o);
            if (ob > best || (ob == best && ow < who)) { best = ob; who = ow; }
        }
        if (lane == 0) out[(long long)row * k + r] = best;
        if (lane == who) {
            #pragma unroll
            for (int j = 0; j < K - 1; ++j) t[j] = t[j + 1];
            t[K - 1] = -INFINITY;
        }
    }
}

torch::Tensor topk_cuda(torch::Tensor x, int64_t k) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(x.dim() >= 1, "x must have a last dimension");
    const int D = x.size(-1);
    TORCH_CHECK(k >= 1 && k <= 32 && k <= D, "k must be in 1..min(32, row length)");
    auto sizes = x.sizes().vec();
    sizes.back() = k;
    auto out = torch::empty(sizes, x.options());
    const int rows = D ? x.numel() / D : 0;
    if (rows == 0) return out;
    const int threads = 256, per_block = threads / 32;
    const unsigned blocks = (rows + per_block - 1) / per_block;
    // each lane's list must be able to hold all k winners, which may all come from one lane
    if (k <= 8) topk_warp_kernel<8><<<blocks, threads, 0, cur_stream()>>>(x.data_ptr<float>(), out.data_ptr<float>(), rows, D, k);
    else if (k <= 16) topk_warp_kernel<16><<<blocks, threads, 0, cur_stream()>>>(x.data_ptr<float>(), out.data_ptr<float>(), rows, D, k);
    else topk_warp_kernel<32><<<blocks, threads, 0, cur_stream()>>>(x.data_ptr<float>(), out.data_ptr<float>(), rows, D, k);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor topk_cuda(torch::Tensor x, int64_t k);
"""

_ext = load_inline(
    name="topk_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['topk_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.topk_cuda(x, self.k)
