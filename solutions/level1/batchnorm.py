"""Reference CUDA solution for problem `batchnorm`: per-(image, channel) plane statistics (two-pass mean and M2),
merged per channel in double (Chan's formula), then a float4 affine pass."""

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

// Kernel 1: grid (C, N). Mean and sum of squared deviations of one H*W plane.
__global__ void plane_stats_kernel(const float* __restrict__ x, float* __restrict__ pmean, float* __restrict__ pm2,
                                   int C, int HW) {
    __shared__ float sh[32];
    const int c = blockIdx.x, n = blockIdx.y;
    const float* p = x + ((long long)n * C + c) * HW;
    float s = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) s += p[i];
    const float mean = block_sum(s, sh) / HW;
    float q = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) { const float d = p[i] - mean; q += d * d; }
    q = block_sum(q, sh);
    if (threadIdx.x == 0) { pmean[c * gridDim.y + n] = mean; pm2[c * gridDim.y + n] = q; }
}

// Kernel 2: one thread per channel merges its N planes and folds weight/bias into scale/shift.
__global__ void channel_fold_kernel(const float* __restrict__ pmean, const float* __restrict__ pm2,
                                    const float* __restrict__ w, const float* __restrict__ b,
                                    float* __restrict__ scale, float* __restrict__ shift, int C, int N, int HW, float eps) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double mean = 0.0;
    for (int n = 0; n < N; ++n) mean += pmean[c * N + n];
    mean /= N;
    double m2 = 0.0;
    for (int n = 0; n < N; ++n) {
        const double d = pmean[c * N + n] - mean;
        m2 += pm2[c * N + n] + (double)HW * d * d;
    }
    const double var = m2 / ((double)N * HW);
    const float sc = w[c] * (float)(1.0 / sqrt(var + (double)eps));
    scale[c] = sc;
    shift[c] = b[c] - (float)mean * sc;
}

// Kernel 3: y = x * scale[c] + shift[c], float4 along each plane (HW % 4 == 0).
__global__ void affine_kernel(const float4* __restrict__ x, float4* __restrict__ y, const float* __restrict__ scale,
                              const float* __restrict__ shift, int C, int HW4, long long total4) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total4; i += (long long)blockDim.x * gridDim.x) {
        const int c = (int)((i / HW4) % C);
        const float sc = scale[c], sh = shift[c];
        float4 v = x[i];
        v.x = v.x * sc + sh; v.y = v.y * sc + sh; v.z = v.z * sc + sh; v.w = v.w * sc + sh;
        y[i] = v;
    }
}

torch::Tensor batchnorm_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b, double eps) {
    x = x.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(w, "weight"); check_cuda_f32(b, "bias");
    const int N = x.size(0), C = x.size(1);
    const int HW = x.numel() / ((long long)N * C);
    TORCH_CHECK(HW % 4 == 0, "H*W must be a multiple of 4");
    auto opts = x.options();
    auto pmean = torch::empty({C, N}, opts), pm2 = torch::empty({C, N}, opts);
    auto scale = torch::empty({C}, opts), shift = torch::empty({C}, opts);
    auto y = torch::empty_like(x);
    plane_stats_kernel<<<dim3(C, N), 512, 0, cur_stream()>>>(x.data_ptr<float>(), pmean.data_ptr<float>(),
                                                              pm2.data_ptr<float>(), C, HW);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    channel_fold_kernel<<<(C + 127) / 128, 128, 0, cur_stream()>>>(pmean.data_ptr<float>(), pm2.data_ptr<float>(),
        w.data_ptr<float>(), b.data_ptr<float>(), scale.data_ptr<float>(), shift.data_ptr<float>(), C, N, HW, (float)eps);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    const long long total4 = x.numel() / 4;
    const int blocks = (int)std::min<long long>((total4 + 255) / 256, 132LL * 32);
    affine_kernel<<<blocks, 256, 0, cur_stream()>>>(reinterpret_cast<const float4*>(x.data_ptr<float>()),
        reinterpret_cast<float4*>(y.data_ptr<float>()), scale.data_ptr<float>(), shift.data_ptr<float>(), C, HW / 4, total4);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor batchnorm_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b, double eps);
"""

_ext = load_inline(
    name="batchnorm_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["batchnorm_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(num_features))
        self.bias = nn.Parameter(0.1 * torch.randn(num_features))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.batchnorm_cuda(x, self.weight, self.bias, self.eps)
