"""Reference CUDA solution for problem `linear_gelu_bf16`: WMMA bf16 GEMM against the (out, in) weight, bias and
tanh-GELU applied in fp32 before the single rounding to bf16."""

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

#include <mma.h>
#include <cuda_bf16.h>
using namespace nvcuda;

// C (M x N, bf16) = epi(A (M x K, bf16, row-major) @ op(B)) with fp32 accumulation on tensor cores (WMMA).
// op(B) = B (K x N row-major) or, with B_TRANS, B^T for B stored N x K. 128 x 128 x 32 block tile,
// 8 warps in a 2 x 4 grid, each warp 64 x 32 (4 x 2 fragments of 16 x 16).
#define WB_BM 128
#define WB_BN 128
#define WB_BK 32
#define WB_LDA (WB_BK + 8)
#define WB_LDB (WB_BN + 8)

struct EpiNone {
    __device__ __forceinline__ float operator()(float v, int, int) const { return v; }
};

template <bool B_TRANS, typename Epi>
__global__ void __launch_bounds__(256) wmma_gemm_kernel(const __nv_bfloat16* __restrict__ A,
                                                        const __nv_bfloat16* __restrict__ B,
                                                        __nv_bfloat16* __restrict__ C, int M, int N, int K, Epi epi) {
    __shared__ __align__(128) __nv_bfloat16 As[WB_BM * WB_LDA];
    __shared__ __align__(128) __nv_bfloat16 Bs[B_TRANS ? WB_BN * WB_LDA : WB_BK * WB_LDB];
    __shared__ __align__(128) float stage[8][16 * 16];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wm = warp >> 2, wn = warp & 3;
    const int m0 = blockIdx.y * WB_BM, n0 = blockIdx.x * WB_BN;
    const uint4 zero = make_uint4(0u, 0u, 0u, 0u);

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
    #pragma unroll
    for (int i = 0; i < 4; ++i)
        #pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

    for (int k0 = 0; k0 < K; k0 += WB_BK) {
        #pragma unroll
        for (int l = 0; l < 2; ++l) {
            const int idx = tid + l * 256;
            const int r = idx >> 2, c = (idx & 3) * 8;
            const int gm = m0 + r, gk = k0 + c;
            uint4 v = zero;
            if (gm < M && gk < K) v = *reinterpret_cast<const uint4*>(A + (long long)gm * K + gk);
            *reinterpret_cast<uint4*>(As + r * WB_LDA + c) = v;
            if constexpr (B_TRANS) {
                const int gn = n0 + r;
                uint4 w = zero;
                if (gn < N && gk < K) w = *reinterpret_cast<const uint4*>(B + (long long)gn * K + gk);
                *reinterpret_cast<uint4*>(Bs + r * WB_LDA + c) = w;
            } else {
                const int kr = idx >> 4, nc = (idx & 15) * 8;
                const int gk2 = k0 + kr, gn = n0 + nc;
                uint4 w = zero;
                if (gk2 < K && gn < N) w = *reinterpret_cast<const uint4*>(B + (long long)gk2 * N + gn);
                *reinterpret_cast<uint4*>(Bs + kr * WB_LDB + nc) = w;
            }
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < WB_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> af[4];
            #pragma unroll
            for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(af[i], As + (wm * 64 + i * 16) * WB_LDA + kk, WB_LDA);
            #pragma unroll
            for (int j = 0; j < 2; ++j) {
                if constexpr (B_TRANS) {
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> bf;
                    wmma::load_matrix_sync(bf, Bs + (wn * 32 + j * 16) * WB_LDA + kk, WB_LDA);
                    #pragma unroll
                    for (int i = 0; i < 4; ++i) wmma::mma_sync(acc[i][j], af[i], bf, acc[i][j]);
                } else {
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> bf;
                    wmma::load_matrix_sync(bf, Bs + kk * WB_LDB + wn * 32 + j * 16, WB_LDB);
                    #pragma unroll
                    for (int i = 0; i < 4; ++i) wmma::mma_sync(acc[i][j], af[i], bf, acc[i][j]);
                }
            }
        }
        __syncthreads();
    }

    float* st = stage[warp];
    #pragma unroll
    for (int i = 0; i < 4; ++i) {
        #pragma unroll
        for (int j = 0; j < 2; ++j) {
            wmma::store_matrix_sync(st, acc[i][j], 16, wmma::mem_row_major);
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                const int row = m0 + wm * 64 + i * 16 + (e >> 4);
                const int col = n0 + wn * 32 + j * 16 + (e & 15);
                if (row < M && col < N) C[(long long)row * N + col] = __float2bfloat16(epi(st[e], row, col));
            }
            __syncwarp();
        }
    }
}

template <bool B_TRANS, typename Epi>
static void launch_wmma_gemm(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor& c, int M, int N, int K,
                             Epi epi) {
    TORCH_CHECK(K % 8 == 0 && N % 8 == 0, "K and N must be multiples of 8 for 16-byte loads");
    const auto* A = reinterpret_cast<const __nv_bfloat16*>(a.data_ptr<at::BFloat16>());
    const auto* B = reinterpret_cast<const __nv_bfloat16*>(b.data_ptr<at::BFloat16>());
    auto* C = reinterpret_cast<__nv_bfloat16*>(c.data_ptr<at::BFloat16>());
    TORCH_CHECK(((reinterpret_cast<uintptr_t>(A) | reinterpret_cast<uintptr_t>(B)) & 15) == 0, "inputs must be 16-byte aligned");
    dim3 grid((N + WB_BN - 1) / WB_BN, (M + WB_BM - 1) / WB_BM);
    wmma_gemm_kernel<B_TRANS, Epi><<<grid, 256, 0, cur_stream()>>>(A, B, C, M, N, K, epi);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}

struct EpiBiasGeluTanh {
    const __nv_bfloat16* bias;
    __device__ __forceinline__ float operator()(float v, int, int col) const {
        const float x = v + __bfloat162float(bias[col]);
        return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    }
};

torch::Tensor linear_gelu_bf16_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
    x = x.contiguous();
    TORCH_CHECK(x.is_cuda() && w.is_cuda() && b.is_cuda(), "CUDA tensors expected");
    TORCH_CHECK(x.scalar_type() == torch::kBFloat16 && w.scalar_type() == torch::kBFloat16 &&
                b.scalar_type() == torch::kBFloat16, "bf16 expected");
    TORCH_CHECK(w.is_contiguous() && b.is_contiguous(), "contiguous weight and bias expected");
    const int M = x.size(0), K = x.size(1), N = w.size(0);
    auto y = torch::empty({M, N}, x.options());
    launch_wmma_gemm<true>(x, w, y, M, N, K,
                           EpiBiasGeluTanh{reinterpret_cast<const __nv_bfloat16*>(b.data_ptr<at::BFloat16>())});
    return y;
}
"""

cpp_source = r"""
torch::Tensor linear_gelu_bf16_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b);
"""

_ext = load_inline(
    name="linear_gelu_bf16_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["linear_gelu_bf16_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features, dtype=torch.bfloat16) * in_features ** -0.5)
        self.bias = nn.Parameter(0.1 * torch.randn(out_features, dtype=torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.linear_gelu_bf16_cuda(x, self.weight, self.bias)
