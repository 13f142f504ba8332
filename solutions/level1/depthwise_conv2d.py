"""Reference CUDA solution for problem `depthwise_conv2d`: one thread per output pixel, taps read through the
read-only cache."""

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

torch::Tensor depthwise_conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
    x = x.contiguous(); w = w.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(w, "weight"); check_cuda_f32(b, "bias");
    const int N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(2);
    TORCH_CHECK(w.size(0) == C && w.size(1) == 1 && K % 2 == 1, "expected a depthwise (C, 1, K, K) weight, odd K");
    auto y = torch::empty_like(x);
    const long long total = x.numel();
    const int blocks = (int)std::min<long long>((total + 255) / 256, 132LL * 64);
    depthwise_kernel<<<blocks, 256, 0, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
                                                        y.data_ptr<float>(), C, H, W, K, total);
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
