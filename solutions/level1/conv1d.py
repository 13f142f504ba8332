"""Reference CUDA solution for problem `conv1d`: a direct convolution tiled like a GEMM: a block computes 64 output
channels x 128 positions of one signal; input channels stream through shared memory 8 at a time (the 128 + K - 1
input window and the 64 x 8 x K weights), and each thread accumulates an 8 x 4 register tile (8 channels x 4
positions), so each shared-memory read feeds several FMAs. Plain float32 FMAs: 38.7 GFLOP at the 67 TFLOP/s FP32
peak is 0.58 ms; cuDNN may use TF32 (the tolerance allows it), whose floor is 0.08 ms, so eager is likely faster."""

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
__global__ void __launch_bounds__(256) conv1d_kernel(const float* __restrict__ x, const float* __restrict__ w,
        const float* __restrict__ bias, float* __restrict__ y, int Cin, int Cout, int L, int Lout, int K, int pad) {
    extern __shared__ float smem[];
    const int XW = C1_L + K - 1;
    float* xs = smem;                   // [C1_CI][XW]
    float* ws = smem + C1_CI * XW;      // [C1_CI][K][C1_CO]
    const int b = blockIdx.z, co0 = blockIdx.y * C1_CO, l0 = blockIdx.x * C1_L;
    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;   // 4 positions tx + 32p, 8 channels ty*8 + c
    float acc[8][4];
    #pragma unroll
    for (int c = 0; c < 8; ++c)
        #pragma unroll
        for (int p = 0; p < 4; ++p) acc[c][p] = 0.f;
    const float* xb = x + (long long)b * Cin * L;
    for (int ci0 = 0; ci0 < Cin; ci0 += C1_CI) {
        for (int i = threadIdx.x; i < C1_CI * XW; i += 256) {
            const int ci = ci0 + i / XW, j = i % XW, l = l0 - pad + j;
            xs[i] = (ci < Cin && l >= 0 && l < L) ? xb[(long long)ci * L + l] : 0.f;
        }
        for (int i = threadIdx.x; i < C1_CI * K * C1_CO; i += 256) {
            const int co = i % C1_CO, k = (i / C1_CO) % K, ci = i / (C1_CO * K);
            const int gco = co0 + co, gci = ci0 + ci;
            ws[i] = (gco < Cout && gci < Cin) ? w[((long long)gco * Cin + gci) * K + k] : 0.f;
        }
        __syncthreads();
        for (int ci = 0; ci < C1_CI; ++ci) {
            for (int k = 0; k < K; ++k) {
                float xv[4], wv[8];
                #pragma unroll
                for (int p = 0; p < 4; ++p) xv[p] = xs[ci * XW + tx + 32 * p + k];
                #pragma unroll
                for (int c = 0; c < 8; ++c) wv[c] = ws[(ci * K + k) * C1_CO + ty * 8 + c];
                #pragma unroll
                for (int c = 0; c < 8; ++c)
                    #pragma unroll
                    for (int p = 0; p < 4; ++p) acc[c][p] = fmaf(wv[c], xv[p], acc[c][p]);
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int c = 0; c < 8; ++c) {
        const int co = co0 + ty * 8 + c;
        if (co >= Cout) continue;
        const float bv = bias[co];
        float* yr = y + ((long long)b * Cout + co) * Lout;
        #pragma unroll
        for (int p = 0; p < 4; ++p) {
            const int l = l0 + tx + 32 * p;
            if (l < Lout) yr[l] = acc[c][p] + bv;
        }
    }
}

torch::Tensor conv1d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor bias, int64_t pad) {
    x = x.contiguous(); w = w.contiguous(); bias = bias.contiguous();
    check_cuda(x, "x", torch::kFloat32); check_cuda(w, "weight", torch::kFloat32); check_cuda(bias, "bias", torch::kFloat32);
    TORCH_CHECK(x.dim() == 3 && w.dim() == 3 && w.size(1) == x.size(1), "x [B, Cin, L], weight [Cout, Cin, K]");
    const int B = x.size(0), Cin = x.size(1), L = x.size(2), Cout = w.size(0), K = w.size(2);
    TORCH_CHECK(K >= 1 && K <= 16, "kernel sizes up to 16");
    const int Lout = L + 2 * (int)pad - K + 1;
    TORCH_CHECK(Lout > 0, "output would be empty");
    auto y = torch::empty({B, Cout, Lout}, x.options());
    const size_t smem = (size_t)(C1_CI * (C1_L + K - 1) + C1_CI * K * C1_CO) * sizeof(float);
    const dim3 grid((Lout + C1_L - 1) / C1_L, (Cout + C1_CO - 1) / C1_CO, B);
    conv1d_kernel<<<grid, 256, smem, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), bias.data_ptr<float>(),
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
