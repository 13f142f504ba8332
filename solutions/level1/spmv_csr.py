"""Reference CUDA solution for problem `spmv_csr`: CSR-vector: one warp per row, lanes stride over the row's non-zeros
(coalesced reads of values and column indices, gathers from x through the read-only cache), a shuffle reduction per
row. Roofline: about 280 MB at 4.8 TB/s, 0.06 ms on an H200; the random gathers from x keep it well below that."""

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

__device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}
__global__ void spmv_warp_kernel(const int* __restrict__ crow, const int* __restrict__ col, const float* __restrict__ val,
                                 const float* __restrict__ x, float* __restrict__ y, int rows, int ncols) {
    const int row = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const int a = crow[row], b = crow[row + 1];
    float s = 0.f;
    for (int i = a + lane; i < b; i += 32) {
        const int c = col[i];
        if (c >= 0 && c < ncols) s += val[i] * __ldg(x + c);
    }
    s = warp_sum(s);
    if (lane == 0) y[row] = s;
}

torch::Tensor spmv_cuda(torch::Tensor crow, torch::Tensor col, torch::Tensor val, torch::Tensor x) {
    crow = crow.contiguous(); col = col.contiguous(); val = val.contiguous(); x = x.contiguous();
    check_cuda(crow, "crow", torch::kInt32); check_cuda(col, "col", torch::kInt32);
    check_cuda(val, "val", torch::kFloat32); check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(col.numel() == val.numel(), "col and val must have one entry per non-zero");
    const int rows = crow.numel() - 1;
    TORCH_CHECK(rows >= 0, "crow must have rows + 1 entries");
    auto y = torch::empty({rows}, val.options());
    if (rows == 0) return y;
    const int threads = 256;
    const unsigned blocks = (unsigned)(((long long)rows * 32 + threads - 1) / threads);
    spmv_warp_kernel<<<blocks, threads, 0, cur_stream()>>>(crow.data_ptr<int>(), col.data_ptr<int>(), val.data_ptr<float>(),
                                                           x.data_ptr<float>(), y.data_ptr<float>(), rows, x.numel());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor spmv_cuda(torch::Tensor crow, torch::Tensor col, torch::Tensor val, torch::Tensor x);
"""

_ext = load_inline(
    name="spmv_csr_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['spmv_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor, x: torch.Tensor):
        return _ext.spmv_cuda(crow, col, val, x)
