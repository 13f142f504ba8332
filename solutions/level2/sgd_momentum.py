"""Reference CUDA solution for problem `sgd_momentum`: the whole update in one float4 grid-stride pass: read p, g, buf,
write p and buf (640 MB, 0.13 ms at 4.8 TB/s on an H200); eager runs five kernels and writes three temporaries."""

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
__global__ void sgd_kernel(const float4* __restrict__ p, const float4* __restrict__ g, const float4* __restrict__ buf,
                           float4* __restrict__ p_out, float4* __restrict__ buf_out, long long n4,
                           float lr, float mu, float wd) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
        const float4 pv = p[i], gv = g[i], bv = buf[i];
        float4 b, q;
        b.x = mu * bv.x + (gv.x + wd * pv.x); q.x = pv.x - lr * b.x;
        b.y = mu * bv.y + (gv.y + wd * pv.y); q.y = pv.y - lr * b.y;
        b.z = mu * bv.z + (gv.z + wd * pv.z); q.z = pv.z - lr * b.z;
        b.w = mu * bv.w + (gv.w + wd * pv.w); q.w = pv.w - lr * b.w;
        buf_out[i] = b;
        p_out[i] = q;
    }
}
__global__ void sgd_tail(const float* __restrict__ p, const float* __restrict__ g, const float* __restrict__ buf,
                         float* __restrict__ p_out, float* __restrict__ buf_out, long long from, long long n,
                         float lr, float mu, float wd) {
    const long long i = from + blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) {
        const float b = mu * buf[i] + (g[i] + wd * p[i]);
        buf_out[i] = b;
        p_out[i] = p[i] - lr * b;
    }
}

std::vector<torch::Tensor> sgd_cuda(torch::Tensor p, torch::Tensor g, torch::Tensor buf, double lr, double mu, double wd) {
    p = p.contiguous(); g = g.contiguous(); buf = buf.contiguous();
    check_cuda(p, "p", torch::kFloat32); check_cuda(g, "g", torch::kFloat32); check_cuda(buf, "buf", torch::kFloat32);
    TORCH_CHECK(p.sizes() == g.sizes() && p.sizes() == buf.sizes(), "p, g and buf must have the same shape");
    auto p_out = torch::empty_like(p), buf_out = torch::empty_like(buf);
    const long long n = p.numel(), n4 = n / 4;
    if (n4) sgd_kernel<<<fill_blocks(n4, 256), 256, 0, cur_stream()>>>(
        (const float4*)p.data_ptr<float>(), (const float4*)g.data_ptr<float>(), (const float4*)buf.data_ptr<float>(),
        (float4*)p_out.data_ptr<float>(), (float4*)buf_out.data_ptr<float>(), n4, (float)lr, (float)mu, (float)wd);
    if (n % 4) sgd_tail<<<1, 32, 0, cur_stream()>>>(p.data_ptr<float>(), g.data_ptr<float>(), buf.data_ptr<float>(),
        p_out.data_ptr<float>(), buf_out.data_ptr<float>(), n4 * 4, n, (float)lr, (float)mu, (float)wd);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {p_out, buf_out};
}
"""

cpp_source = r"""
std::vector<torch::Tensor> sgd_cuda(torch::Tensor p, torch::Tensor g, torch::Tensor buf, double lr, double mu, double wd);
"""

_ext = load_inline(
    name="sgd_momentum_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['sgd_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 1e-2):
        super().__init__()
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay

    def forward(self, p: torch.Tensor, g: torch.Tensor, buf: torch.Tensor):
        p_new, buf_new = _ext.sgd_cuda(p, g, buf, self.lr, self.momentum, self.weight_decay)
        return p_new, buf_new
