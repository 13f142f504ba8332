"""Reference CUDA solution for problem `avgpool2d`: one thread per output pixel over the 2 x 2 window."""

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

// One thread per output pixel. MAX: padding counts as -inf. AVG: no padding, divide by K*K.
template <bool MAX>
__global__ void pool2d_kernel(const float* __restrict__ x, float* __restrict__ y, int H, int W, int OH, int OW,
                              int K, int S, int P, long long total) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)blockDim.x * gridDim.x) {
        const int ox = (int)(i % OW);
        const int oy = (int)((i / OW) % OH);
        const long long plane = i / ((long long)OH * OW);
        const float* xp = x + plane * H * W;
        float acc = MAX ? -FLT_MAX : 0.f;
        for (int ky = 0; ky < K; ++ky) {
            const int iy = oy * S - P + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < K; ++kx) {
                const int ix = ox * S - P + kx;
                if (ix < 0 || ix >= W) continue;
                const float v = __ldg(xp + (long long)iy * W + ix);
                acc = MAX ? fmaxf(acc, v) : acc + v;
            }
        }
        y[i] = MAX ? acc : acc / (float)(K * K);
    }
}

template <bool MAX>
static torch::Tensor pool2d(torch::Tensor x, int K, int S, int P) {
    x = x.contiguous();
    check_cuda_f32(x, "x");
    const int N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1;
    auto y = torch::empty({N, C, OH, OW}, x.options());
    const long long total = y.numel();
    const int blocks = (int)std::min<long long>((total + 255) / 256, 132LL * 64);
    pool2d_kernel<MAX><<<blocks, 256, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), H, W, OH, OW, K, S, P, total);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

torch::Tensor avgpool2d_cuda(torch::Tensor x) { return pool2d<false>(x, 2, 2, 0); }
"""

cpp_source = r"""
torch::Tensor avgpool2d_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="avgpool2d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["avgpool2d_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.avgpool2d_cuda(x)
