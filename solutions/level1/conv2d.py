"""Reference CUDA solution for problem `conv2d`: direct convolution: 16 x 16 output tile x 8 output channels per
block, input channels staged 8 at a time in shared memory, bias in the epilogue."""

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

// Direct 2-D convolution, stride 1, "same" padding (K/2), square odd kernel K <= 7.
// A block computes a 16 x 16 output tile for 8 output channels of one image; input channels are
// staged 8 at a time in shared memory. Epilogue: + bias (optional), then inference batch norm
// (optional, from running statistics), then ReLU (optional).
#define CV_T 16
#define CV_OC 8
#define CV_CI 8
#define CV_MAXK 7
__global__ void __launch_bounds__(256) conv2d_same_kernel(
        const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
        const float* __restrict__ bn_w, const float* __restrict__ bn_b, const float* __restrict__ bn_mean,
        const float* __restrict__ bn_var, float bn_eps, bool relu,
        float* __restrict__ y, int Cin, int Cout, int H, int W, int K) {
    __shared__ float xs[CV_CI][CV_T + CV_MAXK - 1][CV_T + CV_MAXK - 1];
    __shared__ float ws[CV_OC][CV_CI][CV_MAXK * CV_MAXK];
    const int tiles_x = (W + CV_T - 1) / CV_T;
    const int tx0 = (blockIdx.x % tiles_x) * CV_T, ty0 = (blockIdx.x / tiles_x) * CV_T;
    const int oc0 = blockIdx.y * CV_OC;
    const int n = blockIdx.z;
    const int lx = threadIdx.x % CV_T, ly = threadIdx.x / CV_T;
    const int pad = K / 2, span = CV_T + K - 1, KK = K * K;
    float acc[CV_OC];
    #pragma unroll
    for (int o = 0; o < CV_OC; ++o) acc[o] = 0.f;

    for (int c0 = 0; c0 < Cin; c0 += CV_CI) {
        for (int e = threadIdx.x; e < CV_CI * span * span; e += blockDim.x) {
            const int c = e / (span * span), rem = e % (span * span);
            const int sy = rem / span, sx = rem % span;
            const int gy = ty0 + sy - pad, gx = tx0 + sx - pad, ci = c0 + c;
            float v = 0.f;
            if (ci < Cin && gy >= 0 && gy < H && gx >= 0 && gx < W)
                v = x[(((long long)n * Cin + ci) * H + gy) * W + gx];
            xs[c][sy][sx] = v;
        }
        for (int e = threadIdx.x; e < CV_OC * CV_CI * KK; e += blockDim.x) {
            const int o = e / (CV_CI * KK), rem = e % (CV_CI * KK);
            const int c = rem / KK, t = rem % KK;
            const int oc = oc0 + o, ci = c0 + c;
            ws[o][c][t] = (oc < Cout && ci < Cin) ? w[((long long)oc * Cin + ci) * KK + t] : 0.f;
        }
        __syncthreads();
        for (int c = 0; c < CV_CI; ++c) {
            for (int ky = 0; ky < K; ++ky) {
                for (int kx = 0; kx < K; ++kx) {
                    const float v = xs[c][ly + ky][lx + kx];
                    const int t = ky * K + kx;
                    #pragma unroll
                    for (int o = 0; o < CV_OC; ++o) acc[o] = fmaf(v, ws[o][c][t], acc[o]);
                }
            }
        }
        __syncthreads();
    }
    const int oy = ty0 + ly, ox = tx0 + lx;
    if (oy >= H || ox >= W) return;
    #pragma unroll
    for (int o = 0; o < CV_OC; ++o) {
        const int oc = oc0 + o;
        if (oc >= Cout) break;
        float v = acc[o];
        if (bias != nullptr) v += bias[oc];
        if (bn_w != nullptr) {
            const float scale = bn_w[oc] * rsqrtf(bn_var[oc] + bn_eps);
            v = (v - bn_mean[oc]) * scale + bn_b[oc];
        }
        if (relu) v = fmaxf(v, 0.f);
        y[(((long long)n * Cout + oc) * H + oy) * W + ox] = v;
    }
}

static torch::Tensor conv2d_same(const torch::Tensor& x, const torch::Tensor& w, const float* bias,
                                 const float* bn_w, const float* bn_b, const float* bn_mean, const float* bn_var,
                                 float bn_eps, bool relu) {
    check_cuda_f32(x, "x");
    check_cuda_f32(w, "weight");
    const int N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
    const int Cout = w.size(0), K = w.size(2);
    TORCH_CHECK(w.size(1) == Cin && w.size(3) == K && K % 2 == 1 && K <= CV_MAXK, "unsupported conv weight shape");
    auto y = torch::empty({N, Cout, H, W}, x.options());
    const int tiles = ((H + CV_T - 1) / CV_T) * ((W + CV_T - 1) / CV_T);
    dim3 grid(tiles, (Cout + CV_OC - 1) / CV_OC, N);
    conv2d_same_kernel<<<grid, CV_T * CV_T, 0, cur_stream()>>>(
        x.data_ptr<float>(), w.data_ptr<float>(), bias, bn_w, bn_b, bn_mean, bn_var, bn_eps, relu,
        y.data_ptr<float>(), Cin, Cout, H, W, K);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

torch::Tensor conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
    x = x.contiguous(); w = w.contiguous();
    check_cuda_f32(b, "bias");
    return conv2d_same(x, w, b.data_ptr<float>(), nullptr, nullptr, nullptr, nullptr, 0.f, false);
}
"""

cpp_source = r"""
torch::Tensor conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b);
"""

_ext = load_inline(
    name="conv2d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["conv2d_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.conv2d_cuda(x, self.conv.weight, self.conv.bias)
