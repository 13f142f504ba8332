"""Reference CUDA solution for problem `causal_attention_bf16`: causal flash attention on bf16 tensor cores
(mma.sync.m16n8k16): 64 query rows per block, 64-key tiles, online softmax in registers, key tiles above the
diagonal skipped. Roofline on an H200 (989 TFLOP/s bf16 dense): 69 GFLOP (causal half), 0.07 ms. Without cp.async
pipelining or wgmma this reaches a fraction of FlashAttention's speed; the tile loop is the place to add them."""

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
// Flash attention (FA2 style) on bf16 tensor cores through mma.sync.m16n8k16. A block of 4 warps owns 64 query
// rows (16 per warp) of one head; key/value tiles of 64 pass through shared memory (V stored transposed so
// both operands of both products are conflict-free 32-bit fragment loads from rows padded to 72 elements).
// S = Q K^T stays in registers as fp32, the online softmax (running max and sum per row, exp2 with the scale
// folded in) rescales the output accumulator, and P is repacked in registers as the bf16 A operand of P V: the
// m16n8k16 accumulator layout of two adjacent 8-key tiles is exactly the A-fragment layout of a 16-key slice.
// Masking covers causal order, a sliding window and keys beyond the sequence; key tiles wholly outside the
// window are never visited. Query heads map to key/value heads by integer division (grouped-query attention).
#define FA_BQ 64
#define FA_BK 64
#define FA_D 64
#define FA_LD (FA_D + 8)

