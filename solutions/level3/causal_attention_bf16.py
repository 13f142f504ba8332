"""Reference CUDA solution for problem `causal_attention_bf16`: flash-attention style: one thread per query row
(128 per block), key/value tiles of 64 converted to fp32 in shared memory, online softmax in 16-key chunks,
future tiles skipped."""

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

#include <cuda_bf16.h>
#define FA_Q 128
#define FA_K 64
#define FA_D 64
#define FA_C 16

__global__ void __launch_bounds__(FA_Q) causal_attn_kernel(const __nv_bfloat16* __restrict__ q,
        const __nv_bfloat16* __restrict__ k, const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ o,
        int S, float scale_log2) {
    __shared__ __align__(16) float ks[FA_K][FA_D];
    __shared__ __align__(16) float vs[FA_K][FA_D];
    const long long head = (long long)blockIdx.y * S * FA_D;
    const int q0 = blockIdx.x * FA_Q;
    const int qi = q0 + threadIdx.x;
    const bool active = qi < S;
    float qr[FA_D], acc[FA_D];
    #pragma unroll
    for (int d = 0; d < FA_D; ++d) {
        qr[d] = active ? __bfloat162float(q[head + (long long)qi * FA_D + d]) * scale_log2 : 0.f;
        acc[d] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    const int kend = min(S, q0 + FA_Q);
    for (int k0 = 0; k0 < kend; k0 += FA_K) {
        __syncthreads();
        for (int e = threadIdx.x; e < FA_K * FA_D; e += FA_Q) {
            const int r = e / FA_D, c = e % FA_D, key = k0 + r;
            const long long off = head + (long long)key * FA_D + c;
            ks[r][c] = key < S ? __bfloat162float(k[off]) : 0.f;
            vs[r][c] = key < S ? __bfloat162float(v[off]) : 0.f;
        }
        __syncthreads();
        if (!active) continue;
        for (int c0 = 0; c0 < FA_K; c0 += FA_C) {
            const int kb = k0 + c0;
            if (kb > qi) break;  // this chunk and the rest are in the future
            float s[FA_C];
            float cmax = -INFINITY;
            #pragma unroll
            for (int j = 0; j < FA_C; ++j) {
                float dot = 0.f;
                #pragma unroll
                for (int d = 0; d < FA_D; ++d) dot = fmaf(qr[d], ks[c0 + j][d], dot);
                const int key = kb + j;
                s[j] = (key <= qi && key < S) ? dot : -INFINITY;
                cmax = fmaxf(cmax, s[j]);
            }
            const float mnew = fmaxf(m, cmax);  // finite: key kb <= qi is always allowed
            const float corr = exp2f(m - mnew);
            l *= corr;
            #pragma unroll
            for (int d = 0; d < FA_D; ++d) acc[d] *= corr;
            #pragma unroll
            for (int j = 0; j < FA_C; ++j) {
                const float p = exp2f(s[j] - mnew);
                l += p;
                #pragma unroll
                for (int d = 0; d < FA_D; ++d) acc[d] = fmaf(p, vs[c0 + j][d], acc[d]);
            }
            m = mnew;
        }
    }
    if (active) {
        const float inv = 1.f / l;
        #pragma unroll
        for (int d = 0; d < FA_D; ++d) o[head + (long long)qi * FA_D + d] = __float2bfloat16(acc[d] * inv);
    }
}

torch::Tensor causal_attention_cuda(torch::Tensor q, torch::Tensor k, torch::Tensor v) {
    q = q.contiguous(); k = k.contiguous(); v = v.contiguous();
    TORCH_CHECK(q.is_cuda() && q.scalar_type() == torch::kBFloat16, "q must be CUDA bf16");
    TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(), "q, k, v must have one shape");
    TORCH_CHECK(k.scalar_type() == torch::kBFloat16 && v.scalar_type() == torch::kBFloat16, "bf16 expected");
    TORCH_CHECK(q.dim() == 4 && q.size(3) == FA_D, "expected (batch, heads, seq, 64)");
    const int S = q.size(2);
    const long long BH = q.size(0) * q.size(1);
    auto o = torch::empty_like(q);
    const float scale_log2 = (1.f / sqrtf((float)FA_D)) * 1.4426950408889634f;
    dim3 grid((S + FA_Q - 1) / FA_Q, (unsigned)BH);
    causal_attn_kernel<<<grid, FA_Q, 0, cur_stream()>>>(
        reinterpret_cast<const __nv_bfloat16*>(q.data_ptr<at::BFloat16>()),
        reinterpret_cast<const __nv_bfloat16*>(k.data_ptr<at::BFloat16>()),
        reinterpret_cast<const __nv_bfloat16*>(v.data_ptr<at::BFloat16>()),
        reinterpret_cast<__nv_bfloat16*>(o.data_ptr<at::BFloat16>()), S, scale_log2);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return o;
}
"""

cpp_source = r"""
torch::Tensor causal_attention_cuda(torch::Tensor q, torch::Tensor k, torch::Tensor v);
"""

_ext = load_inline(
    name="causal_attention_bf16_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["causal_attention_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return _ext.causal_attention_cuda(q, k, v)
