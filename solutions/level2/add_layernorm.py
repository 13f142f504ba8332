"""Reference CUDA solution for problem `add_layernorm`: one block per row: x + residual is formed once into
shared memory, then mean, variance and the affine output."""

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

__device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}
// Sum over the whole block; every thread gets the result. `sh` holds at least 32 floats.
__device__ float block_sum(float v, float* sh) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float w = lane < nw ? sh[lane] : 0.f;
        w = warp_sum(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}
__device__ float block_max(float v, float* sh) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float w = lane < nw ? sh[lane] : -FLT_MAX;
        w = warp_max(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}

// One block per row: v = x (+ res); y = (v - mean) / sqrt(var + eps) * w + b. The row is kept in shared memory.
__global__ void layernorm_rows_kernel(const float* __restrict__ x, const float* __restrict__ res,
                                      const float* __restrict__ w, const float* __restrict__ b,
                                      float* __restrict__ y, int D, float eps) {
    extern __shared__ float rowbuf[];
    __shared__ float sh[32];
    const long long base = (long long)blockIdx.x * D;
    float s = 0.f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        float v = x[base + i];
        if (res != nullptr) v += res[base + i];
        rowbuf[i] = v;
        s += v;
    }
    const float mean = block_sum(s, sh) / D;
    float q = 0.f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        const float d = rowbuf[i] - mean;
        q += d * d;
    }
    const float rstd = rsqrtf(block_sum(q, sh) / D + eps);
    for (int i = threadIdx.x; i < D; i += blockDim.x)
        y[base + i] = (rowbuf[i] - mean) * rstd * w[i] + b[i];
}

static void launch_layernorm(const float* x, const float* res, const float* w, const float* b, float* y,
                             long long rows, int D, float eps) {
    TORCH_CHECK(D <= 12288, "layernorm kernel keeps a row in 48 KB of shared memory: D <= 12288");
    layernorm_rows_kernel<<<(unsigned)rows, 512, D * sizeof(float), cur_stream()>>>(x, res, w, b, y, D, eps);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}

torch::Tensor add_layernorm_cuda(torch::Tensor x, torch::Tensor r, torch::Tensor w, torch::Tensor b, double eps) {
    x = x.contiguous(); r = r.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(r, "residual"); check_cuda_f32(w, "weight"); check_cuda_f32(b, "bias");
    auto y = torch::empty_like(x);
    const int D = x.size(-1);
    launch_layernorm(x.data_ptr<float>(), r.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
                     y.data_ptr<float>(), x.numel() / D, D, (float)eps);
    return y;
}
"""

cpp_source = r"""
torch::Tensor add_layernorm_cuda(torch::Tensor x, torch::Tensor r, torch::Tensor w, torch::Tensor b, double eps);
"""

_ext = load_inline(
    name="add_layernorm_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["add_layernorm_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(hidden))
        self.bias = nn.Parameter(0.1 * torch.randn(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return _ext.add_layernorm_cuda(x, residual, self.weight, self.bias, self.eps)
