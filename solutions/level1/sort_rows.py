"""Reference CUDA solution for problem `sort_rows`: one block per row, a bitonic sort of the row in shared memory
(padded with +inf to a power of two), each thread owning one compare-exchange pair per stage. Compute-heavy for its
bytes (66 stages of 1024 pairs per 2048-value row); the memory floor, 512 MB at 4.8 TB/s, is 0.11 ms on an H200."""

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
__global__ void bitonic_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int D, int n2) {
    extern __shared__ float s[];
    const long long base = (long long)blockIdx.x * D;
    for (int i = threadIdx.x; i < n2; i += blockDim.x) s[i] = i < D ? x[base + i] : INFINITY;
    __syncthreads();
    const int pairs = n2 >> 1;
    for (int k = 2; k <= n2; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int t = threadIdx.x; t < pairs; t += blockDim.x) {
                const int i = 2 * t - (t & (j - 1));  // lower index of the pair, bit j clear
                const int p = i + j;
                const bool up = (i & k) == 0;
                const float a = s[i], b = s[p];
                if ((a > b) == up) { s[i] = b; s[p] = a; }
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < D; i += blockDim.x) y[base + i] = s[i];
}

torch::Tensor sort_rows_cuda(torch::Tensor x) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    const int D = x.size(-1);
    TORCH_CHECK(D >= 1 && D <= 8192, "rows of 1..8192 values (one row sorted in 48 KB of shared memory)");
    auto y = torch::empty_like(x);
    const long long rows = x.numel() / D;
    if (rows == 0) return y;
    int n2 = 1;
    while (n2 < D) n2 <<= 1;
    const int threads = n2 / 2 < 32 ? 32 : (n2 / 2 > 1024 ? 1024 : n2 / 2);
    bitonic_rows_kernel<<<(unsigned)rows, threads, n2 * sizeof(float), cur_stream()>>>(x.data_ptr<float>(), y.data_ptr<float>(), D, n2);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor sort_rows_cuda(torch::Tensor x);
"""

_ext = load_inline(
    name="sort_rows_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['sort_rows_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor):
        return _ext.sort_rows_cuda(x)
