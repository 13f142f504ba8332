"""Reference CUDA solution for problem `transpose`: the classic tiled transpose: a 32 x 32 tile is read with coalesced
rows into shared memory (padded to 33 columns so the column reads hit 32 different banks) and written back with
coalesced rows of the output; each thread moves 4 values. Roofline: 1 GB at 4.8 TB/s, 0.22 ms on an H200."""

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
#define TT 32
#define TROWS 8
__global__ void transpose_kernel(const float* __restrict__ x, float* __restrict__ y, int R, int C) {
    __shared__ float tile[TT][TT + 1];
    const int c0 = blockIdx.x * TT, r0 = blockIdx.y * TT;
    #pragma unroll
    for (int k = 0; k < TT; k += TROWS) {
        const int r = r0 + threadIdx.y + k, c = c0 + threadIdx.x;
        if (r < R && c < C) tile[threadIdx.y + k][threadIdx.x] = x[(long long)r * C + c];
    }
    __syncthreads();
    #pragma unroll
    for (int k = 0; k < TT; k += TROWS) {
        const int r = c0 + threadIdx.y + k, c = r0 + threadIdx.x;  // output row = input column
        if (r < C && c < R) y[(long long)r * R + c] = tile[threadIdx.x][threadIdx.y + k];
    }
}

torch::Tensor transpose_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(x.dim() == 2, "expected a matrix");
    const int R = x.size(0), C = x.size(1);
    auto y = torch::empty({C, R}, x.options());
    if (x.numel() == 0) return y;
    const dim3 grid((C + TT - 1) / TT, (R + TT - 1) / TT);
    transpose_kernel<<<grid, dim3(TT, TROWS), 0, cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), R, C);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor transpose_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="transpose_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['transpose_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor):
        return _ext.transpose_cuda(x)
