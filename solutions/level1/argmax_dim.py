"""Reference CUDA solution for problem `argmax_dim`: column-parallel argmax over the middle dimension, first
index wins ties."""

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

__global__ void argmax_mid_kernel(const float* __restrict__ x, int64_t* __restrict__ y, int R, int C) {
    __shared__ float bv[8][33];
    __shared__ int bi[8][33];
    const int b = blockIdx.y;
    const int c = blockIdx.x * 32 + threadIdx.x;
    float best = -FLT_MAX;
    int idx = 0x7fffffff;
    if (c < C) {
        const float* p = x + (long long)b * R * C + c;
        for (int r = threadIdx.y; r < R; r += 8) {
            const float v = p[(long long)r * C];
            if (v > best || idx == 0x7fffffff) { best = v; idx = r; }
        }
    }
    bv[threadIdx.y][threadIdx.x] = best;
    bi[threadIdx.y][threadIdx.x] = idx;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int k = 1; k < 8; ++k) {
            const float v = bv[k][threadIdx.x];
            const int i = bi[k][threadIdx.x];
            if (i != 0x7fffffff && (v > best || (v == best && i < idx))) { best = v; idx = i; }
        }
        y[(long long)b * C + c] = idx;
    }
}

torch::Tensor argmax_dim_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda_f32(x, "x");
    TORCH_CHECK(x.dim() == 3, "expected a 3-D tensor");
    const int B = x.size(0), R = x.size(1), C = x.size(2);
    auto y = torch::empty({B, C}, x.options().dtype(torch::kInt64));
    dim3 grid((C + 31) / 32, B), block(32, 8);
    argmax_mid_kernel<<<grid, block, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<int64_t>(), R, C);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor argmax_dim_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="argmax_dim_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["argmax_dim_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.argmax_dim_cuda(x)
