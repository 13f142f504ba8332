"""Reference CUDA solution for problem `rotary_embedding`: one pass; each thread owns 4 features of the first half and
their 4 partners in the second half, so every x value is read once and the rotation needs no temporary (eager
slices, negates, concatenates, then multiplies and adds). Roofline: 512 MB at 4.8 TB/s, 0.11 ms on an H200."""

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
// x: [rows, D] with rows = B*H*S; cos/sin: [S, D]. Thread t covers features 4j..4j+3 and half+4j..half+4j+3.
__global__ void rope_vec_kernel(const float* __restrict__ x, const float* __restrict__ cs, const float* __restrict__ sn,
                                float* __restrict__ out, long long rows, int S, int D) {
    const int half = D / 2, q = half / 4;  // float4 groups per half
    const long long total = rows * q;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total; t += (long long)gridDim.x * blockDim.x) {
        const long long r = t / q;
        const int j = (int)(t - r * q) * 4;
        const int s = (int)(r % S);
        const float* xr = x + r * D;
        const float4 a = *(const float4*)(xr + j), b = *(const float4*)(xr + half + j);
        const float4 ca = __ldg((const float4*)(cs + (long long)s * D + j)), cb = __ldg((const float4*)(cs + (long long)s * D + half + j));
        const float4 sa = __ldg((const float4*)(sn + (long long)s * D + j)), sb = __ldg((const float4*)(sn + (long long)s * D + half + j));
        float* o = out + r * D;
        *(float4*)(o + j) = make_float4(a.x * ca.x + (-b.x) * sa.x, a.y * ca.y + (-b.y) * sa.y,
                                        a.z * ca.z + (-b.z) * sa.z, a.w * ca.w + (-b.w) * sa.w);
        *(float4*)(o + half + j) = make_float4(b.x * cb.x + a.x * sb.x, b.y * cb.y + a.y * sb.y,
                                               b.z * cb.z + a.z * sb.z, b.w * cb.w + a.w * sb.w);
    }
}
// Any even D (and odd D, where torch's rotate-half splits at D/2 and concatenates unequal halves).
__global__ void rope_scalar_kernel(const float* __restrict__ x, const float* __restrict__ cs, const float* __restrict__ sn,
                                   float* __restrict__ out, long long rows, int S, int D) {
    const int half = D / 2, hi = D - half;  // rotated = cat(-x[half:], x[:half]): first `hi` entries come from the top
    const long long total = rows * D;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total; t += (long long)gridDim.x * blockDim.x) {
        const long long r = t / D;
        const int i = (int)(t - r * D);
        const int s = (int)(r % S);
        const float* xr = x + r * D;
        const float rot = i < hi ? -xr[half + i] : xr[i - hi];
        out[t] = xr[i] * cs[(long long)s * D + i] + rot * sn[(long long)s * D + i];
    }
}

torch::Tensor rope_cuda(torch::Tensor x, torch::Tensor cs, torch::Tensor sn) {
    x = x.contiguous(); cs = cs.contiguous(); sn = sn.contiguous();
    check_cuda(x, "x", torch::kFloat32); check_cuda(cs, "cos", torch::kFloat32); check_cuda(sn, "sin", torch::kFloat32);
    TORCH_CHECK(x.dim() >= 2, "x must be [..., seq, head_dim]");
    const int D = x.size(-1), S = x.size(-2);
    TORCH_CHECK(cs.numel() == (long long)S * D && sn.numel() == (long long)S * D, "cos/sin must be [seq, head_dim]");
    auto out = torch::empty_like(x);
    const long long rows = x.numel() / D;
    if (D % 8 == 0) {
        rope_vec_kernel<<<fill_blocks(rows * (D / 8), 256), 256, 0, cur_stream()>>>(
            x.data_ptr<float>(), cs.data_ptr<float>(), sn.data_ptr<float>(), out.data_ptr<float>(), rows, S, D);
    } else {
        rope_scalar_kernel<<<fill_blocks(rows * D, 256), 256, 0, cur_stream()>>>(
            x.data_ptr<float>(), cs.data_ptr<float>(), sn.data_ptr<float>(), out.data_ptr<float>(), rows, S, D);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

cpp_source = r"""
torch::Tensor rope_cuda(torch::Tensor x, torch::Tensor cs, torch::Tensor sn);
"""

_ext = load_inline(
    name="rotary_embedding_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['rope_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        return _ext.rope_cuda(x, cos, sin)
