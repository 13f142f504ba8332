"""Reference CUDA solution for problem `conv1d`: an implicit GEMM on TF32 tensor cores (mma.sync.m16n8k8), as cuDNN
does for this float32 problem by default (its tolerance of 1e-2 allows TF32). A block computes 64 output channels x
128 positions of one signal; input channels stream through shared memory 8 at a time (the 128 + K - 1 input window
and the 64 x 8K weights), and the B operand is read straight from the input window through a table of offsets, so no
im2col copy exists. Roofline on an H200: 38.7 GFLOP at 495 TFLOP/s TF32 is 0.08 ms, about the 400 MB of memory
traffic (0.08 ms at 4.8 TB/s)."""

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
#define C1_CO 64
#define C1_L 128
#define C1_CI 8
#define C1_MAXK 16
// Implicit GEMM on TF32 tensor cores: out[co][l] = sum over r = (ci, k) of W[co][r] * X[ci][l + k - pad], with
// r running over the 8 input channels of a chunk times the K taps (padded to a multiple of 8 with zero
// weights). A = W (64 x R, row-major in shared memory), B[r][l] = xs[off[r] + l] read straight from the input
// window, so no im2col copy is built. 8 warps in a 2 x 4 grid, each 32 channels x 32 positions as 2 x 4
// mma.sync.m16n8k8 tiles.
__device__ __forceinline__ uint32_t c1_tf32(float f) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(f));
    return r;
}
__device__ __forceinline__ void c1_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__global__ void __launch_bounds__(256) conv1d_tf32_kernel(const float* __restrict__ x, const float* __restrict__ w,
        const float* __restrict__ bias, float* __restrict__ y, int Cin, int Cout, int L, int Lout, int K, int pad) {
    extern __shared__ float smem[];
    const int XW = C1_L + K - 1;
    const int R = C1_CI * K, RP = (R + 7) / 8 * 8, WLD = RP + 4;   // WLD: conflict-free A-fragment reads
    float* xs = smem;                          // [C1_CI][XW]
    float* ws = xs + C1_CI * XW;               // [C1_CO][WLD]
    int* off = (int*)(ws + C1_CO * WLD);       // [RP]: where row r of B starts in xs
    const int b = blockIdx.z, co0 = blockIdx.y * C1_CO, l0 = blockIdx.x * C1_L;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wm = warp >> 2, wn = warp & 3;
    for (int r = tid; r < RP; r += 256) off[r] = r < R ? (r / K) * XW + r % K : 0;
    float acc[2][4][4];
    #pragma unroll
    for (int i = 0; i < 2; ++i)
        #pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;
    const float* xb = x + (long long)b * Cin * L;
    for (int ci0 = 0; ci0 < Cin; ci0 += C1_CI) {
        for (int i = tid; i < C1_CI * XW; i += 256) {
            const int ci = ci0 + i / XW, l = l0 - pad + i % XW;
            xs[i] = (ci < Cin && l >= 0 && l < L) ? xb[(long long)ci * L + l] : 0.f;
        }
        for (int i = tid; i < C1_CO * RP; i += 256) {
            const int co = i / RP, r = i % RP, gco = co0 + co, gci = ci0 + r / K;
            ws[co * WLD + r] = (r < R && gco < Cout && gci < Cin) ? w[((long long)gco * Cin + gci) * K + r % K] : 0.f;
        }
        __syncthreads();
        for (int ks = 0; ks < RP; ks += 8) {
            uint32_t af[2][4];
            #pragma unroll
            for (int i = 0; i < 2; ++i) {
                const float* wr = ws + (wm * 32 + i * 16 + g) * WLD + ks + t;
                af[i][0] = c1_tf32(wr[0]);
                af[i][1] = c1_tf32(wr[8 * WLD]);
                af[i][2] = c1_tf32(wr[4]);
                af[i][3] = c1_tf32(wr[8 * WLD + 4]);
            }
            const int o0 = off[ks + t], o1 = off[ks + t + 4];
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int n = wn * 32 + j * 8 + g;
                const uint32_t b0 = c1_tf32(xs[o0 + n]), b1 = c1_tf32(xs[o1 + n]);
                #pragma unroll
                for (int i = 0; i < 2; ++i) c1_mma(acc[i][j], af[i], b0, b1);
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < 2; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int co = co0 + wm * 32 + i * 16 + g + h * 8;
            if (co >= Cout) continue;
            const float bv = bias[co];
            float* yr = y + ((long long)b * Cout + co) * Lout;
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int l = l0 + wn * 32 + j * 8 + 2 * t;
                if (l < Lout) yr[l] = acc[i][j][2 * h] + bv;
                if (l + 1 < Lout) yr[l + 1] = acc[i][j][2 * h + 1] + bv;
            }
        }
    }
}

torch::Tensor conv1d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor bias, int64_t pad) {
    x = x.contiguous(); w = w.contiguous(); bias = bias.contiguous();
    check_cuda(x, "x", torch::kFloat32); check_cuda(w, "weight", torch::kFloat32); check_cuda(bias, "bias", torch::kFloat32);
    TORCH_CHECK(x.dim() == 3 && w.dim() == 3 && w.size(1) == x.size(1), "x [B, Cin, L], weight [Cout, Cin, K]");
    const int B = x.size(0), Cin = x.size(1), L = x.size(2), Cout = w.size(0), K = w.size(2);
    TORCH_CHECK(K >= 1 && K <= C1_MAXK, "kernel sizes up to ", C1_MAXK);
    const int Lout = L + 2 * (int)pad - K + 1;
    TORCH_CHECK(Lout > 0, "output would be empty");
    auto y = torch::empty({B, Cout, Lout}, x.options());
    const int RP = (C1_CI * K + 7) / 8 * 8;
    const size_t smem = (size_t)(C1_CI * (C1_L + K - 1) + C1_CO * (RP + 4)) * sizeof(float) + RP * sizeof(int);
    const dim3 grid((Lout + C1_L - 1) / C1_L, (Cout + C1_CO - 1) / C1_CO, B);
    conv1d_tf32_kernel<<<grid, 256, smem, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), bias.data_ptr<float>(),
                                                     y.data_ptr<float>(), Cin, Cout, L, Lout, K, (int)pad);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor conv1d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor bias, int64_t pad);
"""

_ext = load_inline(
    name="conv1d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['conv1d_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.conv1d_cuda(x, self.conv.weight, self.conv.bias, self.conv.padding[0])