__device__ __forceinline__ uint32_t fa_pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}
__device__ __forceinline__ void fa_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ uint32_t fa_ld32(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// q, o: [B, Hq, S, 64]; k, v: [B, Hkv, S, 64]. Key j is visible to query i when j <= i and i - j < window.
__global__ void __launch_bounds__(128) flash_attn_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
        const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ o, int Hq, int Hkv, int S, int window, float scale_log2) {
    __shared__ __align__(16) __nv_bfloat16 Qs[FA_BQ][FA_LD];
    __shared__ __align__(16) __nv_bfloat16 Ks[FA_BK][FA_LD];
    __shared__ __align__(16) __nv_bfloat16 Vt[FA_D][FA_LD];   // Vt[d][key]
    const int tile = gridDim.x - 1 - blockIdx.x;             // longest (latest) query tiles first
    const int bh = blockIdx.y, b = bh / Hq, h = bh % Hq;
    const int hk = h / (Hq / Hkv);
    const long long qbase = ((long long)b * Hq + h) * S * FA_D;
    const long long kbase = ((long long)b * Hkv + hk) * S * FA_D;
    const int q0 = tile * FA_BQ;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;

    // Q tile -> shared -> registers (A fragments for the 4 16-wide slices of d)
    for (int c = tid; c < FA_BQ * FA_D / 8; c += 128) {
        const int r = c / (FA_D / 8), d0 = (c % (FA_D / 8)) * 8;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (q0 + r < S) val = *reinterpret_cast<const uint4*>(q + qbase + (long long)(q0 + r) * FA_D + d0);
        *reinterpret_cast<uint4*>(&Qs[r][d0]) = val;
    }
    __syncthreads();
    const int r0 = warp * 16 + g;   // this thread's rows r0 and r0 + 8 of the tile
    uint32_t qf[FA_D / 16][4];
    #pragma unroll
    for (int ks = 0; ks < FA_D / 16; ++ks) {
        qf[ks][0] = fa_ld32(&Qs[r0][ks * 16 + 2 * t]);
        qf[ks][1] = fa_ld32(&Qs[r0 + 8][ks * 16 + 2 * t]);
        qf[ks][2] = fa_ld32(&Qs[r0][ks * 16 + 8 + 2 * t]);
        qf[ks][3] = fa_ld32(&Qs[r0 + 8][ks * 16 + 8 + 2 * t]);
    }
    const int qi0 = q0 + r0, qi1 = qi0 + 8;

    float acc[FA_D / 8][4];
    #pragma unroll
    for (int i = 0; i < FA_D / 8; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;

    const int q_last = min(S, q0 + FA_BQ) - 1;
    const int k_first = max(0, q0 - window + 1);
    for (int kt = k_first / FA_BK; kt * FA_BK <= q_last; ++kt) {
        const int k0 = kt * FA_BK;
        __syncthreads();   // the previous tile is no longer read
        for (int c = tid; c < FA_BK * FA_D / 8; c += 128) {
            const int r = c / (FA_D / 8), d0 = (c % (FA_D / 8)) * 8;
            uint4 val = make_uint4(0, 0, 0, 0);
            if (k0 + r < S) val = *reinterpret_cast<const uint4*>(k + kbase + (long long)(k0 + r) * FA_D + d0);
            *reinterpret_cast<uint4*>(&Ks[r][d0]) = val;
        }
        for (int c = tid; c < FA_BK * FA_D / 8; c += 128) {
            const int r = c % FA_BK, d0 = (c / FA_BK) * 8;   // consecutive lanes take consecutive keys: no bank conflicts
            uint4 val = make_uint4(0, 0, 0, 0);
            if (k0 + r < S) val = *reinterpret_cast<const uint4*>(v + kbase + (long long)(k0 + r) * FA_D + d0);
            const __nv_bfloat16* e = reinterpret_cast<const __nv_bfloat16*>(&val);
            #pragma unroll
            for (int i = 0; i < 8; ++i) Vt[d0 + i][r] = e[i];
        }
        __syncthreads();

        float s[FA_BK / 8][4];
        #pragma unroll
        for (int nt = 0; nt < FA_BK / 8; ++nt) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
            #pragma unroll
            for (int ks = 0; ks < FA_D / 16; ++ks)
                fa_mma(s[nt], qf[ks], fa_ld32(&Ks[nt * 8 + g][ks * 16 + 2 * t]), fa_ld32(&Ks[nt * 8 + g][ks * 16 + 8 + 2 * t]));
        }
        float mx0 = -INFINITY, mx1 = -INFINITY;
        #pragma unroll
        for (int nt = 0; nt < FA_BK / 8; ++nt) {
            #pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = k0 + nt * 8 + 2 * t + (e & 1);
                const int qi = e < 2 ? qi0 : qi1;
                const bool ok = key < S && key <= qi && qi - key < window;
                s[nt][e] = ok ? s[nt][e] * scale_log2 : -INFINITY;
            }
            mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
            mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(FULL_MASK, mx0, 1)); mx0 = fmaxf(mx0, __shfl_xor_sync(FULL_MASK, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(FULL_MASK, mx1, 1)); mx1 = fmaxf(mx1, __shfl_xor_sync(FULL_MASK, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        // a row with nothing visible yet keeps max -inf; subtracting 0 then leaves every p at 0 and no NaN
        const float base0 = mn0 == -INFINITY ? 0.f : mn0, base1 = mn1 == -INFINITY ? 0.f : mn1;
        const float al0 = exp2f(m0 - base0), al1 = exp2f(m1 - base1);
        m0 = mn0; m1 = mn1;
        float ps0 = 0.f, ps1 = 0.f;
        #pragma unroll
        for (int nt = 0; nt < FA_BK / 8; ++nt) {
            s[nt][0] = exp2f(s[nt][0] - base0); s[nt][1] = exp2f(s[nt][1] - base0);
            s[nt][2] = exp2f(s[nt][2] - base1); s[nt][3] = exp2f(s[nt][3] - base1);
            ps0 += s[nt][0] + s[nt][1];
            ps1 += s[nt][2] + s[nt][3];
        }
        l0 = l0 * al0 + ps0;
        l1 = l1 * al1 + ps1;
        #pragma unroll
        for (int dt = 0; dt < FA_D / 8; ++dt) {
            acc[dt][0] *= al0; acc[dt][1] *= al0; acc[dt][2] *= al1; acc[dt][3] *= al1;
        }
        #pragma unroll
        for (int kk = 0; kk < FA_BK / 16; ++kk) {
            const uint32_t pa[4] = {fa_pack(s[2 * kk][0], s[2 * kk][1]), fa_pack(s[2 * kk][2], s[2 * kk][3]),
                                    fa_pack(s[2 * kk + 1][0], s[2 * kk + 1][1]), fa_pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            #pragma unroll
            for (int dt = 0; dt < FA_D / 8; ++dt)
                fa_mma(acc[dt], pa, fa_ld32(&Vt[dt * 8 + g][kk * 16 + 2 * t]), fa_ld32(&Vt[dt * 8 + g][kk * 16 + 8 + 2 * t]));
        }
    }
    l0 += __shfl_xor_sync(FULL_MASK, l0, 1); l0 += __shfl_xor_sync(FULL_MASK, l0, 2);
    l1 += __shfl_xor_sync(FULL_MASK, l1, 1); l1 += __shfl_xor_sync(FULL_MASK, l1, 2);
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
    #pragma unroll
    for (int dt = 0; dt < FA_D / 8; ++dt) {
        const int d = dt * 8 + 2 * t;
        if (qi0 < S) *reinterpret_cast<uint32_t*>(o + qbase + (long long)qi0 * FA_D + d) = fa_pack(acc[dt][0] * inv0, acc[dt][1] * inv0);
        if (qi1 < S) *reinterpret_cast<uint32_t*>(o + qbase + (long long)qi1 * FA_D + d) = fa_pack(acc[dt][2] * inv1, acc[dt][3] * inv1);
    }
}

static torch::Tensor flash_attention(torch::Tensor q, torch::Tensor k, torch::Tensor v, int64_t window) {
    q = q.contiguous(); k = k.contiguous(); v = v.contiguous();
    check_cuda(q, "q", torch::kBFloat16); check_cuda(k, "k", torch::kBFloat16); check_cuda(v, "v", torch::kBFloat16);
    TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && k.sizes() == v.sizes(), "q [B, Hq, S, D], k and v [B, Hkv, S, D]");
    const int B = q.size(0), Hq = q.size(1), S = q.size(2), D = q.size(3), Hkv = k.size(1);
    TORCH_CHECK(D == FA_D && k.size(3) == FA_D, "head_dim must be ", FA_D);
    TORCH_CHECK(k.size(0) == B && k.size(2) == S && Hkv > 0 && Hq % Hkv == 0, "k/v must match q's batch and length; Hq % Hkv == 0");
    auto o = torch::empty_like(q);
    if (q.numel() == 0) return o;
    const int win = window < 1 ? 1 : (window > S ? S : (int)window);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    const dim3 grid((S + FA_BQ - 1) / FA_BQ, B * Hq);
    flash_attn_kernel<<<grid, 128, 0, cur_stream()>>>((const __nv_bfloat16*)q.data_ptr<at::BFloat16>(),
        (const __nv_bfloat16*)k.data_ptr<at::BFloat16>(), (const __nv_bfloat16*)v.data_ptr<at::BFloat16>(),
        (__nv_bfloat16*)o.data_ptr<at::BFloat16>(), Hq, Hkv, S, win, scale_log2);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return o;
}

torch::Tensor causal_attn_cuda(torch::Tensor q, torch::Tensor k, torch::Tensor v) {
    return flash_attention(q, k, v, q.size(2));
}
"""

cpp_source = r"""
torch::Tensor causal_attn_cuda(torch::Tensor q, torch::Tensor k, torch::Tensor v);
"""

_ext = load_inline(
    name="causal_attention_bf16_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['causal_attn_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        return _ext.causal_attn_cuda(q, k, v)
