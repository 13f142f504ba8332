"""Reference CUDA solution for problem `causal_conv1d`: one pass: each thread produces 4 consecutive outputs of one
channel from a float4 load of its inputs plus the K-1 preceding values (already in L1 from the neighbouring thread),
with the channel's taps and bias from the read-only cache; no padded copy, no slice. Roofline: 512 MB at 4.8 TB/s,
0.11 ms on an H200."""

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
#define CC_MAXK 8
__global__ void causal_dw_vec_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                                     float* __restrict__ y, long long rows, int C, int L, int K) {
    const int L4 = L / 4;
    const long long total = rows * L4;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total; t += (long long)gridDim.x * blockDim.x) {
        const long long r = t / L4;
        const int l0 = (int)(t - r * L4) * 4, c = (int)(r % C);
        const float* xr = x + r * L;
        // win[CC_MAXK - 1 + p - d] = x[l0 + p - d]: fixed indices after unrolling, so it stays in registers
        float win[CC_MAXK + 3];
        #pragma unroll
        for (int j = 0; j < CC_MAXK - 1; ++j) {
            const int l = l0 - (CC_MAXK - 1) + j;
            win[j] = (l >= 0 && j >= CC_MAXK - K) ? __ldg(xr + l) : 0.f;
        }
        const float4 cur = *(const float4*)(xr + l0);
        win[CC_MAXK - 1] = cur.x; win[CC_MAXK] = cur.y; win[CC_MAXK + 1] = cur.z; win[CC_MAXK + 2] = cur.w;
        const float b = __ldg(bias + c);
        float o[4] = {b, b, b, b};
        #pragma unroll
        for (int d = CC_MAXK - 1; d >= 0; --d) {   // tap K-1-d multiplies x[l - d]; oldest first, as the reference sums
            if (d < K) {
                const float wk = __ldg(w + (long long)c * K + (K - 1 - d));
                #pragma unroll
                for (int p = 0; p < 4; ++p) o[p] = fmaf(wk, win[CC_MAXK - 1 + p - d], o[p]);
            }
        }
        *(float4*)(y + r * L + l0) = make_float4(o[0], o[1], o[2], o[3]);
    }
}
__global__ void causal_dw_scalar_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                                        float* __restrict__ y, long long rows, int C, int L, int K) {
    const long long total = rows * L;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total; t += (long long)gridDim.x * blockDim.x) {
        const long long r = t / L;
        const int l = (int)(t - r * L), c = (int)(r % C);
        float o = bias[c];
        for (int k = 0; k < K; ++k) {
            const int src = l - (K - 1) + k;
            if (src >= 0) o = fmaf(w[(long long)c * K + k], x[r * L + src], o);
        }
        y[t] = o;
    }
}

torch::Tensor causal_dw_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor bias) {
    x = x.contiguous(); w = w.contiguous(); bias = bias.contiguous();
    check_cuda(x, "x", torch::kFloat32); check_cuda(w, "weight", torch::kFloat32); check_cuda(bias, "bias", torch::kFloat32);
    TORCH_CHECK(x.dim() == 3 && w.size(0) == x.size(1) && w.size(1) == 1, "x [B, C, L], weight [C, 1, K]");
    const int C = x.size(1), L = x.size(2), K = w.size(2);
    TORCH_CHECK(K >= 1 && K <= CC_MAXK, "kernel sizes up to ", CC_MAXK);
    auto y = torch::empty_like(x);
    const long long rows = (long long)x.size(0) * C;
    if (x.numel() == 0) return y;
    if (L % 4 == 0)
        causal_dw_vec_kernel<<<fill_blocks(rows * (L / 4), 256), 256, 0, cur_stream()>>>(
            x.data_ptr<float>(), w.data_ptr<float>(), bias.data_ptr<float>(), y.data_ptr<float>(), rows, C, L, K);
    else
        causal_dw_scalar_kernel<<<fill_blocks(rows * L, 256), 256, 0, cur_stream()>>>(
            x.data_ptr<float>(), w.data_ptr<float>(), bias.data_ptr<float>(), y.data_ptr<float>(), rows, C, L, K);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor causal_dw_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor bias);
"""

_ext = load_inline(
    name="causal_conv1d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['causal_dw_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, padding=kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.causal_dw_cuda(x, self.conv.weight, self.conv.bias)
