"""Reference CUDA solution for problem `depthwise_conv2d`: memory-bound, so the work is to touch each byte once: four
horizontally adjacent outputs per thread from one float4 load per kernel row plus the K/2 neighbours on each side
(already in L1 from the next thread), taps in registers, one float4 store; a thread-per-pixel kernel covers widths
not divisible by 4 and even or large kernels. Roofline on an H200: 268 MB at 4.8 TB/s, 0.056 ms; the first, thread-
per-pixel version ran at 0.66x eager."""

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

__global__ void depthwise_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                                 float* __restrict__ y, int C, int H, int W, int K, long long total) {
    const int pad = K / 2;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)blockDim.x * gridDim.x) {
        const int ox = (int)(i % W);
        const int oy = (int)((i / W) % H);
        const long long plane = i / ((long long)H * W);     // n * C + c
        const int c = (int)(plane % C);
        const float* xp = x + plane * H * W;
        const float* wp = w + (long long)c * K * K;
        float s = __ldg(b + c);
        for (int ky = 0; ky < K; ++ky) {
            const int iy = oy + ky - pad;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < K; ++kx) {
                const int ix = ox + kx - pad;
                if (ix < 0 || ix >= W) continue;
                s = fmaf(__ldg(xp + (long long)iy * W + ix), __ldg(wp + ky * K + kx), s);
            }
        }
        y[i] = s;
    }
}

// Four horizontally adjacent outputs per thread (W % 4 == 0, odd K <= 7 known at compile time): per kernel row a
// float4 load of the inputs under the four centres plus K/2 scalars on each side (neighbouring threads' values,
// already in L1), taps in registers, one float4 store. Each input is fetched from DRAM about once.
template <int K>
__global__ void depthwise_vec_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                                     float* __restrict__ y, int C, int H, int W, long long total4) {
    constexpr int P = K / 2;
    const int W4 = W / 4;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total4; i += (long long)blockDim.x * gridDim.x) {
        const int ox = (int)(i % W4) * 4;
        const long long rowid = i / W4;            // (n * C + c) * H + oy
        const int oy = (int)(rowid % H);
        const long long plane = rowid / H;
        const int c = (int)(plane % C);
        const float* xp = x + plane * H * W;
        float wk[K * K];
        #pragma unroll
        for (int t = 0; t < K * K; ++t) wk[t] = __ldg(w + (long long)c * K * K + t);
        const float bias = __ldg(b + c);
        float o[4] = {bias, bias, bias, bias};
        #pragma unroll
        for (int ky = 0; ky < K; ++ky) {
            const int iy = oy + ky - P;
            if (iy < 0 || iy >= H) continue;
            const float* row = xp + (long long)iy * W;
            float win[4 + 2 * P];                  // row[ox - P .. ox + 3 + P], zero outside
            const float4 m = *(const float4*)(row + ox);
            win[P] = m.x; win[P + 1] = m.y; win[P + 2] = m.z; win[P + 3] = m.w;
            #pragma unroll
            for (int j = 0; j < P; ++j) {
                const int l = ox - P + j, r = ox + 4 + j;
                win[j] = l >= 0 ? __ldg(row + l) : 0.f;
                win[P + 4 + j] = r < W ? __ldg(row + r) : 0.f;
            }
            #pragma unroll
            for (int kx = 0; kx < K; ++kx)
                #pragma unroll
                for (int q = 0; q < 4; ++q) o[q] = fmaf(win[q + kx], wk[ky * K + kx], o[q]);
        }
        *(float4*)(y + rowid * W + ox) = make_float4(o[0], o[1], o[2], o[3]);
    }
}

torch::Tensor depthwise_conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
    x = x.contiguous(); w = w.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(w, "weight"); check_cuda_f32(b, "bias");
    const int N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(2);
    TORCH_CHECK(w.size(0) == C && w.size(1) == 1 && K % 2 == 1, "expected a depthwise (C, 1, K, K) weight, odd K");
    auto y = torch::empty_like(x);
    const long long total = x.numel();
    if (total == 0) return y;
    if (W % 4 == 0 && (K == 3 || K == 5 || K == 7)) {
        const long long total4 = total / 4;
        const int blocks = (int)std::min<long long>((total4 + 255) / 256, 132LL * 64);
        void (*kern)(const float*, const float*, const float*, float*, int, int, int, long long) =
            K == 3 ? depthwise_vec_kernel<3> : (K == 5 ? depthwise_vec_kernel<5> : depthwise_vec_kernel<7>);
        kern<<<blocks, 256, 0, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
                                              y.data_ptr<float>(), C, H, W, total4);
    } else {
        const int blocks = (int)std::min<long long>((total + 255) / 256, 132LL * 64);
        depthwise_kernel<<<blocks, 256, 0, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
                                                            y.data_ptr<float>(), C, H, W, K, total);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    (void)N;
    return y;
}
"""

cpp_source = r"""
torch::Tensor depthwise_conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b);
"""

_ext = load_inline(
    name="depthwise_conv2d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["depthwise_conv2d_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.depthwise_conv2d_cuda(x, self.conv.weight, self.conv.bias)
