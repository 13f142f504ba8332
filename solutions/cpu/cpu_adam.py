"""Reference CPU solution for problem `cpu_adam`: the Adam update in one loop, bias corrections folded into scalars,
the reference's order of operations kept."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>
#include <cmath>
#include <cstdint>

static void check_cpu(const torch::Tensor& t, const char* name, torch::ScalarType dt) {
    TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == dt, name, " must be a CPU tensor of the expected dtype");
}

std::vector<torch::Tensor> adam_cpu(torch::Tensor p, torch::Tensor g, torch::Tensor m, torch::Tensor v,
                                    double lr, double beta1, double beta2, double eps, int64_t step) {
    check_cpu(p, "p", torch::kFloat32); check_cpu(g, "g", torch::kFloat32);
    check_cpu(m, "m", torch::kFloat32); check_cpu(v, "v", torch::kFloat32);
    TORCH_CHECK(p.sizes() == g.sizes() && p.sizes() == m.sizes() && p.sizes() == v.sizes(), "p, g, m, v must match");
    p = p.contiguous(); g = g.contiguous(); m = m.contiguous(); v = v.contiguous();
    auto po = torch::empty_like(p), mo = torch::empty_like(m), vo = torch::empty_like(v);
    const float b1 = (float)beta1, b2 = (float)beta2, ob1 = (float)(1 - beta1), ob2 = (float)(1 - beta2);
    const float bc1 = (float)(1 - std::pow(beta1, (double)step)), bc2 = (float)(1 - std::pow(beta2, (double)step));
    const float lrf = (float)lr, epsf = (float)eps;
    const float *pp = p.data_ptr<float>(), *gp = g.data_ptr<float>(), *mp = m.data_ptr<float>(), *vp = v.data_ptr<float>();
    float *pq = po.data_ptr<float>(), *mq = mo.data_ptr<float>(), *vq = vo.data_ptr<float>();
    for (int64_t i = 0, n = p.numel(); i < n; ++i) {
        const float mn = b1 * mp[i] + ob1 * gp[i];
        const float vn = b2 * vp[i] + ob2 * gp[i] * gp[i];
        mq[i] = mn; vq[i] = vn;
        pq[i] = pp[i] - lrf * (mn / bc1) / (std::sqrt(vn / bc2) + epsf);
    }
    return {po, mo, vo};
}
"""

_ext = load_inline(
    name="cpu_adam_ref_ext",
    cpp_sources=cpp_source,
    functions=['adam_cpu'],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, step: int = 10):
        super().__init__()
        self.lr, self.beta1, self.beta2, self.eps, self.step = lr, beta1, beta2, eps, step

    def forward(self, p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor):
        p_new, m_new, v_new = _ext.adam_cpu(p, g, m, v, self.lr, self.beta1, self.beta2, self.eps, self.step)
        return p_new, m_new, v_new
