"""Reference CUDA solution for problem `adam_step`: the whole Adam update in one float4 grid-stride pass (read p, g, m,
v; write p, m, v: 896 MB, 0.19 ms at 4.8 TB/s on an H200). The bias corrections are folded into scalars on the host,
in the same order of operations as the reference."""

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
struct AdamConsts { float b1, one_minus_b1, b2, one_minus_b2, bc1, bc2, lr, eps; };

__device__ __forceinline__ void adam1(float& p, float g, float& m, float& v, const AdamConsts& c) {
    m = c.b1 * m + c.one_minus_b1 * g;
    v = c.b2 * v + c.one_minus_b2 * g * g;
    const float m_hat = m / c.bc1, v_hat = v / c.bc2;
    p = p - c.lr * m_hat / (sqrtf(v_hat) + c.eps);
}

__global__ void adam_kernel(const float4* __restrict__ p, const float4* __restrict__ g, const float4* __restrict__ m,
                            const float4* __restrict__ v, float4* __restrict__ p_out, float4* __restrict__ m_out,
                            float4* __restrict__ v_out, long long n4, AdamConsts c) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
        float4 pv = p[i], mv = m[i], vv = v[i];
        const float4 gv = g[i];
        adam1(pv.x, gv.x, mv.x, vv.x, c);
        adam1(pv.y, gv.y, mv.y, vv.y, c);
        adam1(pv.z, gv.z, mv.z, vv.z, c);
        adam1(pv.w, gv.w, mv.w, vv.w, c);
        p_out[i] = pv; m_out[i] = mv; v_out[i] = vv;
    }
}
__global__ void adam_tail(const float* __restrict__ p, const float* __restrict__ g, const float* __restrict__ m,
                          const float* __restrict__ v, float* __restrict__ p_out, float* __restrict__ m_out,
                          float* __restrict__ v_out, long long from, long long n, AdamConsts c) {
    const long long i = from + blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) {
        float pv = p[i], mv = m[i], vv = v[i];
        adam1(pv, g[i], mv, vv, c);
        p_out[i] = pv; m_out[i] = mv; v_out[i] = vv;
    }
}

std::vector<torch::Tensor> adam_cuda(torch::Tensor p, torch::Tensor g, torch::Tensor m, torch::Tensor v,
                                     double lr, double beta1, double beta2, double eps, int64_t step) {
    p = p.contiguous(); g = g.contiguous(); m = m.contiguous(); v = v.contiguous();
    check_cuda(p, "p", torch::kFloat32); check_cuda(g, "g", torch::kFloat32);
    check_cuda(m, "m", torch::kFloat32); check_cuda(v, "v", torch::kFloat32);
    TORCH_CHECK(p.sizes() == g.sizes() && p.sizes() == m.sizes() && p.sizes() == v.sizes(), "p, g, m, v must match");
    auto p_out = torch::empty_like(p), m_out = torch::empty_like(m), v_out = torch::empty_like(v);
    AdamConsts c{(float)beta1, (float)(1 - beta1), (float)beta2, (float)(1 - beta2),
                 (float)(1 - std::pow(beta1, (double)step)), (float)(1 - std::pow(beta2, (double)step)), (float)lr, (float)eps};
    const long long n = p.numel(), n4 = n / 4;
    if (n4) adam_kernel<<<fill_blocks(n4, 256), 256, 0, cur_stream()>>>(
        (const float4*)p.data_ptr<float>(), (const float4*)g.data_ptr<float>(), (const float4*)m.data_ptr<float>(),
        (const float4*)v.data_ptr<float>(), (float4*)p_out.data_ptr<float>(), (float4*)m_out.data_ptr<float>(),
        (float4*)v_out.data_ptr<float>(), n4, c);
    if (n % 4) adam_tail<<<1, 32, 0, cur_stream()>>>(p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(),
        v.data_ptr<float>(), p_out.data_ptr<float>(), m_out.data_ptr<float>(), v_out.data_ptr<float>(), n4 * 4, n, c);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {p_out, m_out, v_out};
}
"""

cpp_source = r"""
std::vector<torch::Tensor> adam_cuda(torch::Tensor p, torch::Tensor g, torch::Tensor m, torch::Tensor v,
                                     double lr, double beta1, double beta2, double eps, int64_t step);
"""

_ext = load_inline(
    name="adam_step_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=['adam_cuda'],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, step: int = 10):
        super().__init__()
        self.lr, self.beta1, self.beta2, self.eps, self.step = lr, beta1, beta2, eps, step

    def forward(self, p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor):
        p_new, m_new, v_new = _ext.adam_cuda(p, g, m, v, self.lr, self.beta1, self.beta2, self.eps, self.step)
        return p_new, m_new, v_new
