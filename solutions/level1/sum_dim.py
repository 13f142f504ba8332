"""Reference CUDA solution for problem `sum_dim`: column-parallel reduction over the middle dimension: a 32 x 8
block sums 32 columns, 8 threads per column, partial sums combined in shared memory."""

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

// x: (B, R, C) contiguous, reduce over R. Block (32, 8): threadIdx.x picks a column, threadIdx.y strides R.
__global__ void sum_mid_kernel(const float* __restrict__ x, float* __restrict__ y, int R, int C) {
    __shared__ float part[8][33];
    const int b = blockIdx.y;
    const int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.f;
    if (c < C) {
        const float* p = x + (long long)b * R * C + c;
        for (int r = threadIdx.y; r < R; r += 8) s += p[(long long)r * C];
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.f;
        #pragma unroll
        for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
        y[(long long)b * C + c] = t;
    }
}

torch::Tensor sum_dim_cuda(torch::Tensor x, int64_t dim) {
    x = x.contiguous();
    check_cuda_f32(x, "x");
    TORCH_CHECK(x.dim() == 3 && dim == 1, "this kernel reduces dim 1 of a 3-D tensor");
    const int B = x.size(0), R = x.size(1), C = x.size(2);
    auto y = torch::empty({B, 1, C}, x.options());
    dim3 grid((C + 31) / 32, B), block(32, 8);
    sum_mid_kernel<<<grid, block, 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), R, C);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor sum_dim_cuda(torch::Tensor x, int64_t dim);
"""

_ext = load_inline(
    name="sum_dim_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["sum_dim_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.sum_dim_cuda(x, self.dim)
