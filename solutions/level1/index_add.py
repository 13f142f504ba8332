"""Reference CUDA solution for problem `index_add`: one block per group of source rows; each thread adds 4 consecutive
features of a row into its segment with one vector atomic (atomicAdd on float4, sm_90), so the atomics traffic is a
quarter of the scalar version's. Roofline: about 260 MB at 4.8 TB/s, 0.055 ms on an H200; atomics to the 4 MB output
stay in L2."""

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
__global__ void index_add_kernel(const float* __restrict__ src, const long long* __restrict__ index, float* __restrict__ out,
                                 long long rows, int E, int segments) {
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const long long s = index[r];
        if (s < 0 || s >= segments) continue;  // torch raises; the comparison reports the missing contribution
        const float* a = src + r * E;
        float* o = out + s * E;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
        if ((E % 4) == 0) {
            for (int j = threadIdx.x; j < E / 4; j += blockDim.x) atomicAdd((float4*)o + j, __ldg((const float4*)a + j));
            continue;
        }
#endif
        for (int j = threadIdx.x; j < E; j += blockDim.x) atomicAdd(o + j, __ldg(a + j));
    }
}

torch::Tensor index_add_cuda(torch::Tensor src, torch::Tensor index, int64_t segments) {
    src = src.contiguous(); index = index.contiguous();
    check_cuda(src, "src", torch::kFloat32); check_cuda(index, "index", torch::kInt64);
    TORCH_CHECK(src.dim() == 2 && index.dim() == 1 && index.size(0) == src.size(0), "src [rows, dim], index [rows]");
    const int E = src.size(1);
    auto out = torch::zeros({segments, (long long)E}, src.options());
    const long long rows = src.size(0);
    if (rows == 0 || E == 0) return out;
    const int threads = E / 4 >= 64 ? 64 : 32;
    const unsigned blocks = (unsigned)(rows < 1048576 ? rows : 1048576);
    index_add_kernel<<<blocks, threads, 0, cur_stream()>>>(src.data_ptr<float>(), (const long long*)index.data_ptr<int64_t>(),
                                                           out.data_ptr<float>(), rows, E, (int)segments);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor index_add_cuda(torch::Tensor src, torch::Tensor index, int64_t segments);
"""

_ext = load_inline(
    name="index_add_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['index_add_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, num_segments: int):
        super().__init__()
        self.num_segments = num_segments

    def forward(self, src: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return _ext.index_add_cuda(src, index, self.num_segments)
