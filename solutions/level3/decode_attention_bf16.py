"""Reference CUDA solution for problem `decode_attention_bf16`: split-KV (flash-decoding): one query row per head
cannot fill the GPU, so the cache is cut into chunks of 256 keys, one block per (head, chunk). Half-warps read whole
256-byte key rows (coalesced uint4 loads) for the scores, the block forms its chunk's softmax numerators, and
threads indexed by feature accumulate P V with coalesced value rows; a second small kernel merges the chunks' (max,
sum, partial output) triples. Roofline: 1.07 GB read at 4.8 TB/s, 0.22 ms on an H200."""

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
#include <cuda_bf16.h>
#define DA_D 128
#define DA_CHUNK 256
#define DA_THREADS 256

__global__ void __launch_bounds__(DA_THREADS) decode_partial_kernel(const __nv_bfloat16* __restrict__ q,
        const __nv_bfloat16* __restrict__ k, const __nv_bfloat16* __restrict__ v, float* __restrict__ part_o,
        float* __restrict__ part_ml, int S, int chunks, float scale_log2) {
    __shared__ float qs[DA_D];
    __shared__ float p[DA_CHUNK];
    __shared__ float half_o[DA_D];
    __shared__ float red[32];
    const int chunk = blockIdx.x, bh = blockIdx.y;
    const long long kvbase = (long long)bh * S * DA_D;
    const int c0 = chunk * DA_CHUNK, n = min(DA_CHUNK, S - c0);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    if (tid < DA_D) qs[tid] = __bfloat162float(q[(long long)bh * DA_D + tid]) * scale_log2;
    __syncthreads();
    // scores: a half-warp per key, 8 features per lane
    const int sub = lane >> 4, hl = lane & 15;
    for (int j = warp * 2 + sub; j < DA_CHUNK; j += (DA_THREADS / 32) * 2) {
        // every lane loads (zeros past the end) and shuffles, so the half-warp reduction never diverges
        uint4 raw = make_uint4(0, 0, 0, 0);
        if (j < n) raw = *reinterpret_cast<const uint4*>(k + kvbase + (long long)(c0 + j) * DA_D + hl * 8);
        const __nv_bfloat162* e = reinterpret_cast<const __nv_bfloat162*>(&raw);
        float acc = 0.f;
        #pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float2 f = __bfloat1622float2(e[i]);
            acc = fmaf(f.x, qs[hl * 8 + 2 * i], acc);
            acc = fmaf(f.y, qs[hl * 8 + 2 * i + 1], acc);
        }
        #pragma unroll
        for (int o = 8; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);  // stays inside the half-warp
        const float s = j < n ? acc : -INFINITY;
        if (hl == 0) p[j] = s;
    }
    __syncthreads();
    float m = -INFINITY;
    for (int j = tid; j < DA_CHUNK; j += DA_THREADS) m = fmaxf(m, p[j]);
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) red[warp] = m;
    __syncthreads();
    m = red[0];
    #pragma unroll
    for (int w = 1; w < DA_THREADS / 32; ++w) m = fmaxf(m, red[w]);
    __syncthreads();   // red is reused below
    float l = 0.f;
    for (int j = tid; j < DA_CHUNK; j += DA_THREADS) {
        const float e = j < n ? exp2f(p[j] - m) : 0.f;
        p[j] = e;
        l += e;
    }
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) l += __shfl_xor_sync(0xffffffffu, l, o);
    if (lane == 0) red[warp] = l;
    __syncthreads();
    // P V: thread (half, d) sums keys half*128 .. half*128+127 of feature d; value rows are read coalesced
    const int d = tid % DA_D, half = tid / DA_D;
    float acc = 0.f;
    const int jb = half * (DA_CHUNK / 2), je = min(n, jb + DA_CHUNK / 2);
    for (int j = jb; j < je; ++j) acc = fmaf(p[j], __bfloat162float(v[kvbase + (long long)(c0 + j) * DA_D + d]), acc);
    if (half == 1) half_o[d] = acc;
    __syncthreads();
    const long long slot = (long long)bh * chunks + chunk;
    if (half == 0) part_o[slot * DA_D + d] = acc + half_o[d];
    if (tid == 0) {
        float ls = 0.f;
        #pragma unroll
        for (int w = 0; w < DA_THREADS / 32; ++w) ls += red[w];
        part_ml[2 * slot] = m;
        part_ml[2 * slot + 1] = ls;
    }
}

__global__ void decode_merge_kernel(const float* __restrict__ part_o, const float* __restrict__ part_ml,
                                    __nv_bfloat16* __restrict__ out, int chunks) {
    const int bh = blockIdx.x, d = threadIdx.x;
    const float* ml = part_ml + 2LL * bh * chunks;
    float M = -INFINITY;
    for (int c = 0; c < chunks; ++c) M = fmaxf(M, ml[2 * c]);
    float num = 0.f, den = 0.f;
    for (int c = 0; c < chunks; ++c) {
        const float w = ml[2 * c] == -INFINITY ? 0.f : exp2f(ml[2 * c] - M);
        num = fmaf(w, part_o[((long long)bh * chunks + c) * DA_D + d], num);
        den = fmaf(w, ml[2 * c + 1], den);
    }
    out[(long long)bh * DA_D + d] = __float2bfloat16(den > 0.f ? num / den : 0.f);
}

torch::Tensor decode_attn_cuda(torch::Tensor q, torch::Tensor k, torch::Tensor v) {
    q = q.contiguous(); k = k.contiguous(); v = v.contiguous();
    check_cuda(q, "q", torch::kBFloat16); check_cuda(k, "k", torch::kBFloat16); check_cuda(v, "v", torch::kBFloat16);
    TORCH_CHECK(q.dim() == 4 && q.size(2) == 1 && k.dim() == 4 && k.sizes() == v.sizes(), "q [B, H, 1, D], k and v [B, H, S, D]");
    TORCH_CHECK(q.size(3) == DA_D && k.size(3) == DA_D && k.size(0) == q.size(0) && k.size(1) == q.size(1),
                "head_dim must be ", DA_D, " and batch/heads must match");
    const int BH = q.size(0) * q.size(1), S = k.size(2);
    auto out = torch::empty_like(q);
    if (BH == 0) return out;
    TORCH_CHECK(S > 0, "the cache must not be empty");
    const int chunks = (S + DA_CHUNK - 1) / DA_CHUNK;
    auto opts = q.options().dtype(torch::kFloat32);
    auto part_o = torch::empty({(long long)BH * chunks * DA_D}, opts);
    auto part_ml = torch::empty({(long long)BH * chunks * 2}, opts);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)DA_D);
    decode_partial_kernel<<<dim3(chunks, BH), DA_THREADS, 0, cur_stream()>>>(
        (const __nv_bfloat16*)q.data_ptr<at::BFloat16>(), (const __nv_bfloat16*)k.data_ptr<at::BFloat16>(),
        (const __nv_bfloat16*)v.data_ptr<at::BFloat16>(), part_o.data_ptr<float>(), part_ml.data_ptr<float>(), S, chunks, scale_log2);
    decode_merge_kernel<<<BH, DA_D, 0, cur_stream()>>>(part_o.data_ptr<float>(), part_ml.data_ptr<float>(),
                                                       (__nv_bfloat16*)out.data_ptr<at::BFloat16>(), chunks);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor decode_attn_cuda(torch::Tensor q, torch::Tensor k, torch::Tensor v);
"""

_ext = load_inline(
    name="decode_attention_bf16_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['decode_attn_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        return _ext.decode_attn_cuda(q, k, v)
