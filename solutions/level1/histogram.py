"""Reference CUDA solution for problem `histogram`: privatised histograms: each block counts into its own shared-memory
copy (integer atomics on shared memory are cheap; contention on the few bins near the mode stays inside the SM),
then adds its counts to the global histogram once. The bin of a value is computed exactly as torch.histc does.
Roofline: 256 MB read at 4.8 TB/s, 0.056 ms on an H200."""

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
// Enough blocks to fill the GPU for grid-stride loops.
static inline unsigned fill_blocks(long long work_items, int threads) {
    static int sms = 0;
    if (!sms) {
        int dev = 0;
        C10_CUDA_CHECK(cudaGetDevice(&dev));
        C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    }
    const long long cap = 4LL * sms * (2048 / threads);
    const long long need = (work_items + threads - 1) / threads;
    return (unsigned)(need < cap ? (need > 0 ? need : 1) : cap);
}
__device__ __forceinline__ void hist_one(float v, float mn, float mx, int nbins, unsigned* h) {
    if (v >= mn && v <= mx) {
        int b = (int)((v - mn) * nbins / (mx - mn));
        if (b == nbins) b -= 1;
        atomicAdd(&h[b], 1u);
    }
}
__global__ void hist_kernel(const float* __restrict__ x, long long n, float mn, float mx, int nbins, float* __restrict__ out) {
    extern __shared__ unsigned h[];
    for (int b = threadIdx.x; b < nbins; b += blockDim.x) h[b] = 0u;
    __syncthreads();
    const long long n4 = n / 4, stride = (long long)gridDim.x * blockDim.x;
    const float4* x4 = (const float4*)x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += stride) {
        const float4 v = x4[i];
        hist_one(v.x, mn, mx, nbins, h); hist_one(v.y, mn, mx, nbins, h);
        hist_one(v.z, mn, mx, nbins, h); hist_one(v.w, mn, mx, nbins, h);
    }
    for (long long i = n4 * 4 + blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += stride)
        hist_one(x[i], mn, mx, nbins, h);
    __syncthreads();
    // counts stay below 2^24 per bin here, so float additions of them are exact
    for (int b = threadIdx.x; b < nbins; b += blockDim.x)
        if (h[b]) atomicAdd(&out[b], (float)h[b]);
}

torch::Tensor histc_cuda(torch::Tensor x, int64_t bins, double mn, double mx) {
    x = x.contiguous();
    check_cuda(x, "x", torch::kFloat32);
    TORCH_CHECK(bins > 0 && bins <= 12288, "bins must be in 1..12288 (one shared-memory copy per block)");
    auto out = torch::zeros({bins}, x.options());
    if (x.numel() == 0) return out;
    hist_kernel<<<fill_blocks(x.numel() / 4 + 1, 512), 512, bins * sizeof(unsigned), cur_stream()>>>(
        x.data_ptr<float>(), x.numel(), (float)mn, (float)mx, (int)bins, out.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor histc_cuda(torch::Tensor x, int64_t bins, double mn, double mx);
"""

_ext = load_inline(
    name="histogram_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['histc_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, bins: int):
        super().__init__()
        self.bins = bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.histc_cuda(x, self.bins, -4.0, 4.0)
